# Prints, as one JSON object, the facts about this interpreter that decide which wheels it can
# load, its PEP 508 environment marker values and its real executable. cairn runs it once per
# interpreter binary and caches the answer; the tags themselves are derived from these facts in
# Rust, so improving that derivation never needs a re-query.
# Runs on any Python 3 and imports only the standard library. cairn runs it with `-I -S`; it
# avoids `json` (which imports `re`) and imports `subprocess` only where needed, because on a
# cold cache the interpreter's start-up is on the critical path of an install.
import os
import platform
import struct
import sys
import sysconfig
from importlib.machinery import EXTENSION_SUFFIXES


def glibc_version():
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, OSError, ValueError):
        text = None
    if text:
        parts = text.split()
        if len(parts) == 2 and parts[0] == "glibc":
            return parts[1]
    return None


def elf_interpreter(path):
    """The dynamic loader named by an ELF executable's PT_INTERP header, or None."""
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return None
            is_64 = ident[4] == 2
            order = "<" if ident[5] == 1 else ">"
            if is_64:
                f.seek(32)
                (phoff,) = struct.unpack(order + "Q", f.read(8))
                f.seek(54)
            else:
                f.seek(28)
                (phoff,) = struct.unpack(order + "I", f.read(4))
                f.seek(42)
            phentsize, phnum = struct.unpack(order + "HH", f.read(4))
            for index in range(phnum):
                f.seek(phoff + index * phentsize)
                if is_64:
                    p_type, _, offset, _, _, size = struct.unpack(order + "IIQQQQ", f.read(40))
                else:
                    p_type, offset, _, _, size = struct.unpack(order + "IIIII", f.read(20))
                if p_type == 3:  # PT_INTERP
                    f.seek(offset)
                    return f.read(size).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None


def musl_version():
    """musl's loader prints its version when run without arguments."""
    loader = elf_interpreter(sys.executable)
    if not loader or "musl" not in loader:
        return None
    import subprocess

    try:
        out = subprocess.run([loader], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError:
        return None
    for line in out.stderr.decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "Version":
            return words[1]
    return None


def macos_version():
    if sys.platform != "darwin":
        return None
    version = platform.mac_ver()[0]
    if version.startswith("10.16"):
        # Built against an old SDK, Python reports 10.16 for every later macOS; ask without
        # the compatibility shim.
        import subprocess

        try:
            version = subprocess.run(
                [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
                env={"SYSTEM_VERSION_COMPAT": "0"},
                stdout=subprocess.PIPE,
                check=True,
            ).stdout.decode().strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return version or None


def config_int(name):
    value = sysconfig.get_config_var(name)
    return value if isinstance(value, int) else None


def config_text(name):
    value = sysconfig.get_config_var(name)
    return None if value is None else str(value)


def json_string(text):
    """A JSON string literal: printable ASCII as is, everything else escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0x20 <= code < 0x7F and ch not in '"\\':
            out.append(ch)
        elif code < 0x10000:
            out.append("\\u%04x" % code)
        else:  # a surrogate pair, as JSON spells characters beyond the BMP
            code -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
    return '"' + "".join(out) + '"'


def to_json(value):
    """JSON text of the str/int/bool/None/list/dict values printed below."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return "{" + ",".join(json_string(k) + ":" + to_json(v) for k, v in value.items()) + "}"


def pep440(info):
    """`sys.implementation.version` as PEP 440 text: `3.12.4`, `3.14.0a1`."""
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def markers():
    """The PEP 508 environment marker values, as pip computes them."""
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": pep440(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


PREFIX_PLACEHOLDER = "@CAIRN_PREFIX@"


def venv_prefix():
    """The virtual environment this interpreter belongs to (PEP 405: a `pyvenv.cfg` beside the
    executable or one directory up), found as `site` would; the script runs with `-S`, so
    `sys.prefix` is still the base interpreter's."""
    if not sys.executable:
        return None
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    prefix = os.path.dirname(exe_dir)
    for directory in (exe_dir, prefix):
        if os.path.isfile(os.path.join(directory, "pyvenv.cfg")):
            return prefix
    return None


def scheme(venv):
    """Where an install into this interpreter's environment puts each kind of file: its default
    sysconfig scheme (the `venv` scheme in a virtual environment), with pip's headers
    directory for virtual environments."""
    if venv is None:
        paths = sysconfig.get_paths()
    else:
        names = sysconfig.get_scheme_names()
        name = "venv" if "venv" in names else ("nt" if os.name == "nt" else "posix_prefix")
        paths = sysconfig.get_paths(name, vars={"base": venv, "platbase": venv})
    include = paths["include"]
    if venv is not None:
        # sysconfig's include is the base interpreter's; pip and uv put a venv's headers here.
        include = os.path.join(venv, "include", "site", "python%d.%d" % sys.version_info[:2])
    return scheme_paths(paths, include)


def prefix_scheme():
    """The scheme of `pip install --prefix DIR`: `posix_prefix` (or `nt`) with DIR as its base,
    spelled with the placeholder PREFIX_PLACEHOLDER for DIR."""
    name = "nt" if os.name == "nt" else "posix_prefix"
    base = PREFIX_PLACEHOLDER
    names = ("base", "platbase", "installed_base", "installed_platbase")
    paths = sysconfig.get_paths(name, vars=dict.fromkeys(names, base))
    return scheme_paths(paths, paths["include"])


def scheme_paths(paths, include):
    return {
        "purelib": paths["purelib"],
        "platlib": paths["platlib"],
        "scripts": paths["scripts"],
        "data": paths["data"],
        "include": include,
    }


glibc = glibc_version() if sys.platform.startswith("linux") else None
venv = venv_prefix()
print(to_json({
    "executable": os.path.realpath(sys.executable) if sys.executable else None,
    "sys_executable": sys.executable or None,
    "prefix": venv or sys.prefix,
    "base_prefix": sys.base_prefix,
    "stdlib": sysconfig.get_path("stdlib"),
    "scheme": scheme(venv),
    "prefix_scheme": prefix_scheme(),
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "py_version_nodot": config_text("py_version_nodot"),
    "sysconfig_platform": sysconfig.get_platform(),
    "system": platform.system(),
    "machine": platform.machine(),
    "pointer_bits": struct.calcsize("P") * 8,
    "soabi": config_text("SOABI"),
    "ext_suffix": config_text("EXT_SUFFIX"),
    "py_debug": config_int("Py_DEBUG"),
    "has_refcount": hasattr(sys, "gettotalrefcount"),
    "debug_extension": "_d.pyd" in EXTENSION_SUFFIXES,
    "gil_disabled": bool(config_int("Py_GIL_DISABLED")),
    "glibc": glibc,
    "musl": musl_version() if sys.platform.startswith("linux") and not glibc else None,
    "macos": macos_version(),
    "markers": markers(),
}))

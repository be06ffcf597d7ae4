"""Regenerates the golden tag lists in this directory from the `packaging` library.

Run with packaging 26.3 importable, e.g.:
    pip install --target /tmp/pkg packaging==26.3 && PYTHONPATH=/tmp/pkg python3 capture.py
`sys_tags-*.txt` is the live `sys_tags()` of the machine that ran it (its name says which one);
the others emulate a platform by replacing packaging's probes of the running system.
"""
import sysconfig

import packaging
import packaging._manylinux as manylinux
import packaging._musllinux as musllinux
import packaging.tags as tags

HEADER = "# packaging {}: cpython_tags + compatible_tags for CPython {} on {} (see tags_golden.rs)\n"


def target(version, platforms):
    interpreter = "cp%d%d" % version
    return [str(tag) for tag in tags.cpython_tags(version, [interpreter], platforms)] + [
        str(tag) for tag in tags.compatible_tags(version, interpreter, platforms)
    ]


def write(name, version, platforms, description):
    with open(name, "w") as out:
        out.write(HEADER.format(packaging.__version__, "%d.%d" % version, description))
        out.write("\n".join(target(version, platforms)) + "\n")


write("cp312-macosx_14_0_arm64.txt", (3, 12), list(tags.mac_platforms((14, 0), "arm64")),
      "macOS 14.0 arm64")
write("cp39-macosx_10_15_x86_64.txt", (3, 9), list(tags.mac_platforms((10, 15), "x86_64")),
      "macOS 10.15 x86_64")
write("cp313-win_amd64.txt", (3, 13), ["win_amd64"], "win_amd64")

live = [str(tag) for tag in tags.sys_tags()]

manylinux._get_glibc_version = lambda: (2, 28)
manylinux._have_compatible_abi = lambda executable, archs: True
musllinux._get_musl_version = lambda executable: None
sysconfig.get_platform = lambda: "linux-aarch64"
write("cp312-manylinux_2_28_aarch64.txt", (3, 12), list(tags._linux_platforms(False)),
      "glibc 2.28 aarch64")

manylinux._have_compatible_abi = lambda executable, archs: False
musllinux._get_musl_version = lambda executable: musllinux._MuslVersion(1, 2)
sysconfig.get_platform = lambda: "linux-x86_64"
write("cp312-musllinux_1_2_x86_64.txt", (3, 12), list(tags._linux_platforms(False)),
      "musl 1.2 x86_64")

print("\n".join(live))

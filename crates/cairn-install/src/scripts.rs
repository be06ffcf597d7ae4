//! Executables in `bin`: launchers for entry points, and the `#!python` fix-up of scripts that
//! wheels ship in `.data/scripts`.

use std::path::Path;

use super::entry_points::ScriptEntryPoint;

/// The longest `#!` line that every Unix kernel still honours in full (older Linux kernels read
/// 128 bytes, the final newline included).
const MAX_SHEBANG: usize = 127;

/// The first line(s) that make a script run with `python`.
///
/// A plain `#!<python>` when the kernel can read it. A path with whitespace or too long for the
/// kernel goes through `/bin/sh` instead: the second line is a shell `exec` of the interpreter
/// on the script, and for Python the same two lines are a harmless string expression.
pub(crate) fn shebang(python: &Path) -> Vec<u8> {
    let path = python.as_os_str().as_encoded_bytes();
    // `#!`, the path and the newline.
    let plain_fits = 2 + path.len() < MAX_SHEBANG;
    if plain_fits && !path.iter().any(u8::is_ascii_whitespace) {
        let mut line = Vec::with_capacity(path.len() + 3);
        line.extend_from_slice(b"#!");
        line.extend_from_slice(path);
        line.push(b'\n');
        return line;
    }
    let mut lines = b"#!/bin/sh\n'''exec' \"".to_vec();
    for &byte in path {
        // Inside shell double quotes only these four keep a meaning.
        if matches!(byte, b'"' | b'\\' | b'$' | b'`') {
            lines.push(b'\\');
        }
        lines.push(byte);
    }
    lines.extend_from_slice(b"\" \"$0\" \"$@\"\n' '''\n");
    lines
}

/// The launcher for an entry point: import the callable, call it, exit with its result.
///
/// `argv[0]` loses a `-script.py(w)` or `.exe` suffix, which Windows launchers add, so that
/// programs that print their own name print the script's.
pub(crate) fn launcher(shebang: &[u8], entry: &ScriptEntryPoint) -> Vec<u8> {
    let import_name = entry
        .attr
        .split_once('.')
        .map_or(entry.attr.as_str(), |(first, _)| first);
    let body = format!(
        "# -*- coding: utf-8 -*-\n\
         import re\n\
         import sys\n\
         from {module} import {import_name}\n\
         if __name__ == '__main__':\n    \
         sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    \
         sys.exit({attr}())\n",
        module = entry.module,
        attr = entry.attr,
    );
    let mut script = Vec::with_capacity(shebang.len() + body.len());
    script.extend_from_slice(shebang);
    script.extend_from_slice(body.as_bytes());
    script
}

/// The console or GUI script that the `.data/scripts` file `file_name` is a wrapper of, if it is
/// one: the file is named like the entry point, or like one of the Windows wrappers setuptools
/// writes for it (`NAME.exe`, `NAME-script.py`, `NAME-script.pyw`, `NAME.pya`; the suffix in
/// any case). `is_entry_point` says whether a name is one of the wheel's script entry points.
///
/// The installer generates the entry point's launcher itself, so such a file is left out, as
/// pip leaves it out: on POSIX the Windows wrappers could not run, and a file with the script's
/// own name would collide with the launcher. pip compares `-script.py`, `.exe` and `.pya`;
/// `-script.pyw` (the wrapper of a GUI script) is left out here too, where pip installs it.
pub(crate) fn wrapped_entry_point(
    file_name: &str,
    is_entry_point: impl Fn(&str) -> bool,
) -> Option<&str> {
    let stem = ["-script.pyw", "-script.py", ".exe", ".pya"]
        .into_iter()
        .find_map(|suffix| {
            let split = file_name.len().checked_sub(suffix.len())?;
            file_name
                .get(split..)
                .filter(|end| end.eq_ignore_ascii_case(suffix))
                .and_then(|_| file_name.get(..split))
        })
        .unwrap_or(file_name);
    is_entry_point(stem).then_some(stem)
}

/// `content` with a first line of `#!python` or `#!pythonw` (optionally followed by
/// interpreter arguments) replaced by `shebang`; `None` when the first line is anything else,
/// which wheels use for shell scripts and binaries that must not change.
///
/// Arguments survive in the plain form; the `/bin/sh` form drops them, because they would be
/// spliced into a shell command.
pub(crate) fn rewrite_python_shebang(content: &[u8], shebang: &[u8]) -> Option<Vec<u8>> {
    let rest = content.strip_prefix(b"#!python")?;
    let rest = rest.strip_prefix(b"w").unwrap_or(rest);
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let mut arguments = &rest[..line_end];
    if let Some(stripped) = arguments.strip_suffix(b"\r") {
        arguments = stripped;
    }
    if arguments
        .first()
        .is_some_and(|b| !matches!(b, b' ' | b'\t'))
    {
        // `#!python3`, `#!pythonista`: not the marker wheels use.
        return None;
    }
    let body = rest.get(line_end + 1..).unwrap_or_default();
    let mut script = Vec::with_capacity(shebang.len() + arguments.len() + body.len());
    let plain = !shebang.starts_with(b"#!/bin/sh\n'''exec'");
    if plain && !arguments.is_empty() {
        script.extend_from_slice(&shebang[..shebang.len() - 1]);
        script.extend_from_slice(arguments);
        script.push(b'\n');
    } else {
        script.extend_from_slice(shebang);
    }
    script.extend_from_slice(body);
    Some(script)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_get_a_plain_shebang() {
        assert_eq!(
            shebang(Path::new("/usr/bin/python3")),
            b"#!/usr/bin/python3\n"
        );
    }

    #[test]
    fn spaces_and_long_paths_go_through_sh() {
        let with_space = shebang(Path::new("/opt/my env/bin/python"));
        assert_eq!(
            String::from_utf8(with_space).unwrap(),
            "#!/bin/sh\n'''exec' \"/opt/my env/bin/python\" \"$0\" \"$@\"\n' '''\n"
        );
        let long = format!("/{}/python", "d".repeat(130));
        assert!(shebang(Path::new(&long)).starts_with(b"#!/bin/sh\n"));
        let odd = shebang(Path::new("/a $b/\"c\"/py"));
        assert!(
            String::from_utf8(odd)
                .unwrap()
                .contains("\"/a \\$b/\\\"c\\\"/py\"")
        );
    }

    #[test]
    fn launcher_imports_the_first_attribute_and_calls_the_whole_path() {
        let entry = ScriptEntryPoint {
            name: "tool".into(),
            module: "pkg.cli".into(),
            attr: "App.run".into(),
            gui: false,
        };
        let text = String::from_utf8(launcher(b"#!/py\n", &entry)).unwrap();
        assert!(text.starts_with("#!/py\n# -*- coding: utf-8 -*-\n"));
        assert!(text.contains("from pkg.cli import App\n"));
        assert!(text.ends_with("    sys.exit(App.run())\n"));
    }

    #[test]
    fn setuptools_wrappers_of_entry_points_are_recognised() {
        let names = ["t1", "gui"];
        let wrapped = |name| wrapped_entry_point(name, |stem| names.contains(&stem));
        for (file, script) in [
            ("t1", "t1"),
            ("t1.exe", "t1"),
            ("t1.EXE", "t1"),
            ("t1-script.py", "t1"),
            ("t1-Script.PY", "t1"),
            ("gui-script.pyw", "gui"),
            ("gui.exe", "gui"),
            ("t1.pya", "t1"),
        ] {
            assert_eq!(wrapped(file), Some(script), "{file}");
        }
        for file in [
            "other",
            "other.exe",
            "t1.sh",
            "t1-script.pyc",
            "T1",
            "t1.exe.exe",
            "é.exe",
        ] {
            assert_eq!(wrapped(file), None, "{file}");
        }
    }

    #[test]
    fn only_the_python_marker_is_rewritten() {
        let plain = b"#!/usr/bin/python3\n";
        assert_eq!(
            rewrite_python_shebang(b"#!python\nprint(1)\n", plain).unwrap(),
            b"#!/usr/bin/python3\nprint(1)\n"
        );
        assert_eq!(
            rewrite_python_shebang(b"#!pythonw -u\r\nprint(1)\r\n", plain).unwrap(),
            b"#!/usr/bin/python3 -u\nprint(1)\r\n"
        );
        assert_eq!(rewrite_python_shebang(b"#!python", plain).unwrap(), plain);
        assert!(rewrite_python_shebang(b"#!/bin/sh\necho\n", plain).is_none());
        assert!(rewrite_python_shebang(b"#!python3\n", plain).is_none());
        assert!(rewrite_python_shebang(b"\x7fELF", plain).is_none());
        let sh = shebang(Path::new("/a b/python"));
        let rewritten = rewrite_python_shebang(b"#!python -u; rm x\nprint(1)\n", &sh).unwrap();
        assert_eq!(rewritten, [sh.as_slice(), b"print(1)\n"].concat());
    }
}

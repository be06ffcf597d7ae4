//! `entry_points.txt`: the `[console_scripts]` and `[gui_scripts]` a wheel asks to have
//! generated as executables.
//!
//! The file is INI-like: `[section]` headers, `name = value` lines, `#` and `;` comments. Only
//! the two script sections are read; other groups (plugins, `[pkg_config]`, ...) are metadata
//! for other tools and pass through untouched, whatever their syntax.

/// A script to generate in `bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptEntryPoint {
    /// The file name in `bin`.
    pub(crate) name: String,
    /// The dotted module to import.
    pub(crate) module: String,
    /// The dotted attribute path of the callable inside `module`.
    pub(crate) attr: String,
    /// Declared under `[gui_scripts]`.
    pub(crate) gui: bool,
}

/// A script entry point that cannot be turned into a safe launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPointError {
    /// 1-based line in `entry_points.txt`.
    pub(crate) line: usize,
    /// The line as written.
    pub(crate) text: String,
    pub(crate) problem: &'static str,
}

/// The script entry points of `text`, in file order.
pub(crate) fn parse_scripts(text: &str) -> Result<Vec<ScriptEntryPoint>, EntryPointError> {
    let mut scripts = Vec::new();
    let mut gui = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            gui = match section.trim() {
                "console_scripts" => Some(false),
                "gui_scripts" => Some(true),
                _ => None,
            };
            continue;
        }
        let Some(gui) = gui else { continue };
        let error = |problem| EntryPointError {
            line: index + 1,
            text: raw.to_owned(),
            problem,
        };
        scripts.push(parse_line(line, gui).map_err(error)?);
    }
    Ok(scripts)
}

fn parse_line(line: &str, gui: bool) -> Result<ScriptEntryPoint, &'static str> {
    let (name, value) = line
        .split_once('=')
        .ok_or("it is not `name = module:function`")?;
    let name = name.trim();
    check_script_name(name)?;
    // Extras (`module:attr [extra1, extra2]`) only matter to resolvers.
    let target = value
        .split_once('[')
        .map_or(value, |(target, _)| target)
        .trim();
    let (module, attr) = target
        .split_once(':')
        .ok_or("it names a module but no function (`module:function`)")?;
    let (module, attr) = (module.trim(), attr.trim());
    if !is_dotted_identifier(module) {
        return Err("its module is not a dotted Python identifier");
    }
    if !is_dotted_identifier(attr) {
        return Err("its function is not a dotted Python identifier");
    }
    Ok(ScriptEntryPoint {
        name: name.to_owned(),
        module: module.to_owned(),
        attr: attr.to_owned(),
        gui,
    })
}

/// A script name becomes one file name directly inside `bin`.
fn check_script_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("its script name is empty");
    }
    if name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err("its script name would write outside `bin`");
    }
    if name.chars().any(char::is_control) {
        return Err("its script name contains a control character");
    }
    Ok(())
}

/// `a.b.c` where each part is a Python identifier (letters, digits and `_`, not starting with a
/// digit). Non-ASCII letters are allowed, as in Python.
fn is_dotted_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|first| first == '_' || first.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_sections_and_skips_others() {
        let text = "\
[torchrun.logs_specs]
default = torch.distributed:DefaultLogsSpecs
[pyinstaller40]
hook-dirs = numpy:_pyinstaller_hooks_dir
weird line without equals

[console_scripts]
# comment
black = black:patched_main
blackd = blackd:patched_main [d]
tool=pkg.cli : App.run

[gui_scripts]
viewer = pkg.gui:main
";
        let scripts = parse_scripts(text).unwrap();
        let summary: Vec<_> = scripts
            .iter()
            .map(|s| (s.name.as_str(), s.module.as_str(), s.attr.as_str(), s.gui))
            .collect();
        assert_eq!(
            summary,
            [
                ("black", "black", "patched_main", false),
                ("blackd", "blackd", "patched_main", false),
                ("tool", "pkg.cli", "App.run", false),
                ("viewer", "pkg.gui", "main", true),
            ]
        );
    }

    #[test]
    fn unsafe_or_invalid_entries_are_refused_with_their_line() {
        for (line, problem) in [
            ("../evil = pkg:main", "outside `bin`"),
            ("a/b = pkg:main", "outside `bin`"),
            (".. = pkg:main", "outside `bin`"),
            (" = pkg:main", "empty"),
            ("x = os; import evil:main", "module"),
            ("x = pkg:main()", "function"),
            ("x = pkg", "no function"),
            ("x = 1pkg:main", "module"),
            ("x = pkg:", "function"),
            ("no equals sign", "not `name"),
        ] {
            let text = format!("[console_scripts]\nok = pkg:main\n{line}\n");
            let error = parse_scripts(&text).unwrap_err();
            assert_eq!(error.line, 3, "{line}");
            assert!(error.problem.contains(problem), "{line}: {}", error.problem);
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_dotted_identifier("a._b.c9"));
        assert!(is_dotted_identifier("café"));
        assert!(!is_dotted_identifier("a..b"));
        assert!(!is_dotted_identifier("a-b"));
        assert!(!is_dotted_identifier(""));
    }
}

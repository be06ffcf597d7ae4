//! The pip options of a requirements file line, and where the requirement ends.
//!
//! As in pip, a line is a requirement followed by per-requirement options (`--hash`), or only
//! options. The options start at the first word that begins with `-` (outside quotes, which
//! only occur in markers).

use super::error::LineProblem;

/// Whether an included file adds requirements or constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IncludeKind {
    /// `-r`: its requirements are installed.
    Requirements,
    /// `-c`: its lines only restrict the versions of requirements listed elsewhere.
    Constraints,
}

/// One option of a line, with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LineOption {
    /// `-r FILE` or `-c FILE`.
    Include(IncludeKind, String),
    /// `-i URL`.
    IndexUrl(String),
    /// `--extra-index-url URL`.
    ExtraIndexUrl(String),
    /// `-f URL-OR-PATH`.
    FindLinks(String),
    /// `--no-index`.
    NoIndex,
    /// `--require-hashes`.
    RequireHashes,
    /// `--hash ALGORITHM:HEX`, for the requirement on the line.
    Hash(String),
    /// An option that does not change what cairn installs (`--pre`, `--only-binary`, ...).
    Ignored(String),
}

/// A line split into its requirement text, if any, and its options.
#[derive(Debug)]
pub(super) struct SplitLine<'a> {
    /// The requirement (PEP 508, or a wheel path or URL), trimmed.
    pub(super) requirement: Option<&'a str>,
    /// The options, in order.
    pub(super) options: Vec<LineOption>,
}

/// Splits `line` (a logical line without its comment) and parses its options.
pub(super) fn split_line(line: &str) -> Result<SplitLine<'_>, LineProblem> {
    let options_start = options_start(line);
    let requirement = line[..options_start].trim();
    let words = shell_words(&line[options_start..]);
    let mut options = Vec::new();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        options.push(parse_option(&word, &mut words)?);
    }
    let requirement = (!requirement.is_empty()).then_some(requirement);
    if let Some(problem) = misplaced_option(requirement.is_some(), &options) {
        return Err(problem);
    }
    Ok(SplitLine {
        requirement,
        options,
    })
}

/// The byte offset of the first word that starts with `-` outside quotes, or the line length.
fn options_start(line: &str) -> usize {
    let mut quote = None;
    let mut previous_is_space = true;
    for (index, c) in line.char_indices() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '-' && previous_is_space => return index,
            None => {}
        }
        previous_is_space = c.is_whitespace();
    }
    line.len()
}

/// Splits on whitespace; single or double quotes group words and are removed.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// What an option takes and means.
#[derive(Clone, Copy)]
enum Spec {
    /// Takes a value.
    Value(fn(String) -> Result<LineOption, Refusal>),
    /// A flag.
    Flag(Flag),
}

/// Why an option is refused (the option itself is added by [`parse_option`]).
type Refusal = &'static str;

/// What a flag means (a type of its own because [`LineOption`] holds strings).
#[derive(Clone, Copy)]
enum Flag {
    NoIndex,
    RequireHashes,
    Ignored,
}

/// Looks up an option by its long name (without `--`).
fn long_spec(name: &str) -> Option<Spec> {
    Some(match name {
        "requirement" => Spec::Value(|v| Ok(LineOption::Include(IncludeKind::Requirements, v))),
        "constraint" => Spec::Value(|v| Ok(LineOption::Include(IncludeKind::Constraints, v))),
        "index-url" => Spec::Value(|v| Ok(LineOption::IndexUrl(v))),
        "extra-index-url" => Spec::Value(|v| Ok(LineOption::ExtraIndexUrl(v))),
        "find-links" => Spec::Value(|v| Ok(LineOption::FindLinks(v))),
        "hash" => Spec::Value(|v| Ok(LineOption::Hash(v))),
        "no-index" => Spec::Flag(Flag::NoIndex),
        "require-hashes" => Spec::Flag(Flag::RequireHashes),
        "pre" | "prefer-binary" => Spec::Flag(Flag::Ignored),
        // cairn installs wheels only, so "binaries only" is what it does anyway; trusted hosts
        // would relax TLS checks, which cairn keeps.
        "only-binary" | "trusted-host" | "use-feature" => {
            Spec::Value(|v| Ok(LineOption::Ignored(v)))
        }
        "no-binary" => Spec::Value(|v| {
            if v == ":none:" {
                Ok(LineOption::Ignored(v))
            } else {
                Err("it asks to build from source, and cairn installs wheels only")
            }
        }),
        "editable" => Spec::Value(|_| {
            Err(
                "editable installs are not supported: cairn installs built wheels only; build \
                 the project into a wheel and list the wheel's path instead",
            )
        }),
        "config-settings" | "global-option" | "install-option" => Spec::Value(|_| {
            Err("build options do not apply: cairn installs wheels and never builds")
        }),
        _ => return None,
    })
}

/// The long name of a one-letter option.
fn short_to_long(letter: char) -> Option<&'static str> {
    Some(match letter {
        'r' => "requirement",
        'c' => "constraint",
        'i' => "index-url",
        'f' => "find-links",
        'e' => "editable",
        'C' => "config-settings",
        _ => return None,
    })
}

/// Parses the option `word`, taking its value from `rest` when it is a separate word.
fn parse_option(
    word: &str,
    rest: &mut impl Iterator<Item = String>,
) -> Result<LineOption, LineProblem> {
    let unknown = || LineProblem::UnknownOption {
        option: word.to_owned(),
    };
    // (display name, spec, value attached to the word)
    let (name, spec, attached) = if let Some(long) = word.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (long, None),
        };
        let spec = long_spec(name).ok_or_else(unknown)?;
        (format!("--{name}"), spec, value)
    } else if let Some(short) = word.strip_prefix('-') {
        let mut chars = short.chars();
        let letter = chars.next().ok_or_else(unknown)?;
        let long = short_to_long(letter).ok_or_else(unknown)?;
        let spec = long_spec(long).ok_or_else(unknown)?;
        let value = chars.as_str();
        // `-rfile.txt`, `-r=file.txt`? pip takes the latter's value as `=file.txt`; so do we.
        let value = (!value.is_empty()).then(|| value.to_owned());
        (format!("-{letter}"), spec, value)
    } else {
        // A second requirement on the line, or text after an option's value.
        return Err(LineProblem::Syntax {
            message: format!(
                "unexpected `{word}` among the options; write one requirement per line"
            ),
        });
    };
    match spec {
        Spec::Value(make) => {
            let value = attached
                .or_else(|| rest.next())
                .filter(|value| !value.is_empty())
                .ok_or_else(|| LineProblem::MissingValue {
                    option: name.clone(),
                })?;
            // The error quotes the whole line, value included.
            make(value).map_err(|reason| LineProblem::UnsupportedOption {
                option: name,
                reason,
            })
        }
        Spec::Flag(flag) => {
            if attached.is_some() {
                return Err(LineProblem::UnexpectedValue { option: name });
            }
            Ok(match flag {
                Flag::NoIndex => LineOption::NoIndex,
                Flag::RequireHashes => LineOption::RequireHashes,
                Flag::Ignored => LineOption::Ignored(name),
            })
        }
    }
}

/// A `--hash` without a requirement, or a file-wide option after one.
fn misplaced_option(has_requirement: bool, options: &[LineOption]) -> Option<LineProblem> {
    options
        .iter()
        .find_map(|option| match (has_requirement, option) {
            (false, LineOption::Hash(_)) => Some(LineProblem::HashWithoutRequirement),
            (true, LineOption::Hash(_)) | (false, _) => None,
            (true, other) => Some(LineProblem::FileOptionAfterRequirement {
                option: option_name(other).to_owned(),
            }),
        })
}

fn option_name(option: &LineOption) -> &str {
    match option {
        LineOption::Include(IncludeKind::Requirements, _) => "-r",
        LineOption::Include(IncludeKind::Constraints, _) => "-c",
        LineOption::IndexUrl(_) => "--index-url",
        LineOption::ExtraIndexUrl(_) => "--extra-index-url",
        LineOption::FindLinks(_) => "--find-links",
        LineOption::NoIndex => "--no-index",
        LineOption::RequireHashes => "--require-hashes",
        LineOption::Hash(_) => "--hash",
        LineOption::Ignored(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_and_hashes_split_at_the_first_dash_word() {
        let line = split_line(
            "colorama==0.4.6 ; sys_platform == 'win-32' --hash=sha256:aa   --hash sha256:bb",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            line.requirement,
            Some("colorama==0.4.6 ; sys_platform == 'win-32'")
        );
        assert_eq!(
            line.options,
            [
                LineOption::Hash("sha256:aa".into()),
                LineOption::Hash("sha256:bb".into())
            ]
        );
    }

    #[test]
    fn short_options_take_attached_or_separate_values() {
        for text in [
            "-rbase.txt",
            "-r base.txt",
            "--requirement=base.txt",
            "--requirement base.txt",
        ] {
            let line = split_line(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(line.requirement, None);
            assert_eq!(
                line.options,
                [LineOption::Include(
                    IncludeKind::Requirements,
                    "base.txt".into()
                )],
                "{text}"
            );
        }
    }

    #[test]
    fn misplaced_and_malformed_options_are_errors() {
        assert!(matches!(
            split_line("--hash=sha256:aa"),
            Err(LineProblem::HashWithoutRequirement)
        ));
        assert!(matches!(
            split_line("a==1 --index-url https://x"),
            Err(LineProblem::FileOptionAfterRequirement { .. })
        ));
        assert!(matches!(
            split_line("-i"),
            Err(LineProblem::MissingValue { .. })
        ));
        assert!(matches!(
            split_line("--pre=1"),
            Err(LineProblem::UnexpectedValue { .. })
        ));
        assert!(matches!(
            split_line("--frobnicate"),
            Err(LineProblem::UnknownOption { .. })
        ));
        assert!(matches!(
            split_line("-"),
            Err(LineProblem::UnknownOption { .. })
        ));
        assert!(matches!(
            split_line("--pre junk"),
            Err(LineProblem::Syntax { .. })
        ));
    }
}

//! Which interpreter a command is for, and where it installs: a target directory, a prefix, or
//! the interpreter's own environment, as `uv pip` chooses them.

use std::path::{Path, PathBuf};

use anyhow::bail;
use cairn_install::Scheme;
use cairn_python::tags::{Interpreter, SchemePaths};

/// Where a command installs, lists or uninstalls.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    /// A directory put on `sys.path` (`--target`), laid out as `pip install --target` does.
    Target(PathBuf),
    /// A prefix (`--prefix`), laid out as the interpreter's `posix_prefix` scheme under it.
    Prefix(PathBuf),
    /// The interpreter's environment: its `sysconfig` scheme.
    Environment,
}

impl Destination {
    /// The destination `--target` and `--prefix` choose (clap keeps them exclusive).
    pub(crate) fn new(target: Option<&Path>, prefix: Option<&Path>) -> Self {
        match (target, prefix) {
            (Some(target), _) => Self::Target(target.to_owned()),
            (None, Some(prefix)) => Self::Prefix(prefix.to_owned()),
            (None, None) => Self::Environment,
        }
    }

    /// The install scheme for `interpreter`.
    pub(crate) fn scheme(&self, interpreter: &Interpreter) -> Scheme {
        let environment = &interpreter.environment;
        match self {
            Self::Target(dir) => Scheme::target(dir),
            Self::Prefix(prefix) => install_scheme(&environment.scheme_under(prefix)),
            Self::Environment => install_scheme(&environment.scheme),
        }
    }

    /// Refuses an install into an externally managed environment (PEP 668: a distributor's
    /// Python, not a virtual environment) unless `break_system_packages`, as pip and uv do.
    /// Target and prefix installs do not write into the environment.
    pub(crate) fn check_managed(
        &self,
        interpreter: &Interpreter,
        break_system_packages: bool,
    ) -> anyhow::Result<()> {
        if !matches!(self, Self::Environment) {
            return Ok(());
        }
        let Some(message) = interpreter.environment.externally_managed() else {
            return Ok(());
        };
        if break_system_packages {
            tracing::warn!(
                python = %interpreter.path.display(),
                "installing into an externally managed environment (--break-system-packages)"
            );
            return Ok(());
        }
        bail!(
            "the environment of {} is externally managed (PEP 668), so cairn will not install \
             into it:\n\n{message}\n\nCreate a virtual environment (`{} -m venv .venv`) and \
             install there, install into a directory with --target, or pass \
             --break-system-packages to install anyway",
            interpreter.path.display(),
            interpreter.path.display(),
        );
    }
}

fn install_scheme(paths: &SchemePaths) -> Scheme {
    Scheme {
        purelib: paths.purelib.clone(),
        platlib: paths.platlib.clone(),
        scripts: paths.scripts.clone(),
        headers: paths.include.clone(),
        data: paths.data.clone(),
    }
}

/// The interpreter a command is for, found as uv finds it: `--python`; with `system`, `python3`
/// on `PATH`; else the active virtual environment (`VIRTUAL_ENV`); else a `.venv` in the
/// current directory or one above it; else, when `fallback` (a target or prefix install),
/// `python3` on `PATH`.
pub(crate) fn find_python(
    explicit: Option<&Path>,
    system: bool,
    fallback: bool,
) -> anyhow::Result<PathBuf> {
    if let Some(python) = explicit {
        return Ok(python.to_owned());
    }
    if system {
        return Ok(PathBuf::from("python3"));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|value| !value.is_empty()) {
        let python = venv_python(Path::new(&venv));
        if !python.exists() {
            bail!(
                "VIRTUAL_ENV is {}, which has no {}: activate an existing virtual \
                 environment, or pass --python",
                Path::new(&venv).display(),
                python.display()
            );
        }
        return Ok(python);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let venv = dir.join(".venv");
            if venv.join("pyvenv.cfg").is_file() {
                return Ok(venv_python(&venv));
            }
        }
    }
    if fallback {
        return Ok(PathBuf::from("python3"));
    }
    bail!(
        "no virtual environment found (no VIRTUAL_ENV, no .venv here or above): create one \
         with `python3 -m venv .venv`, pass --python with an environment's interpreter, \
         --target DIR for a directory, or --system for the python3 on PATH"
    )
}

/// A virtual environment's interpreter.
fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

//! A PEP 517 build frontend for the cairn cache: source distributions in, wheels out.
//!
//! [`Builder::build`] unpacks an sdist with the rules applied to wheels (no links, devices,
//! absolute or `..` paths, size and count limits), reads its `pyproject.toml`
//! (`[build-system]`, with setuptools' legacy backend as PEP 517's fallback), pins its build
//! requirements to the newest versions on the index that fit (or to `--build-constraint` pins),
//! installs them with cairn's own pipeline into a `python -m venv --without-pip` environment
//! that is cached by its pinned set and reused, and calls the backend's hooks
//! (`get_requires_for_build_wheel`, then `build_wheel`) in a subprocess. The wheel is kept in
//! the cache's `builds-v0` bucket under the sdist's SHA-256 and a key of the interpreter and
//! the build settings, so the next install of that sdist, into any target, builds nothing, also
//! after the index is gone. The caller feeds the wheel to the normal store.
//!
//! Layout and guarantees: `docs/layout.md` (`builds-v0`) and `docs/sdists.md`.

mod builder;
mod error;
pub mod git;
pub mod pyproject;
pub mod resolve;
pub mod sdist;

pub use builder::{BuildSettings, Builder, BuiltWheel};
pub use error::BuildError;
pub use git::GitReference;
pub use pyproject::BuildSystem;
pub use sdist::{SdistFilename, SdistFormat, unpack_sdist};

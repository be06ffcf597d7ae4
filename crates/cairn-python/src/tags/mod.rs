//! Which wheels a Python interpreter can load: its supported tags, in order of preference.
//!
//! [`Interpreter::query`] runs a real interpreter once and caches what it reports;
//! [`Tags::from_interpreter`] turns that into the ordered tag list of
//! `packaging.tags.sys_tags()`, and [`Tags::for_target`] builds the same list for a
//! `--python-version`/`--platform` target without any interpreter. [`Tags::priority`] ranks a
//! wheel file name against the list.
//!
//! ```
//! use cairn_types::WheelFilename;
//! use cairn_python::tags::Tags;
//!
//! let tags = Tags::for_target((3, 12), "manylinux_2_28_x86_64").unwrap();
//! let wheel: WheelFilename = "demo-1.0-cp312-cp312-manylinux2014_x86_64.whl".parse().unwrap();
//! let pure: WheelFilename = "demo-1.0-py3-none-any.whl".parse().unwrap();
//! assert!(tags.priority(&wheel).unwrap() < tags.priority(&pure).unwrap());
//! let windows: WheelFilename = "demo-1.0-cp312-cp312-win_amd64.whl".parse().unwrap();
//! assert_eq!(tags.priority(&windows), None);
//! ```

mod environment;
mod error;
mod facts;
mod interpreter;
mod platform;
mod supported;

pub use environment::{Environment, PREFIX_PLACEHOLDER, SchemePaths};
pub use error::TagsError;
pub use interpreter::Interpreter;
pub use platform::Platform;
pub use supported::{Tag, Tags};

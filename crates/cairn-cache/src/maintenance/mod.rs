//! Cache maintenance: measuring, listing, cleaning, pruning and verifying the cache, safely
//! while other processes use it.
//!
//! Reading commands ([`cache_size`], [`list`], [`verify`]) need only the shared root lock: they
//! run beside fetches, which only ever add. Removing commands plan first ([`plan_clean`],
//! [`plan_prune`], [`VerifyReport::repair`]) and then [`remove`] the plan, which requires the
//! exclusive root lock ([`open_cache`] with [`cairn_fs::LockMode::Exclusive`]): no other cairn
//! process is inside the cache while entries disappear. A dry run prints the plan instead.
//!
//! Every walk lists a directory once and classifies its entries by `d_type`, stats only what it
//! measures (relative to the directory's open descriptor, on Linux), never follows a symbolic
//! link, and runs across shards, subdirectories and large directories in parallel. Removal is
//! confined to the root. See `docs/cache-maintenance.md`.

mod clean;
mod error;
mod io_pool;
mod list;
mod lock;
mod plan;
mod prune;
mod record;
mod scan;
mod size;
mod units;
mod verify;
mod walk;

pub use crate::SourceKind;
pub use clean::plan_clean;
pub use error::MaintenanceError;
pub use list::{CachedWheel, list};
pub use lock::{LockWait, open_cache};
pub use plan::{Plan, Reason, Removal, remove};
pub use prune::{PruneOptions, TEMP_GRACE, plan_prune};
pub use size::{ArchiveSizes, cache_size, measure_tree};
pub use units::{
    UnitError, format_size, format_timestamp, parse_duration, parse_size, write_size,
    write_timestamp,
};
pub use verify::{Problem, ProblemKind, VerifyReport, verify};
pub use walk::Usage;

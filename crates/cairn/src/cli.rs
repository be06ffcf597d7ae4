//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Install pinned, hashed Python wheels fast through a content-addressed cache.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The cache directory [default: $XDG_CACHE_HOME/cairn or ~/.cache/cairn].
    #[arg(long, global = true, env = "CAIRN_CACHE_DIR", value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Use a temporary cache, removed when the command ends.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    pub(crate) no_cache: bool,
    /// Never touch the network; use only what is cached.
    #[arg(long, global = true, env = "CAIRN_OFFLINE")]
    pub(crate) offline: bool,
    /// More output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only print errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Fetch wheels into the cache and print where each one is unpacked.
    Fetch(FetchArgs),
    /// Print digests of files, like sha256sum or b3sum.
    Hash(HashArgs),
    /// Install pinned wheels into a target directory, linking them from the cache.
    Install(InstallArgs),
}

/// Arguments of `cairn install`.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Pinned requirements (`name==version`), wheel files or wheel URLs.
    #[arg(
        value_name = "NAME==VERSION|PATH|URL",
        required_unless_present = "requirements"
    )]
    pub(crate) packages: Vec<String>,
    /// Install the pinned requirements in this file (repeatable), in the format
    /// `pip-compile --generate-hashes` and `uv pip compile --generate-hashes` write.
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub(crate) requirements: Vec<PathBuf>,
    /// The directory to install into (a site-packages, or any directory put on `sys.path`).
    #[arg(long, short = 't', value_name = "DIR")]
    pub(crate) target: PathBuf,
    /// The package index (Simple API) to find `name==version` wheels on.
    #[arg(long, short = 'i', env = "CAIRN_INDEX_URL", value_name = "URL")]
    pub(crate) index_url: Option<String>,
    /// A directory of wheel files searched before the index (repeatable).
    #[arg(long, short = 'f', value_name = "DIR")]
    pub(crate) find_links: Vec<PathBuf>,
    /// How files come from the cache [default: clone, else hardlink, else copy].
    #[arg(long, value_name = "MODE", env = "CAIRN_LINK_MODE")]
    pub(crate) link_mode: Option<String>,
    /// The interpreter to install for: its tags choose wheels, its path goes in script shebangs.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub(crate) python: PathBuf,
    /// Choose wheels for this Python version (`3.12`) instead of the interpreter's.
    #[arg(long, value_name = "X.Y", requires = "platform")]
    pub(crate) python_version: Option<String>,
    /// Choose wheels for this platform (`manylinux_2_28_x86_64`, `win_amd64`, …).
    #[arg(long, value_name = "TAG", requires = "python_version")]
    pub(crate) platform: Option<String>,
    /// Revalidate every cached index page.
    #[arg(long)]
    pub(crate) refresh: bool,
    /// Revalidate cached index pages of this package (repeatable).
    #[arg(long, value_name = "PACKAGE")]
    pub(crate) refresh_package: Vec<String>,
}

/// Arguments of `cairn fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Wheel files, `file://` URLs or `http(s)://` URLs (a `#sha256=<hex>` fragment pins a hash).
    #[arg(required = true, value_name = "PATH|URL")]
    pub(crate) sources: Vec<String>,
    /// An expected digest (`sha256:<hex>`), repeatable; with several sources, a source must
    /// match one of the digests given for each algorithm.
    #[arg(long = "hash", value_name = "ALG:HEX")]
    pub(crate) hashes: Vec<String>,
    /// Print a JSON array of records instead of paths.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `cairn hash`.
#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    /// Files to hash.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Algorithms to compute (repeatable or comma-separated): blake3, sha256, sha384, sha512.
    #[arg(long, short, value_delimiter = ',', default_value = "sha256")]
    pub(crate) algorithm: Vec<String>,
}

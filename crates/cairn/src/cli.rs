//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use cairn_cache::maintenance::{parse_duration, parse_size};
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
    /// A read-only cache asked after the cache directory for wheels pinned by digest (one baked
    /// into an image, on a read-only mount, or another user's); repeatable, asked in order.
    /// Nothing is written to it.
    #[arg(
        long,
        global = true,
        env = "CAIRN_CACHE_LOWER",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub(crate) cache_lower: Vec<PathBuf>,
    /// A shared remote tier read after the caches and written back to: `s3://BUCKET[/PREFIX]`
    /// (endpoint and credentials from the AWS environment), or `file:///DIR`. Records are read
    /// only when signed by a key in CAIRN_REMOTE_TRUSTED_KEYS; writing needs
    /// CAIRN_REMOTE_SIGNING_KEY (see docs/remote.md).
    #[arg(long, global = true, env = "CAIRN_REMOTE", value_name = "URL")]
    pub(crate) remote: Option<String>,
    /// When to publish wheels unpacked here to the remote: `background` (as each is unpacked;
    /// the command waits for them before it exits) or `never`.
    #[arg(
        long,
        global = true,
        env = "CAIRN_REMOTE_WRITE",
        value_name = "WHEN",
        default_value = "background"
    )]
    pub(crate) remote_write: cairn_remote::RemoteWrite,
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
    /// Local wheels hashed and unpacked at once [default: one per core].
    #[arg(
        long,
        global = true,
        env = "CAIRN_CONCURRENT_UNPACKS",
        value_name = "N"
    )]
    pub(crate) concurrent_unpacks: Option<std::num::NonZeroUsize>,
    /// Downloads in flight at once [default: 50].
    #[arg(
        long,
        global = true,
        env = "CAIRN_CONCURRENT_DOWNLOADS",
        value_name = "N"
    )]
    pub(crate) concurrent_downloads: Option<std::num::NonZeroUsize>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Install pinned wheels into an environment (a virtual environment, or --python's), a
    /// --target directory or a --prefix, linking them from the cache.
    Install(Box<InstallArgs>),
    /// Fetch wheels into the cache and print where each one is unpacked.
    Fetch(FetchArgs),
    /// Inspect and maintain the cache.
    Cache(CacheArgs),
    /// Print digests of files, like sha256sum or b3sum.
    Hash(HashArgs),
    /// List the projects installed in an environment, a target directory or a prefix, from
    /// their `.dist-info` directories.
    List(ListInstalledArgs),
    /// Uninstall projects from an environment, a target directory or a prefix: every file
    /// their RECORDs list there.
    Uninstall(UninstallArgs),
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
    /// Install into this directory (a site-packages, or any directory put on `sys.path`), as
    /// `pip install --target` lays it out, instead of into the interpreter's environment.
    #[arg(long, short = 't', value_name = "DIR")]
    pub(crate) target: Option<PathBuf>,
    /// Install under this prefix (`DIR/lib/pythonX.Y/site-packages`, `DIR/bin`, …), as
    /// `pip install --prefix` does, instead of into the interpreter's environment.
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub(crate) prefix: Option<PathBuf>,
    /// The package index (Simple API) to find `name==version` wheels on.
    #[arg(long, short = 'i', env = "CAIRN_INDEX_URL", value_name = "URL")]
    pub(crate) index_url: Option<String>,
    /// A directory of wheel files searched before the index (repeatable).
    #[arg(long, short = 'f', value_name = "DIR")]
    pub(crate) find_links: Vec<PathBuf>,
    /// How files come from the cache [default: clone, else hardlink, else copy].
    #[arg(long, value_name = "MODE", env = "CAIRN_LINK_MODE")]
    pub(crate) link_mode: Option<String>,
    /// The interpreter to install for: without --target or --prefix, into its environment
    /// (its sysconfig scheme). Its tags choose wheels, its version must meet each wheel's
    /// Requires-Python, and its executable goes in script shebangs. Default: the active
    /// virtual environment (VIRTUAL_ENV), else a `.venv` here or in a parent directory, else
    /// (with --target, --prefix or --system) `python3` on PATH.
    #[arg(long, value_name = "PATH")]
    pub(crate) python: Option<PathBuf>,
    /// Use the `python3` on PATH, even when a virtual environment is active or found.
    #[arg(long, conflicts_with = "python")]
    pub(crate) system: bool,
    /// Install into an externally managed environment (PEP 668: a distribution's Python)
    /// although its distributor asks not to.
    #[arg(long, env = "CAIRN_BREAK_SYSTEM_PACKAGES", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) break_system_packages: bool,
    /// Choose wheels for this Python version (`3.12`) instead of the interpreter's, and check
    /// their Requires-Python against it.
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
    /// Compile the installed `.py` files to `__pycache__/*.pyc` with `--python`, in one worker
    /// process per core, so the first import need not. Files that do not compile are skipped.
    #[arg(
        long,
        env = "CAIRN_COMPILE_BYTECODE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(crate) compile_bytecode: bool,
    /// Replace a file that another installed project wrote with other bytes, or that no
    /// project records, as pip does (with a warning), instead of refusing the install.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Never build from source: a requirement with only source distributions is an error.
    #[arg(long)]
    pub(crate) no_build: bool,
    /// Only wheels for these packages (`:all:` for every one), as pip spells it; the others may
    /// be built from source distributions.
    #[arg(long, value_name = "PACKAGE|:all:", value_delimiter = ',')]
    pub(crate) only_binary: Vec<String>,
    /// Build these packages from their source distributions even when wheels exist (`:all:`
    /// for every one), as pip spells it.
    #[arg(long, value_name = "PACKAGE|:all:", value_delimiter = ',')]
    pub(crate) no_binary: Vec<String>,
    /// Pin build requirements: a file of `name==version` lines, as uv's option.
    #[arg(long, value_name = "FILE")]
    pub(crate) build_constraint: Vec<PathBuf>,
    /// A setting passed to build backends' hooks (repeatable), as pip's `-C`.
    #[arg(short = 'C', long = "config-setting", value_name = "KEY=VALUE")]
    pub(crate) config_settings: Vec<String>,
}

/// Where `cairn list` and `cairn uninstall` look: a target directory, a prefix, or an
/// interpreter's environment.
#[derive(Debug, Args)]
pub(crate) struct InstalledTargetArgs {
    /// The target directory (as given to `cairn install --target` or `pip install --target`).
    #[arg(long, short = 't', value_name = "DIR")]
    pub(crate) target: Option<PathBuf>,
    /// The prefix (as given to `cairn install --prefix` or `pip install --prefix`).
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub(crate) prefix: Option<PathBuf>,
    /// The interpreter whose environment to look in. Default: the active virtual environment
    /// (VIRTUAL_ENV), else a `.venv` here or in a parent directory, else (with --target,
    /// --prefix or --system) `python3` on PATH.
    #[arg(long, value_name = "PATH")]
    pub(crate) python: Option<PathBuf>,
    /// Use the `python3` on PATH, even when a virtual environment is active or found.
    #[arg(long, conflicts_with = "python")]
    pub(crate) system: bool,
}

/// How `cairn list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ListFormat {
    /// A table: package, version, installer.
    Columns,
    /// A JSON array of `{name, version, installer, requested}`.
    Json,
    /// `name==version` lines, as `pip freeze` prints.
    Freeze,
}

/// Arguments of `cairn list`.
#[derive(Debug, Args)]
pub(crate) struct ListInstalledArgs {
    #[command(flatten)]
    pub(crate) location: InstalledTargetArgs,
    /// The output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Columns)]
    pub(crate) format: ListFormat,
}

/// Arguments of `cairn uninstall`.
#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    /// The projects to uninstall (names are compared after PEP 503 normalisation).
    #[arg(required = true, value_name = "NAME")]
    pub(crate) packages: Vec<String>,
    #[command(flatten)]
    pub(crate) location: InstalledTargetArgs,
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

/// Arguments of `cairn cache`.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    pub(crate) command: CacheCommand,
}

/// The `cairn cache` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Print the cache directory.
    Dir,
    /// Print the space the cache takes on disk (bytes when piped, human units on a terminal).
    Size(SizeArgs),
    /// List cached wheels, one row per source.
    List(ListArgs),
    /// Remove everything from the cache, or only the named packages.
    Clean(CleanArgs),
    /// Remove what nothing uses; optionally also old, downloaded or least recently used wheels.
    Prune(PruneArgs),
    /// Check every unpacked wheel and record; exit with 1 if any is damaged.
    Verify(VerifyArgs),
    /// Publish cached wheels to the remote tier (--remote), all or only the named packages.
    Push(PushArgs),
    /// Fetch into the cache, from the remote tier only, the wheels requirements files pin.
    Pull(PullArgs),
    /// Generate an Ed25519 key pair for signing what is published to the remote tier.
    Keygen(KeygenArgs),
}

/// Arguments of `cairn cache push`.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Only these packages; without any, every wheel the cache knows by SHA-256.
    #[arg(value_name = "PACKAGE")]
    pub(crate) packages: Vec<String>,
}

/// Arguments of `cairn cache pull`.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Requirements files (`name==version --hash=sha256:...` lines) whose pins are pulled.
    #[arg(
        short = 'r',
        long = "requirement",
        value_name = "FILE",
        required = true
    )]
    pub(crate) requirements: Vec<std::path::PathBuf>,
    /// The interpreter whose tags choose among a requirement's wheels [default: as install].
    #[arg(long, value_name = "PYTHON")]
    pub(crate) python: Option<PathBuf>,
}

/// Arguments of `cairn cache keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// The key's name, written in every record it signs (e.g. `ci-2026`).
    pub(crate) name: String,
}

/// How long to wait for other processes using the cache.
#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    /// Wait at most this many seconds for other cairn processes to finish with the cache.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub(crate) lock_timeout: u64,
    /// Fail at once if another cairn process is using the cache.
    #[arg(long, conflicts_with = "lock_timeout")]
    pub(crate) no_wait: bool,
}

/// Arguments of `cairn cache size`.
#[derive(Debug, Args)]
pub(crate) struct SizeArgs {
    /// Print human units (`1.2 GiB`) even when stdout is not a terminal.
    #[arg(short = 'H', long)]
    pub(crate) human: bool,
    /// Measure every file of every archive, like `du`, instead of reading the usage each
    /// archive's manifest recorded when it was unpacked (slower on a large cache).
    #[arg(long)]
    pub(crate) exact: bool,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
}

/// Arguments of `cairn cache list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only these packages (names are compared after PEP 503 normalisation).
    #[arg(value_name = "PACKAGE")]
    pub(crate) packages: Vec<String>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
}

/// Arguments of `cairn cache clean`.
#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    /// Only these packages; without any, everything.
    #[arg(value_name = "PACKAGE")]
    pub(crate) packages: Vec<String>,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
}

/// Arguments of `cairn cache prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Keep only what is costly to recreate: drop everything downloaded (wheels fetched from
    /// URLs, index pages), keep wheels unpacked from local files.
    #[arg(long)]
    pub(crate) ci: bool,
    /// Also remove wheels not used for this long: `30d`, `12h`, `90m`, `45s`, `2w`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) max_age: Option<Duration>,
    /// Then remove least recently used wheels until the cache fits: `10GiB`, `500MB`, `1024`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_size: Option<u64>,
    /// Print what would be removed, and remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Prune the remote tier that --remote names instead of the local cache: objects older
    /// than --max-age, which it requires.
    #[arg(long, requires = "max_age", conflicts_with_all = ["ci", "max_size", "dry_run"])]
    pub(crate) remote_tier: bool,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
}

/// Arguments of `cairn cache verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Remove damaged archives and records, so the next fetch recreates them.
    #[arg(long)]
    pub(crate) repair: bool,
    /// Check the remote tier that --remote names instead of the local cache: every record's
    /// signature and every pack's bytes (downloads them all).
    #[arg(long, conflicts_with = "repair")]
    pub(crate) remote_tier: bool,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
}

use std::fmt;

/// A top-level directory of the cache holding one kind of data.
///
/// Each bucket's directory name carries its own format version (`archive-v0`): a change to what
/// a bucket stores bumps that version, so old and new cairn releases can share a cache root
/// without misreading each other, and `cairn cache prune` removes versions nobody uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CacheBucket {
    /// Unpacked wheels, one directory per content digest, sharded: `archive-v0/ab/cdef…/`.
    Archive,
    /// Pointers from a wheel's source (URL or local path) to its archive, and HTTP cache
    /// policies of downloaded wheels.
    Wheels,
    /// An index from published digests (e.g. a wheel's SHA-256) to archive digests.
    Hashes,
    /// Package index (Simple API) responses.
    Simple,
    /// Facts about Python interpreters: what their supported tags follow from, their environment
    /// marker values and their real executable.
    Interpreter,
    /// Lock files that stop two processes from doing the same expensive work at once.
    Locks,
    /// Wheels built from source distributions, keyed by the sdist's SHA-256 and what the build
    /// depended on, and the build environments they were built in.
    Builds,
}

impl CacheBucket {
    /// Every bucket, in a fixed order.
    pub const ALL: [Self; 7] = [
        Self::Archive,
        Self::Wheels,
        Self::Hashes,
        Self::Simple,
        Self::Interpreter,
        Self::Locks,
        Self::Builds,
    ];

    /// The versioned directory name of the bucket.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Archive => "archive-v0",
            Self::Wheels => "wheels-v0",
            // v1: entries name the wheel file too.
            Self::Hashes => "hashes-v1",
            Self::Simple => "simple-v1",
            // v1: the records gained the marker values and the executable; v2: keyed by the
            // path as asked for, with the environment (prefix, scheme, sys.executable).
            Self::Interpreter => "interpreter-v2",
            Self::Locks => "locks-v0",
            Self::Builds => "builds-v0",
        }
    }

    /// The bucket's name without its version (`archive`), to recognise old versions of it.
    pub fn base_name(self) -> &'static str {
        let name = self.dir_name();
        name.rsplit_once("-v").map_or(name, |(base, _)| base)
    }
}

impl fmt::Display for CacheBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

//! Unpacked trees to link into environments, shaped like real archives in the cache.

use std::fs;
use std::io;
use std::path::Path;

use crate::{MIB, fill_pseudo_random};

/// What a tree holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeCounts {
    /// Regular files.
    pub files: u64,
    /// Directories below the root.
    pub dirs: u64,
    /// Bytes in the files.
    pub bytes: u64,
}

/// Files in [`write_numpy_like_tree`]'s tree.
pub const NUMPY_LIKE_FILES: usize = 1_000;

/// Directories in [`write_numpy_like_tree`]'s tree.
pub const NUMPY_LIKE_DIRS: usize = 100;

/// Writes into the existing directory `root` a tree shaped like an unpacked numpy wheel (1,166
/// entries, 57 MB): 1,000 files in 100 directories, 58 MiB in all. Two big shared libraries
/// (30 and 10 MiB) and twenty medium extension modules hold most of the bytes; the rest are
/// Python modules, stubs and test files of 0.5 to 40 KiB.
pub fn write_numpy_like_tree(root: &Path) -> io::Result<TreeCounts> {
    let mut dirs = vec![
        "numpy".to_owned(),
        "numpy.libs".to_owned(),
        "numpy-2.4.6.dist-info".to_owned(),
    ];
    for package in 0..49 {
        dirs.push(format!("numpy/pkg_{package:02}"));
    }
    for package in 0..48 {
        dirs.push(format!("numpy/pkg_{package:02}/tests"));
    }
    debug_assert_eq!(dirs.len(), NUMPY_LIKE_DIRS);
    for dir in &dirs {
        fs::create_dir_all(root.join(dir))?;
    }

    let mut files: Vec<(String, u64)> = vec![
        (
            "numpy.libs/libscipy_openblas64_-synthetic.so".to_owned(),
            30 * MIB,
        ),
        (
            "numpy/pkg_00/_multiarray_umath.cpython-311-x86_64-linux-gnu.so".to_owned(),
            10 * MIB,
        ),
    ];
    for module in 0..20_u64 {
        files.push((
            format!(
                "numpy/pkg_{:02}/_ext_{module:02}.cpython-311-x86_64-linux-gnu.so",
                module + 1
            ),
            200 * 1024 + module * 20 * 1024,
        ));
    }
    for name in [
        "METADATA",
        "RECORD",
        "WHEEL",
        "entry_points.txt",
        "LICENSE.txt",
    ] {
        files.push((format!("numpy-2.4.6.dist-info/{name}"), 6 * 1024));
    }
    // The Python files, spread over every package and test directory.
    let python_dirs = &dirs[3..];
    let mut index = 0_u64;
    while files.len() < NUMPY_LIKE_FILES {
        let dir = &python_dirs[index as usize % python_dirs.len()];
        let extension = if index.is_multiple_of(5) { "pyi" } else { "py" };
        // 0.5 to 40 KiB, most of them small.
        let size = 512 + (index * index * 2_654_435_761) % (40 * 1024) / (1 + index % 4);
        files.push((format!("{dir}/module_{index:04}.{extension}"), size));
        index += 1;
    }

    let mut counts = TreeCounts {
        dirs: dirs.len() as u64,
        ..TreeCounts::default()
    };
    let mut content = vec![0; 30 * MIB as usize];
    fill_pseudo_random(&mut content, 11);
    for (path, size) in files {
        fs::write(root.join(path), &content[..size as usize])?;
        counts.files += 1;
        counts.bytes += size;
    }
    Ok(counts)
}

/// Writes into the existing directory `root` `count` tiny files (about 80 bytes) in directories
/// of 100, the shape where per-file costs dominate (the same as
/// [`write_tiny_files_zip`](crate::write_tiny_files_zip)'s archive).
pub fn write_tiny_tree(root: &Path, count: usize) -> io::Result<TreeCounts> {
    let mut counts = TreeCounts::default();
    for index in 0..count {
        let dir = root.join(format!("tiny/group_{:03}", index / 100));
        if index.is_multiple_of(100) {
            fs::create_dir_all(&dir)?;
            counts.dirs += 1;
        }
        let content =
            format!("# Synthetic module {index} of the tiny-files benchmark.\nVALUE = {index}\n");
        fs::write(dir.join(format!("module_{index:05}.py")), &content)?;
        counts.files += 1;
        counts.bytes += content.len() as u64;
    }
    // `tiny/` itself.
    counts.dirs += u64::from(count > 0);
    Ok(counts)
}

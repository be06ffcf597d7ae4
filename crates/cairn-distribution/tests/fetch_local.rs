//! Fetching local wheel files into the store: hits, dedupe, hash checks, hostile archives, and
//! many processes racing for one wheel; and storing bytes the caller reads or streams.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use cairn_cache::Cache;
use cairn_distribution::{FetchError, FetchOutcome, StoreSettings, WheelSource, WheelStore};
use cairn_hash::{Digest, ExpectedHashes};
use cairn_test_support::child;
use cairn_test_support::wheel::WheelBuilder;

fn store_at(root: &Path) -> WheelStore {
    WheelStore::new(Cache::at(root).unwrap(), StoreSettings::default())
}

fn demo_wheel(dir: &Path) -> PathBuf {
    WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "VALUE = 1\n")
        .executable("demo/tool.sh", "#!/bin/sh\necho hi\n")
        .build(dir)
}

fn sha256_of(path: &Path) -> Digest {
    let hashes = cairn_hash::hash_file(path, &["sha256".parse().unwrap()]).unwrap();
    *hashes.get("sha256".parse().unwrap()).unwrap()
}

/// Every archive directory in the store (their manifests sit beside them as files).
fn archives(root: &Path) -> Vec<PathBuf> {
    let bucket = root.join("archive-v0");
    let Ok(shards) = std::fs::read_dir(&bucket) else {
        return Vec::new();
    };
    shards
        .flat_map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect()
}

fn leftovers(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp-"))
        .collect()
}

#[test]
fn first_fetch_unpacks_then_pointer_hits() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let store = store_at(&work.path().join("cache"));
    let none = ExpectedHashes::default();

    let first = store.fetch_path(&wheel, &none).unwrap();
    assert_eq!(first.outcome, FetchOutcome::Unpacked);
    assert_eq!(first.filename.to_string(), "demo-1.0-py3-none-any.whl");
    let init = first.archive.path().join("demo").join("__init__.py");
    assert_eq!(std::fs::read_to_string(init).unwrap(), "VALUE = 1\n");
    assert_eq!(first.archive.digest().as_str(), first.hashes[0].to_hex());

    let second = store.fetch_path(&wheel, &none).unwrap();
    assert_eq!(second.outcome, FetchOutcome::PointerHit);
    assert_eq!(second.archive, first.archive);
}

#[test]
fn identical_content_at_another_path_is_stored_once() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let copy_dir = work.path().join("elsewhere");
    std::fs::create_dir(&copy_dir).unwrap();
    let copy = copy_dir.join(wheel.file_name().unwrap());
    std::fs::copy(&wheel, &copy).unwrap();
    let root = work.path().join("cache");
    let store = store_at(&root);

    let a = store
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();
    let b = store.fetch_path(&copy, &ExpectedHashes::default()).unwrap();
    assert_eq!(b.outcome, FetchOutcome::ContentHit);
    assert_eq!(a.archive, b.archive);
    assert_eq!(archives(&root).len(), 1);
}

#[test]
fn a_changed_file_is_never_mistaken_for_the_cached_one() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let store = store_at(&work.path().join("cache"));
    let first = store
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();
    // Same name, new content.
    let changed = WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "VALUE = 2\n")
        .to_bytes();
    std::fs::File::create(&wheel)
        .unwrap()
        .write_all(&changed)
        .unwrap();
    let second = store
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();
    assert_eq!(second.outcome, FetchOutcome::Unpacked);
    assert_ne!(second.archive, first.archive);
    let init = second.archive.path().join("demo").join("__init__.py");
    assert_eq!(std::fs::read_to_string(init).unwrap(), "VALUE = 2\n");
}

#[test]
fn expected_hashes_are_checked_before_anything_is_published() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let root = work.path().join("cache");
    let store = store_at(&root);
    let wrong: Digest = format!("sha256:{}", "0".repeat(64)).parse().unwrap();
    let expected: ExpectedHashes = [wrong].into_iter().collect();
    let error = store.fetch_path(&wheel, &expected).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, FetchError::HashMismatch(_)), "{message}");
    assert!(message.contains("demo-1.0-py3-none-any.whl"), "{message}");
    assert!(message.contains(&"0".repeat(64)), "{message}");
    assert!(message.contains(&sha256_of(&wheel).to_hex()), "{message}");
    assert!(archives(&root).is_empty());
    assert!(!root.join("wheels-v0").exists(), "no pointer was written");

    let right: ExpectedHashes = [sha256_of(&wheel)].into_iter().collect();
    assert_eq!(
        store.fetch_path(&wheel, &right).unwrap().outcome,
        FetchOutcome::Unpacked
    );
}

#[test]
fn a_pointer_hit_still_enforces_hashes_and_learns_new_ones() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let store = store_at(&work.path().join("cache"));
    store
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();

    // The pointer knows only BLAKE3: a SHA-256 pin makes cairn hash the file once...
    let right: ExpectedHashes = [sha256_of(&wheel)].into_iter().collect();
    assert_eq!(
        store.fetch_path(&wheel, &right).unwrap().outcome,
        FetchOutcome::ContentHit
    );
    // ...and afterwards the pointer answers alone.
    assert_eq!(
        store.fetch_path(&wheel, &right).unwrap().outcome,
        FetchOutcome::PointerHit
    );
    let wrong: ExpectedHashes = [format!("sha256:{}", "1".repeat(64)).parse().unwrap()]
        .into_iter()
        .collect();
    assert!(matches!(
        store.fetch_path(&wheel, &wrong),
        Err(FetchError::HashMismatch(_))
    ));
}

#[test]
fn a_hostile_archive_leaves_the_cache_unchanged() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("cache");
    let store = store_at(&root);
    let evil = WheelBuilder::new("evil", "1.0")
        .file("../escaped.py", "boom")
        .build(work.path());
    let error = store
        .fetch_path(&evil, &ExpectedHashes::default())
        .unwrap_err();
    assert!(matches!(error, FetchError::Unzip(_)), "{error}");
    assert!(error.to_string().contains("../escaped.py"), "{error}");
    assert!(!work.path().join("escaped.py").exists());
    assert!(archives(&root).is_empty());
    assert!(
        leftovers(&root).is_empty(),
        "the partial unpack was removed"
    );
    assert!(!root.join("wheels-v0").exists());
}

#[test]
fn missing_files_and_bad_names_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let store = store_at(&work.path().join("cache"));
    let missing = work.path().join("absent-1.0-py3-none-any.whl");
    let error = store
        .fetch_path(&missing, &ExpectedHashes::default())
        .unwrap_err();
    assert!(
        error.to_string().contains("absent-1.0-py3-none-any.whl"),
        "{error}"
    );
    let not_a_wheel = work.path().join("notes.txt");
    std::fs::write(&not_a_wheel, "x").unwrap();
    let error = store
        .fetch_path(&not_a_wheel, &ExpectedHashes::default())
        .unwrap_err();
    assert!(
        error.to_string().contains("not a wheel file name"),
        "{error}"
    );
}

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    assert_eq!(role, "fetch");
    let args = child::child_args();
    let store = store_at(Path::new(&args[0]));
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let fetched = store
        .fetch_path(Path::new(&args[1]), &ExpectedHashes::default())
        .unwrap();
    println!(
        "outcome={:?} archive={}",
        fetched.outcome,
        fetched.archive.path().display()
    );
}

#[test]
fn concurrent_processes_fetching_one_wheel_leave_one_copy() {
    const PROCESSES: usize = 6;
    let work = tempfile::tempdir().unwrap();
    // Enough files that unpacking takes a while and the processes really overlap.
    let mut builder = WheelBuilder::new("big", "1.0");
    for index in 0..2000 {
        builder = builder.file(&format!("big/m{index}.py"), format!("X = {index}\n"));
    }
    let wheel = builder.build(work.path());
    let root = work.path().join("cache");
    let args = [root.to_str().unwrap(), wheel.to_str().unwrap()];
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| child::spawn_child("child_entry", "fetch", &args))
        .collect();
    for process in &mut children {
        child::wait_for_line(process, "ready");
    }
    for process in &mut children {
        process.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
    let outputs: Vec<String> = children.into_iter().map(child::finish).collect();
    let unpacked = outputs
        .iter()
        .filter(|out| out.contains("outcome=Unpacked"))
        .count();
    assert_eq!(unpacked, 1, "exactly one process unpacked: {outputs:#?}");
    // The others waited for it and found its pointer: none hashed the wheel again to find the
    // archive by content.
    let pointer_hits = outputs
        .iter()
        .filter(|out| out.contains("outcome=PointerHit"))
        .count();
    assert_eq!(pointer_hits, PROCESSES - 1, "{outputs:#?}");
    assert_eq!(archives(&root).len(), 1);
    assert!(leftovers(&root).is_empty());
    let archive = archives(&root).remove(0);
    assert_eq!(
        std::fs::read_dir(archive.join("big")).unwrap().count(),
        2000
    );
}

/// Counts the unpacks in progress and the most at once.
#[derive(Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl cairn_distribution::Reporter for InFlight {
    fn unpack_started(&self, _: u64, _: &str) {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
    }

    fn unpack_finished(&self, _: u64) {
        self.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The most local unpacks in progress at once when four wheels are fetched together by a store
/// allowing `concurrent_unpacks`.
fn most_unpacks_at_once(concurrent_unpacks: usize) -> usize {
    let work = tempfile::tempdir().unwrap();
    let wheels: Vec<PathBuf> = (0..4)
        .map(|index| {
            let dir = work.path().join(format!("w{index}"));
            std::fs::create_dir(&dir).unwrap();
            WheelBuilder::new("demo", "1.0")
                .file(
                    "demo/data.bin",
                    cairn_test_support::noise::noise(4 << 20, 2 * index + 1),
                )
                .build(&dir)
        })
        .collect();
    let settings = StoreSettings {
        concurrent_unpacks,
        ..StoreSettings::default()
    };
    let in_flight = std::sync::Arc::new(InFlight::default());
    let store = WheelStore::new(Cache::at(work.path().join("cache")).unwrap(), settings)
        .with_reporter(in_flight.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let none = ExpectedHashes::default();
    let sources: Vec<_> = wheels
        .iter()
        .map(|wheel| WheelSource::Path(wheel.clone()))
        .collect();
    runtime.block_on(async {
        let fetches = sources.iter().map(|source| store.fetch(source, &none));
        for result in futures_util::future::join_all(fetches).await {
            assert_eq!(result.unwrap().outcome, FetchOutcome::Unpacked);
        }
    });
    in_flight.most.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn local_unpacks_take_turns() {
    assert_eq!(most_unpacks_at_once(1), 1);
    assert!(most_unpacks_at_once(2) <= 2);
}

fn demo_filename() -> cairn_types::WheelFilename {
    "demo-1.0-py3-none-any.whl".parse().unwrap()
}

#[test]
fn bytes_from_a_reader_are_stored_once_and_indexed_by_their_hash() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let root = work.path().join("cache");
    let store = store_at(&root);
    let expected = [sha256_of(&wheel)].into_iter().collect::<ExpectedHashes>();

    let bytes = std::fs::read(&wheel).unwrap();
    let stored = store
        .store_reader(&demo_filename(), bytes.as_slice(), &expected)
        .unwrap();
    assert_eq!(stored.outcome, FetchOutcome::Unpacked);
    assert_eq!(stored.size, bytes.len() as u64);
    assert_eq!(
        std::fs::read_to_string(stored.archive.path().join("demo/__init__.py")).unwrap(),
        "VALUE = 1\n"
    );
    // The same content from the file on disk is the same archive, not a second copy.
    let fetched = store.fetch_path(&wheel, &expected).unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::ContentHit);
    assert_eq!(fetched.archive, stored.archive);
    let again = store
        .store_reader(&demo_filename(), bytes.as_slice(), &expected)
        .unwrap();
    assert_eq!(again.outcome, FetchOutcome::ContentHit);
    assert_eq!(archives(&root).len(), 1);
    assert!(leftovers(&root).is_empty());

    // Pinned to the stored SHA-256, a URL that nothing listens on is answered from the index.
    let (source, _) = WheelSource::parse("http://127.0.0.1:9/demo-1.0-py3-none-any.whl").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let by_hash = runtime.block_on(store.fetch(&source, &expected)).unwrap();
    assert_eq!(by_hash.archive, stored.archive);
}

#[test]
fn streamed_bytes_that_fail_the_hash_or_the_archive_rules_publish_nothing() {
    let work = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(work.path());
    let root = work.path().join("cache");
    let store = store_at(&root);
    let bytes = std::fs::read(&wheel).unwrap();
    let wrong: ExpectedHashes = [format!("sha256:{}", "0".repeat(64))
        .parse::<Digest>()
        .unwrap()]
    .into_iter()
    .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let chunks = |bytes: &[u8]| {
        let pieces: Vec<std::io::Result<bytes::Bytes>> = bytes
            .chunks(7)
            .map(|piece| Ok(bytes::Bytes::copy_from_slice(piece)))
            .collect();
        futures_util::stream::iter(pieces)
    };
    let error = runtime
        .block_on(store.store_chunks(&demo_filename(), chunks(&bytes), &wrong))
        .unwrap_err();
    assert!(matches!(error, FetchError::HashMismatch(_)), "{error:?}");
    let junk = b"PK\x03\x04 this is not a wheel".repeat(100);
    let error = store
        .store_reader(
            &demo_filename(),
            junk.as_slice(),
            &ExpectedHashes::default(),
        )
        .unwrap_err();
    assert!(matches!(error, FetchError::Unzip(_)), "{error:?}");
    assert!(archives(&root).is_empty());
    assert!(leftovers(&root).is_empty());

    // The same stream, unpinned, is stored whole.
    let stored = runtime
        .block_on(store.store_chunks(&demo_filename(), chunks(&bytes), &ExpectedHashes::default()))
        .unwrap();
    assert_eq!(stored.outcome, FetchOutcome::Unpacked);
    assert_eq!(archives(&root).len(), 1);
}

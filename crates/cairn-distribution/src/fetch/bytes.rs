//! Storing a wheel whose bytes the caller supplies: from any reader or stream of chunks, for
//! callers with a transport of their own (a resolver's HTTP client, an object store, a file
//! already open). The bytes are hashed and unpacked in one pass, like a download, and
//! published with the same guarantees: nothing before the expected hashes pass, one atomic
//! rename, one copy whatever the races.

use std::io::{self, BufReader, Read};

use bytes::Bytes;
use cairn_fs::PersistOutcome;
use cairn_hash::{ExpectedHashes, Hashes, HashingReader, HashingStream};
use cairn_types::WheelFilename;
use cairn_zip::{ExtractReport, extract_chunks, extract_reader};
use futures_util::Stream;
use tempfile::TempDir;

use super::remote::hasher_for;
use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, record};

impl WheelStore {
    /// Stores the wheel `filename` whose bytes are read from `reader`, checking `expected`
    /// before anything is published, and returns it unpacked in the cache.
    ///
    /// The reader is read once, front to back: hashed (BLAKE3, the archive's name, plus the
    /// expected algorithms) and unpacked as the bytes come. The archive is then published under
    /// its BLAKE3 digest and indexed under its other digests, so a later [`fetch`](Self::fetch)
    /// pinned to one of them finds it; no pointer is written, since the bytes have no source to
    /// point from. If the same content is already in the store, the new tree is dropped and the
    /// outcome is [`FetchOutcome::ContentHit`].
    ///
    /// This blocks: call it on a thread that may block (`tokio::task::spawn_blocking` in async
    /// code), or use [`store_chunks`](Self::store_chunks).
    ///
    /// # Errors
    ///
    /// [`FetchError::Read`] if the reader fails, [`FetchError::HashMismatch`] if the bytes are
    /// not the expected ones, [`FetchError::NotTheNamedWheel`] if the wheel's `.dist-info`
    /// names another project or version than `filename`, [`FetchError::Unzip`] for an invalid
    /// archive (including one that can only be unpacked from a file: see
    /// [`cairn_zip::UnzipError::is_streaming_unsupported`]; save such a wheel and use
    /// [`fetch_path`](Self::fetch_path)). The cache is unchanged by a
    /// failed call.
    pub fn store_reader(
        &self,
        filename: &WheelFilename,
        reader: impl Read,
        expected: &ExpectedHashes,
    ) -> Result<FetchedWheel, FetchError> {
        let shown = filename.to_string();
        let temp = self.cache().temp_dir()?;
        let mut hashing = HashingReader::new(reader, hasher_for(expected));
        let report = extract_reader(
            BufReader::new(&mut hashing),
            &shown,
            temp.path(),
            &self.settings.limits,
        )?;
        // The extractor stops at the end of the archive; a trailer after it is still hashed.
        io::copy(&mut hashing, &mut io::sink()).map_err(|source| FetchError::Read {
            path: shown.clone().into(),
            source,
        })?;
        self.publish_unpacked(filename, temp, hashing.finish(), &report, expected)
    }

    /// [`store_reader`](Self::store_reader) for bytes that arrive as a stream of chunks, such
    /// as an HTTP body from the caller's own client: each chunk is hashed and handed to the
    /// extractor without a copy. Must be called within a Tokio runtime: the unpacking runs on
    /// its blocking pool.
    ///
    /// # Errors
    ///
    /// As [`store_reader`](Self::store_reader); an error the stream yields ends the call with
    /// [`FetchError::Unzip`] carrying it as [`cairn_zip::UnzipError::Read`].
    pub async fn store_chunks<S>(
        &self,
        filename: &WheelFilename,
        chunks: S,
        expected: &ExpectedHashes,
    ) -> Result<FetchedWheel, FetchError>
    where
        S: Stream<Item = io::Result<Bytes>> + Unpin + Send,
    {
        let shown = filename.to_string();
        let temp = self.cache().temp_dir()?;
        let mut hashing = HashingStream::new(chunks, hasher_for(expected));
        let report =
            extract_chunks(&mut hashing, &shown, temp.path(), &self.settings.limits).await?;
        let hashes = hashing.finish();
        let store = self.clone();
        let (filename, expected) = (filename.clone(), expected.clone());
        tokio::task::spawn_blocking(move || {
            store.publish_unpacked(&filename, temp, hashes, &report, &expected)
        })
        .await
        .map_err(|error| FetchError::Task {
            source_name: shown,
            message: error.to_string(),
        })?
    }

    /// Verifies `hashes` against `expected` and the `.dist-info` against `filename`, publishes
    /// `temp` under the BLAKE3 digest and indexes the other digests.
    fn publish_unpacked(
        &self,
        filename: &WheelFilename,
        temp: TempDir,
        hashes: Hashes,
        report: &ExtractReport,
        expected: &ExpectedHashes,
    ) -> Result<FetchedWheel, FetchError> {
        let shown = filename.to_string();
        let cache = self.cache();
        let (archive, persisted, digests) =
            record::persist_verified(cache, temp, &hashes, report, expected, filename, &shown)?;
        record::write_index(cache, &archive, &digests, hashes.bytes, filename)?;
        Ok(FetchedWheel {
            source: shown,
            filename: filename.clone(),
            archive,
            hashes: digests,
            size: hashes.bytes,
            outcome: match persisted {
                PersistOutcome::Persisted => FetchOutcome::Unpacked,
                PersistOutcome::AlreadyPresent => FetchOutcome::ContentHit,
            },
        })
    }
}

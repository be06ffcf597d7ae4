//! The remote's index records: from a digest a wheel is pinned by to the pack of its unpacked
//! archive, signed by the writer.
//!
//! A record is a few lines of text, in this order and nothing else (see `docs/remote.md`):
//!
//! ```text
//! cairn-remote-entry-1
//! digest sha256 <hex>
//! wheel <file name>
//! size <wheel size>
//! archive <BLAKE3 of the wheel file>
//! pack <BLAKE3 of the pack object> <pack size>
//! key <signing key name>
//! signature <base64 Ed25519 signature of every line above>
//! ```
//!
//! The record names the digest it is stored under, so a valid record copied under another
//! digest is refused; the pack's own BLAKE3 is checked as it streams in.

use cairn_cache::IndexRecord;
use cairn_fs::ContentDigest;
use cairn_hash::Digest;

use crate::keys::{SigningKey, TrustedKeys, valid_name};

/// The first line of a record.
pub const RECORD_HEADER: &str = "cairn-remote-entry-1";

/// The longest record read.
pub const MAX_RECORD_LEN: usize = 4096;

/// A pack object: its BLAKE3 digest (its name on the remote) and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackRef {
    /// The lowercase hex BLAKE3 of the pack's bytes.
    pub digest: ContentDigest,
    /// The pack's size in bytes.
    pub size: u64,
}

/// One verified index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// The digest the record is stored under.
    pub digest: Digest,
    /// The wheel: its archive digest, size and file name.
    pub wheel: IndexRecord,
    /// The pack of its unpacked archive.
    pub pack: PackRef,
}

/// Why a record was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The text does not follow the format.
    #[error("malformed record: {0}")]
    Malformed(&'static str),
    /// The record is for another digest than the one it is stored under.
    #[error("the record is for {found}, not {wanted}")]
    OtherDigest {
        /// The digest asked for.
        wanted: String,
        /// The digest the record names.
        found: String,
    },
    /// No trusted key named in the record verifies its signature.
    #[error("not signed by a trusted key (the record names the key `{key}`)")]
    Untrusted {
        /// The key the record names.
        key: String,
    },
}

impl EntryRecord {
    /// The record's text, signed by `key`.
    pub fn to_signed_text(&self, key: &SigningKey) -> String {
        let body = self.body(key.name());
        let signature = key.sign(body.as_bytes());
        format!("{body}signature {signature}\n")
    }

    fn body(&self, key_name: &str) -> String {
        format!(
            "{RECORD_HEADER}\ndigest {} {}\nwheel {}\nsize {}\narchive {}\npack {} {}\nkey {key_name}\n",
            self.digest.algorithm(),
            self.digest.to_hex(),
            self.wheel.filename,
            self.wheel.wheel_size,
            self.wheel.archive,
            self.pack.digest,
            self.pack.size,
        )
    }

    /// Parses and verifies a record stored under `wanted`: the format, the digest, then the
    /// signature against `trusted`.
    pub fn verify(
        bytes: &[u8],
        wanted: &Digest,
        trusted: &TrustedKeys,
    ) -> Result<Self, RecordError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::Malformed("too long"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| RecordError::Malformed("not UTF-8"))?;
        let (body, signature_line) = text
            .strip_suffix('\n')
            .and_then(|text| text.rsplit_once('\n'))
            .map(|(body, last)| (&text[..=body.len()], last))
            .ok_or(RecordError::Malformed("too few lines"))?;
        let signature = signature_line
            .strip_prefix("signature ")
            .ok_or(RecordError::Malformed("no signature line"))?;
        let mut lines = body.lines();
        if lines.next() != Some(RECORD_HEADER) {
            return Err(RecordError::Malformed("header"));
        }
        let mut field = |name: &'static str| {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|line| line.strip_prefix(' '))
                .ok_or(RecordError::Malformed(name))
        };
        let (algorithm, hex) = field("digest")?
            .split_once(' ')
            .ok_or(RecordError::Malformed("digest"))?;
        let filename = field("wheel")?.to_owned();
        let wheel_size = number(field("size")?)?;
        let archive =
            ContentDigest::hex(field("archive")?).map_err(|_| RecordError::Malformed("archive"))?;
        let (pack_digest, pack_size) = field("pack")?
            .split_once(' ')
            .ok_or(RecordError::Malformed("pack"))?;
        let key = field("key")?.to_owned();
        if lines.next().is_some() {
            return Err(RecordError::Malformed("extra lines"));
        }
        let digest: Digest = format!("{algorithm}:{hex}")
            .parse()
            .map_err(|_| RecordError::Malformed("digest"))?;
        let record = Self {
            digest,
            wheel: IndexRecord {
                archive,
                wheel_size,
                filename,
            },
            pack: PackRef {
                digest: ContentDigest::hex(pack_digest)
                    .map_err(|_| RecordError::Malformed("pack"))?,
                size: number(pack_size)?,
            },
        };
        // Only the exact text this crate writes is accepted: no second spelling to sign.
        if record.body(&key) != body
            || !IndexRecord::is_valid_filename(&record.wheel.filename)
            || !valid_name(&key)
        {
            return Err(RecordError::Malformed("not in canonical form"));
        }
        if record.digest != *wanted {
            return Err(RecordError::OtherDigest {
                wanted: wanted.to_string(),
                found: record.digest.to_string(),
            });
        }
        if !trusted.verifies(&key, body.as_bytes(), signature) {
            return Err(RecordError::Untrusted { key });
        }
        Ok(record)
    }
}

fn number(text: &str) -> Result<u64, RecordError> {
    text.parse().map_err(|_| RecordError::Malformed("number"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn record() -> EntryRecord {
        EntryRecord {
            digest: format!("sha256:{}", "ab".repeat(32)).parse().unwrap(),
            wheel: IndexRecord {
                archive: ContentDigest::hex(&"cd".repeat(32)).unwrap(),
                wheel_size: 1234,
                filename: "demo-1.0-py3-none-any.whl".to_owned(),
            },
            pack: PackRef {
                digest: ContentDigest::hex(&"ef".repeat(32)).unwrap(),
                size: 999,
            },
        }
    }

    #[test]
    fn a_signed_record_round_trips_and_any_change_is_refused() {
        let key = SigningKey::generate("ci").unwrap();
        let mut trusted = TrustedKeys::default();
        trusted.insert(key.public_key());
        let text = record().to_signed_text(&key);
        let wanted = record().digest;
        assert_eq!(
            EntryRecord::verify(text.as_bytes(), &wanted, &trusted),
            Ok(record())
        );
        // Every single-byte change of the text is refused.
        for at in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[at] ^= 0x01;
            assert!(
                EntryRecord::verify(&bytes, &wanted, &trusted).is_err(),
                "changed byte {at} of {text:?} was accepted"
            );
        }
        let other: Digest = format!("sha256:{}", "12".repeat(32)).parse().unwrap();
        assert!(matches!(
            EntryRecord::verify(text.as_bytes(), &other, &trusted),
            Err(RecordError::OtherDigest { .. })
        ));
        let stranger = SigningKey::generate("ci").unwrap();
        let forged = record().to_signed_text(&stranger);
        assert!(matches!(
            EntryRecord::verify(forged.as_bytes(), &wanted, &trusted),
            Err(RecordError::Untrusted { .. })
        ));
        assert!(EntryRecord::verify(b"", &wanted, &trusted).is_err());
    }
}

//! What maintenance reads of a pointer record: the fields it shows or decides by, parsed without
//! allocating for the rest.
//!
//! A scan reads every pointer in the cache (100,000 in a large one), so the record it keeps is
//! lean: the compatibility tags are checked and dropped, and of the known hashes only the
//! BLAKE3 digest is kept (verify compares it with the archive name). A record reads here exactly
//! when it reads as a [`Pointer`], so a scan never disagrees with a fetch about what is usable.

use std::fmt;

use cairn_fs::ContentDigest;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::POINTER_FORMAT;
#[cfg(doc)]
use crate::Pointer;

/// The fields of a pointer record maintenance uses.
#[derive(Debug, Deserialize)]
pub(crate) struct PointerSummary {
    #[serde(rename = "format")]
    _format: Format,
    pub(crate) source: String,
    pub(crate) filename: String,
    pub(crate) name: String,
    pub(crate) version: String,
    #[serde(rename = "tags")]
    _tags: AnyString,
    pub(crate) archive: String,
    hashes: Blake3Hash,
    #[serde(rename = "size")]
    _size: u64,
    #[serde(rename = "source_modified")]
    _source_modified: Option<i128>,
    pub(crate) last_used: u64,
}

impl PointerSummary {
    /// Parses `bytes` as a usable record: the current format, with a valid archive name.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        let mut summary: Self = serde_json::from_slice(bytes).ok()?;
        ContentDigest::hex(&summary.archive).ok()?;
        // Kept only when it disagrees with the archive name (damage, for verify to report): the
        // usual record then costs no allocation for it.
        if summary.hashes.0.as_deref() == Some(summary.archive.as_str()) {
            summary.hashes.0 = None;
        }
        Some(summary)
    }

    /// The BLAKE3 digest among the record's known hashes when it is not the archive name it
    /// should be, as hex.
    pub(crate) fn mismatched_blake3(&self) -> Option<&str> {
        self.hashes.0.as_deref()
    }
}

/// The record's format number, which must be [`POINTER_FORMAT`].
#[derive(Debug)]
struct Format;

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let format = u32::deserialize(deserializer)?;
        if format == POINTER_FORMAT {
            Ok(Format)
        } else {
            Err(de::Error::custom(format_args!(
                "pointer format {format}, expected {POINTER_FORMAT}"
            )))
        }
    }
}

/// A JSON string, checked and not kept.
#[derive(Debug)]
struct AnyString;

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor("a string", |_| AnyString))
    }
}

/// Visits one JSON string, handing it to the function as `&str`: escaped strings arrive through
/// the parser's scratch buffer, so there is no allocation either way.
struct StrVisitor<T>(&'static str, fn(&str) -> T);

impl<T> Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        Ok((self.1)(text))
    }
}

/// The hex of the first `blake3:<hex>` entry in a list of `algorithm:hex` strings.
#[derive(Debug, Default)]
struct Blake3Hash(Option<String>);

impl<'de> Deserialize<'de> for Blake3Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(Blake3HashVisitor)
    }
}

struct Blake3HashVisitor;

impl<'de> Visitor<'de> for Blake3HashVisitor {
    type Value = Blake3Hash;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of `algorithm:hex` strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Blake3Hash, A::Error> {
        let mut found = Blake3Hash::default();
        while let Some(entry) = seq.next_element::<HashEntry>()? {
            if found.0.is_none() {
                found.0 = entry.0;
            }
        }
        Ok(found)
    }
}

/// One `algorithm:hex` string: the hex when the algorithm is BLAKE3.
struct HashEntry(Option<String>);

impl<'de> Deserialize<'de> for HashEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor("an `algorithm:hex` string", |entry| {
            HashEntry(
                entry
                    .split_once(':')
                    .filter(|(algorithm, _)| *algorithm == "blake3")
                    .map(|(_, hex)| hex.to_owned()),
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::PointerSummary;
    use crate::Pointer;

    const ARCHIVE: &str = "cd5b985d8ec738a649a8232873742fc1022264e53e5a4d8d0c1b0f54a0e47c38";

    fn record(fields: &[(&str, &str)]) -> String {
        let mut defaults = vec![
            ("format", "1".to_owned()),
            (
                "source",
                r#""/wheels/tomli-2.2.1-py3-none-any.whl""#.to_owned(),
            ),
            ("filename", r#""tomli-2.2.1-py3-none-any.whl""#.to_owned()),
            ("name", r#""tomli""#.to_owned()),
            ("version", r#""2.2.1""#.to_owned()),
            ("tags", r#""py3-none-any""#.to_owned()),
            ("archive", format!(r#""{ARCHIVE}""#)),
            (
                "hashes",
                format!(r#"["sha256:00ff", "blake3:{ARCHIVE}", "blake3:ab"]"#),
            ),
            ("size", "65572".to_owned()),
            ("source_modified", "1790724471000000000".to_owned()),
            ("last_used", "1790724471".to_owned()),
        ];
        for (key, value) in fields {
            match defaults.iter_mut().find(|(name, _)| name == key) {
                Some(field) => field.1 = (*value).to_owned(),
                None => defaults.push((key, (*value).to_owned())),
            }
        }
        let body: Vec<String> = defaults
            .iter()
            .filter(|(_, value)| value != "<absent>")
            .map(|(key, value)| format!(r#""{key}": {value}"#))
            .collect();
        format!("{{{}}}", body.join(", "))
    }

    /// What the fetch path decides: the record parses as a `Pointer` of the current format
    /// with a valid archive name.
    fn usable_pointer(json: &str) -> Option<Pointer> {
        let pointer: Pointer = serde_json::from_str(json).ok()?;
        (pointer.format == crate::POINTER_FORMAT && pointer.archive_digest().is_ok())
            .then_some(pointer)
    }

    #[test]
    fn reads_exactly_what_a_pointer_reads() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("tags", r#""py3-none-\u0061ny""#)],
            &[("name", r#""to\"mli""#)],
            &[("hashes", "[]")],
            &[("hashes", r#"["sha256:00"]"#)],
            &[("hashes", r#"["blake3"]"#)],
            &[("source_modified", "null")],
            &[("source_modified", "-5")],
            &[("extra", r#"{"nested": [1, 2]}"#)],
            // Unusable, one way or another.
            &[("format", "2")],
            &[("format", r#""1""#)],
            &[("format", "-1")],
            &[("tags", "<absent>")],
            &[("tags", "3")],
            &[("tags", "null")],
            &[("hashes", "<absent>")],
            &[("hashes", r#""blake3:00""#)],
            &[("hashes", "[1]")],
            &[("hashes", r#"["a", null]"#)],
            &[("size", "-1")],
            &[("size", "<absent>")],
            &[("source_modified", "<absent>")],
            &[("source_modified", r#""now""#)],
            &[("last_used", "1.5")],
            &[("archive", r#""not-hex""#)],
            &[("archive", r#""CD5B""#)],
            &[("name", "<absent>")],
            &[("source", "null")],
        ];
        for fields in cases {
            let json = record(fields);
            let pointer = usable_pointer(&json);
            let summary = PointerSummary::parse(json.as_bytes());
            assert_eq!(
                pointer.is_some(),
                summary.is_some(),
                "{json}: pointer {pointer:?}, summary {summary:?}"
            );
            if let (Some(pointer), Some(summary)) = (pointer, summary) {
                assert_eq!(summary.name, pointer.name);
                assert_eq!(summary.version, pointer.version);
                assert_eq!(summary.filename, pointer.filename);
                assert_eq!(summary.source, pointer.source);
                assert_eq!(summary.archive, pointer.archive);
                assert_eq!(summary.last_used, pointer.last_used);
                let mismatched = pointer.hash("blake3").filter(|hex| *hex != pointer.archive);
                assert_eq!(summary.mismatched_blake3(), mismatched, "{json}");
            }
        }
        for broken in ["", "{", "[]", "null", &record(&[])[1..]] {
            assert!(
                PointerSummary::parse(broken.as_bytes()).is_none(),
                "{broken}"
            );
        }
    }

    #[test]
    fn keeps_the_first_blake3_digest_only_when_it_is_not_the_archive() {
        let summary = PointerSummary::parse(record(&[]).as_bytes());
        assert!(summary.is_some_and(|summary| summary.mismatched_blake3().is_none()));
        let json = record(&[("hashes", r#"["blake3:ab", "blake3:cd"]"#)]);
        let summary = PointerSummary::parse(json.as_bytes());
        assert_eq!(
            summary.as_ref().and_then(PointerSummary::mismatched_blake3),
            Some("ab")
        );
    }
}

//! Property tests of the project page parsers (PEP 691 JSON and PEP 503 HTML), through
//! [`IndexClient::files`] against a real HTTP server on 127.0.0.1.
//!
//! Pages are generated from a model (files with relative or absolute links, SHA-256 digests,
//! `Requires-Python`, yanked reasons, sizes, core-metadata links, attributes in any order,
//! case and quoting, character references, comments) in both formats: each must read back as
//! the model. Random and damaged pages must be read or refused with a typed error, never a
//! panic or a hang. `PROPTEST_CASES` raises the number of cases (see `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_cache::Cache;
use cairn_hash::Digest;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{IndexClient, IndexError, IndexFile, MetadataLink};
use cairn_test_support::http_server::{Response, TestServer};
use proptest::prelude::*;
use proptest::test_runner::Config;
use url::Url;

/// Cases per property by default: each case is one HTTP request.
const DEFAULT_CASES: u32 = 128;

fn config() -> Config {
    cairn_test_support::prop::config(DEFAULT_CASES, "proptest-regressions/prop_pages.txt")
}

/// One runtime and one server for every case of the file.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| runtime().block_on(TestServer::start()))
}

/// Serves `body` as the page of a project of its own and lists its files.
fn serve_and_read(
    body: Vec<u8>,
    content_type: &str,
) -> (String, Result<Vec<IndexFile>, IndexError>) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let project = format!("p{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let server = server();
    server.route(
        &format!("/simple/{project}/"),
        Response::ok(body).header("Content-Type", content_type),
    );
    let http = HttpClient::new(ClientSettings {
        retries: 0,
        read_timeout: Duration::from_secs(10),
        ..ClientSettings::default()
    })
    .unwrap();
    let client = IndexClient::new(http, Cache::temporary().unwrap(), server.url("/simple/"));
    let result = runtime().block_on(client.files(&project));
    (project, result)
}

#[derive(Debug, Clone)]
struct ModelFile {
    filename: String,
    /// 0: relative to the page (`../../packages/…`), 1: absolute path, 2: another host.
    link: u8,
    sha256: Option<[u8; 32]>,
    requires_python: Option<String>,
    yanked: Option<String>,
    size: Option<u64>,
    /// `None`: no link; `Some(None)`: offered without digest; `Some(Some(d))`: with one.
    core_metadata: Option<Option<[u8; 32]>>,
}

impl ModelFile {
    fn href(&self) -> String {
        match self.link {
            0 => format!("../../packages/{}", self.filename),
            1 => format!("/files/{}", self.filename),
            _ => format!("https://files.example.org/x/{}", self.filename),
        }
    }

    fn url(&self, server: &TestServer) -> Url {
        match self.link {
            0 => server.url(&format!("/packages/{}", self.filename)),
            1 => server.url(&format!("/files/{}", self.filename)),
            _ => Url::parse(&format!("https://files.example.org/x/{}", self.filename)).unwrap(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sha256(bytes: &[u8; 32]) -> Digest {
    format!("sha256:{}", hex(bytes)).parse().unwrap()
}

/// Text as HTML writes it in an attribute: `&`, `<`, `>` and quotes as references, chosen at
/// random between named and numeric forms.
fn escape(text: &str, numeric: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match (c, numeric) {
            ('&', false) => out.push_str("&amp;"),
            ('<', false) => out.push_str("&lt;"),
            ('>', false) => out.push_str("&gt;"),
            ('"', false) => out.push_str("&quot;"),
            ('\'', false) => out.push_str("&#39;"),
            ('&' | '<' | '>' | '"' | '\'', true) => {
                out.push_str(&format!("&#x{:x};", u32::from(c)))
            }
            _ => out.push(c),
        }
    }
    out
}

fn model_file() -> impl Strategy<Value = ModelFile> {
    (
        prop_oneof![
            "p-[0-9]\\.[0-9]-py3-none-any\\.whl",
            "p-[0-9]\\.[0-9]\\.tar\\.gz",
            "[a-z]{1,5}-[0-9]\\.[0-9]-cp3[0-9]{1,2}-abi3-manylinux_2_17_x86_64\\.whl",
        ],
        0u8..3,
        proptest::option::of(any::<[u8; 32]>()),
        proptest::option::of(prop_oneof![
            Just(">=3.8".to_owned()),
            Just(">=3.9,<4".to_owned()),
            Just("!=3.0.*,>2".to_owned())
        ]),
        proptest::option::of(prop_oneof![Just(String::new()), "[ -~]{1,20}"]),
        proptest::option::of(any::<u64>()),
        proptest::option::of(proptest::option::of(any::<[u8; 32]>())),
    )
        .prop_map(
            |(filename, link, sha256, requires_python, yanked, size, core_metadata)| ModelFile {
                filename,
                link,
                sha256,
                requires_python,
                yanked,
                size,
                core_metadata,
            },
        )
}

/// Spelling choices of an HTML page that must not change what it says.
#[derive(Debug, Clone)]
struct HtmlStyle {
    upper_tags: bool,
    single_quotes: bool,
    numeric_references: bool,
    comment: bool,
    reversed_attributes: bool,
}

fn html_style() -> impl Strategy<Value = HtmlStyle> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(upper_tags, single_quotes, numeric_references, comment, reversed_attributes)| {
                HtmlStyle {
                    upper_tags,
                    single_quotes,
                    numeric_references,
                    comment,
                    reversed_attributes,
                }
            },
        )
}

fn html_page(files: &[ModelFile], style: &HtmlStyle) -> String {
    let quote = if style.single_quotes { '\'' } else { '"' };
    let attribute = |name: &str, value: &str| {
        format!(
            " {name}={quote}{}{quote}",
            escape(value, style.numeric_references)
        )
    };
    let tag = if style.upper_tags { "A" } else { "a" };
    let mut page = String::from("<!DOCTYPE html>\n<html><head><title>Links</title></head><body>\n");
    if style.comment {
        page.push_str("<!-- <a href=\"/commented/p-0.0-py3-none-any.whl\">x</a> -->\n");
    }
    for file in files {
        let mut href = file.href();
        if let Some(digest) = &file.sha256 {
            href.push_str(&format!("#sha256={}", hex(digest)));
        }
        let mut attributes = vec![attribute(
            if style.upper_tags { "HREF" } else { "href" },
            &href,
        )];
        if let Some(requires) = &file.requires_python {
            attributes.push(attribute("data-requires-python", requires));
        }
        if let Some(reason) = &file.yanked {
            attributes.push(attribute("data-yanked", reason));
        }
        match &file.core_metadata {
            None => {}
            Some(None) => attributes.push(attribute("data-core-metadata", "true")),
            Some(Some(digest)) => {
                attributes.push(attribute(
                    "data-dist-info-metadata",
                    &format!("sha256={}", hex(digest)),
                ));
            }
        }
        if style.reversed_attributes {
            attributes.reverse();
        }
        page.push_str(&format!(
            "<{tag}{}>{}</{tag}><br/>\n",
            attributes.concat(),
            escape(&file.filename, false)
        ));
    }
    page.push_str("</body></html>\n");
    page
}

fn json_page(files: &[ModelFile]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|file| {
            let mut object = serde_json::Map::new();
            object.insert("filename".into(), file.filename.clone().into());
            object.insert("url".into(), file.href().into());
            let mut hashes = serde_json::Map::new();
            if let Some(digest) = &file.sha256 {
                hashes.insert("sha256".into(), hex(digest).into());
            }
            hashes.insert("md5".into(), "0123".into());
            object.insert("hashes".into(), hashes.into());
            if let Some(requires) = &file.requires_python {
                object.insert("requires-python".into(), requires.clone().into());
            }
            match &file.yanked {
                None => {}
                Some(reason) if reason.is_empty() => {
                    object.insert("yanked".into(), true.into());
                }
                Some(reason) => {
                    object.insert("yanked".into(), reason.clone().into());
                }
            }
            if let Some(size) = file.size {
                object.insert("size".into(), size.into());
            }
            match &file.core_metadata {
                None => {}
                Some(None) => {
                    object.insert("core-metadata".into(), true.into());
                }
                Some(Some(digest)) => {
                    object.insert(
                        "core-metadata".into(),
                        serde_json::json!({ "sha256": hex(digest) }),
                    );
                }
            }
            serde_json::Value::Object(object)
        })
        .collect();
    serde_json::json!({
        "meta": { "api-version": "1.1" },
        "name": "p",
        "files": files,
    })
    .to_string()
}

/// Checks that `found` is what `files` say, `size` only when the format carries it.
fn check(found: &[IndexFile], files: &[ModelFile], with_size: bool) -> Result<(), TestCaseError> {
    prop_assert_eq!(found.len(), files.len(), "{:#?}", found);
    let server = server();
    for (found, file) in found.iter().zip(files) {
        prop_assert_eq!(&found.filename, &file.filename);
        prop_assert_eq!(&found.url, &file.url(server));
        prop_assert_eq!(
            &found.hashes,
            &file.sha256.iter().map(sha256).collect::<Vec<_>>()
        );
        prop_assert_eq!(&found.requires_python, &file.requires_python);
        prop_assert_eq!(&found.yanked, &file.yanked);
        if with_size {
            prop_assert_eq!(found.size, file.size);
        }
        let metadata = file.core_metadata.map(|digest| MetadataLink {
            hashes: digest.iter().map(sha256).collect(),
        });
        prop_assert_eq!(&found.core_metadata, &metadata);
    }
    Ok(())
}

/// Damage to a page's bytes: a byte set, the page cut, a slice repeated or removed.
fn damage(mut bytes: Vec<u8>, at: usize, kind: u8, value: u8) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    let at = at % bytes.len();
    match kind % 4 {
        0 => bytes[at] = value,
        1 => bytes.truncate(at),
        2 => {
            let end = (at + usize::from(value)).min(bytes.len());
            let copy = bytes[at..end].to_vec();
            bytes.splice(at..at, copy);
        }
        _ => {
            let end = (at + usize::from(value)).min(bytes.len());
            bytes.drain(at..end);
        }
    }
    bytes
}

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "text/html";

proptest! {
    #![proptest_config(config())]

    /// A generated HTML page reads back as its model.
    #[test]
    fn html_page_reads_as_its_model(
        files in proptest::collection::vec(model_file(), 0..5),
        style in html_style(),
    ) {
        let (_, result) = serve_and_read(html_page(&files, &style).into_bytes(), HTML);
        let found = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&found, &files, false)?;
    }

    /// A generated JSON page reads back as its model.
    #[test]
    fn json_page_reads_as_its_model(files in proptest::collection::vec(model_file(), 0..5)) {
        let (_, result) = serve_and_read(json_page(&files).into_bytes(), JSON);
        let found = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&found, &files, true)?;
    }

    /// A damaged page of either format, served as either format: files or a typed error whose
    /// message names the project's page, never a panic.
    #[test]
    fn damaged_pages_never_panic(
        files in proptest::collection::vec(model_file(), 0..4),
        style in html_style(),
        json in any::<bool>(),
        served_as_json in any::<bool>(),
        damages in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = if json { json_page(&files) } else { html_page(&files, &style) }.into_bytes();
        for (at, kind, value) in damages {
            bytes = damage(bytes, at, kind, value);
        }
        let (project, result) = serve_and_read(bytes, if served_as_json { JSON } else { HTML });
        match result {
            Ok(found) => {
                for file in found {
                    prop_assert!(!file.filename.is_empty());
                    prop_assert!(matches!(file.url.scheme(), "http" | "https" | "file"));
                    prop_assert_eq!(file.url.fragment(), None);
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.contains(&project), "{}", message);
            }
        }
    }

    /// A JSON page with one value of another type or range (`null`, negative or fractional
    /// sizes, objects for strings, unknown API versions, digests of any length): files or an
    /// error naming the page, never a panic; a file that reads keeps only digests cairn checks.
    #[test]
    fn json_values_of_the_wrong_type(
        files in proptest::collection::vec(model_file(), 1..4),
        which in any::<prop::sample::Index>(),
        field in prop_oneof![
            Just("filename"), Just("url"), Just("hashes"), Just("requires-python"), Just("yanked"),
            Just("size"), Just("core-metadata"), Just("dist-info-metadata"), Just("sha256"),
            Just("api-version"), Just("files"), Just("meta"),
        ],
        value in prop_oneof![
            Just(serde_json::Value::Null),
            Just(serde_json::json!(-1)),
            Just(serde_json::json!(1.5)),
            Just(serde_json::json!(u64::MAX)),
            Just(serde_json::json!("")),
            Just(serde_json::json!("2.0")),
            Just(serde_json::json!("1")),
            Just(serde_json::json!([])),
            Just(serde_json::json!({})),
            Just(serde_json::json!({"sha256": 5})),
            Just(serde_json::json!(true)),
            "[0-9a-fA-F]{0,130}".prop_map(serde_json::Value::from),
            "[ -~]{0,20}".prop_map(serde_json::Value::from),
        ],
    ) {
        let mut page: serde_json::Value = serde_json::from_str(&json_page(&files)).unwrap();
        let index = which.index(files.len());
        match field {
            "api-version" => page["meta"]["api-version"] = value,
            "files" | "meta" => page[field] = value,
            "sha256" => page["files"][index]["hashes"]["sha256"] = value,
            _ => page["files"][index][field] = value,
        }
        let (project, result) = serve_and_read(page.to_string().into_bytes(), JSON);
        match result {
            Ok(found) => {
                for file in found {
                    prop_assert!(matches!(file.url.scheme(), "http" | "https" | "file"));
                    for digest in &file.hashes {
                        prop_assert!(digest.to_string().starts_with("sha"), "{}", digest);
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.contains(&project), "{}", message);
            }
        }
    }

    /// Random text built from HTML's pieces: read without panic, each file an http(s) or file
    /// URL with a file name.
    #[test]
    fn random_html_never_panics(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("<a".to_owned()), Just("<A ".to_owned()), Just("<base".to_owned()),
                Just(" href=".to_owned()), Just("href".to_owned()), Just("=".to_owned()),
                Just("\"".to_owned()), Just("'".to_owned()), Just(">".to_owned()), Just("<".to_owned()),
                Just("</a>".to_owned()), Just("<!--".to_owned()), Just("-->".to_owned()),
                Just("&amp;".to_owned()), Just("&#x".to_owned()), Just("&#".to_owned()), Just("&".to_owned()),
                Just(";".to_owned()), Just("&#1114112;".to_owned()), Just("&#xD800;".to_owned()),
                Just("data-yanked".to_owned()), Just("data-core-metadata=".to_owned()),
                Just("../".to_owned()), Just("/".to_owned()), Just("p-1.0-py3-none-any.whl".to_owned()),
                Just("#sha256=".to_owned()), Just("http://".to_owned()), Just("javascript:".to_owned()),
                Just("é".to_owned()), Just(" ".to_owned()), Just("\n".to_owned()),
                "[0-9a-f]{1,64}",
                any::<String>(),
            ],
            0..30,
        ),
    ) {
        let (_, result) = serve_and_read(pieces.concat().into_bytes(), HTML);
        if let Ok(found) = result {
            for file in found {
                prop_assert!(!file.filename.is_empty());
                prop_assert!(matches!(file.url.scheme(), "http" | "https" | "file"));
            }
        }
    }
}

//! Reading a cached index page and choosing a wheel from it, on the largest real pages.
//!
//! - `parse/<project>`: what every read of a cached page cost while the simple bucket kept
//!   pages as served: read the JSON body from disk, parse it and classify every file (the
//!   selection that followed is not counted, so this is a lower bound of that path);
//! - `find_wheel/<project>`: what a read costs now: [`IndexClient::find_wheel`] offline on the
//!   cached compact page (read the file, validate it, find the version, build its files, pick
//!   the wheel);
//! - `store/<project>`: what a page from the index costs once, when it arrives: parse, reduce
//!   and write it.
//!
//! The pages are PyPI's PEP 691 JSON pages of botocore, boto3 and numpy (or the projects in
//! `$CAIRN_BENCH_INDEX_PAGES`, comma-separated), downloaded on the first `cargo bench` run into
//! `<target>/tmp/index-pages/` and reused; without a network they are skipped with a message.
//! The pinned version is the newest one with a wheel for CPython 3.12 on manylinux_2_28 x86_64.
//!
//! Outside `cargo bench` (a `cargo test --benches` smoke run, with no `--bench` argument), a
//! synthetic page of 4,000 files is used and nothing is downloaded.
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_cache::Cache;
use cairn_http::{ClientSettings, Fetched, HttpClient};
use cairn_index::{IndexClient, Version, bench};
use cairn_python::tags::Tags;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokio::io::AsyncReadExt;

const DEFAULT_PROJECTS: &str = "botocore,boto3,numpy";
const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// One page to measure: its project, and the body file.
struct Page {
    project: String,
    body: PathBuf,
}

/// Where downloaded pages are kept between runs.
fn page_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("index-pages")
}

/// The real pages, downloaded once; projects that cannot be downloaded are skipped.
fn real_pages(runtime: &tokio::runtime::Runtime) -> Vec<Page> {
    let projects =
        std::env::var("CAIRN_BENCH_INDEX_PAGES").unwrap_or_else(|_| DEFAULT_PROJECTS.to_owned());
    let dir = page_dir();
    std::fs::create_dir_all(&dir).expect("create the page directory");
    let http = HttpClient::new(ClientSettings::default()).expect("make an HTTP client");
    let mut pages = Vec::new();
    for project in projects.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let body = dir.join(format!("{project}.json"));
        if !body.is_file() {
            eprintln!(
                "index_pages: downloading PyPI's page of {project} into {}",
                dir.display()
            );
            match runtime.block_on(download(&http, project)) {
                Ok(bytes) => std::fs::write(&body, bytes).expect("store the page"),
                Err(error) => {
                    eprintln!(
                        "index_pages: skipping {project}: cannot download its page ({error}); \
                         run once with a network to measure it"
                    );
                    continue;
                }
            }
        }
        pages.push(Page {
            project: project.to_owned(),
            body,
        });
    }
    pages
}

async fn download(http: &HttpClient, project: &str) -> Result<Vec<u8>, String> {
    let url = format!("https://pypi.org/simple/{project}/")
        .parse()
        .map_err(|error| format!("{error}"))?;
    let Fetched::Body(download) = http
        .get_accepting(&url, None, Some(JSON))
        .await
        .map_err(|error| error.to_string())?
    else {
        return Err("no body".to_owned());
    };
    let mut body = Vec::new();
    download
        .into_async_read()
        .read_to_end(&mut body)
        .await
        .map_err(|error| error.to_string())?;
    Ok(body)
}

/// A JSON page of `files` files in the shape of PyPI's (two wheels a version), written into
/// `dir`.
fn synthetic_page(dir: &Path, files: usize) -> Page {
    let mut entries = Vec::with_capacity(files);
    for index in 0..files {
        let version = format!("1.{}.{}", index / 200, index / 2 % 100);
        let tag = if index % 2 == 0 {
            "py3-none-any"
        } else {
            "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
        };
        let name = format!("synthetic-{version}-{tag}.whl");
        entries.push(format!(
            r#"{{"filename": "{name}", "url": "https://files.example.org/packages/ab/cd/{index:060x}/{name}", "hashes": {{"sha256": "{index:064x}"}}, "requires-python": ">=3.8", "size": {index}, "yanked": false, "core-metadata": {{"sha256": "{index:064x}"}}}}"#
        ));
    }
    let body = format!(
        r#"{{"meta": {{"api-version": "1.1"}}, "name": "synthetic", "files": [{}]}}"#,
        entries.join(", ")
    );
    let path = dir.join("synthetic.json");
    std::fs::write(&path, body).expect("write the synthetic page");
    Page {
        project: "synthetic".to_owned(),
        body: path,
    }
}

fn index_page_benches(c: &mut Criterion) {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a runtime");
    let scratch = tempfile::tempdir().expect("create a temp directory");
    let pages = if measuring {
        real_pages(&runtime)
    } else {
        vec![synthetic_page(scratch.path(), 4_000)]
    };
    if pages.is_empty() {
        eprintln!("index_pages: no page to measure");
        return;
    }
    let tags = Tags::for_target((3, 12), "manylinux_2_28_x86_64").expect("make tags");
    let offline = HttpClient::new(ClientSettings {
        offline: true,
        ..ClientSettings::default()
    })
    .expect("make an HTTP client");

    let mut group = c.benchmark_group("index_pages");
    group.measurement_time(Duration::from_secs(5));
    for page in &pages {
        let cache = Cache::at(scratch.path().join(format!("cache-{}", page.project)))
            .expect("open a cache");
        let client = IndexClient::new(
            offline.clone(),
            cache,
            IndexClient::DEFAULT_INDEX.parse().expect("index URL"),
        );
        let body = std::fs::read(&page.body).expect("read the page");
        let files = bench::parse_page(&client, &page.project, &body).expect("parse the page");
        // The newest version with a wheel for the target: what a fresh pin usually names.
        let version: Version = files
            .iter()
            .filter(|file| {
                file.wheel()
                    .is_some_and(|wheel| tags.priority(wheel).is_some())
            })
            .filter_map(|file| file.version.clone())
            .max()
            .expect("a compatible wheel");
        let version = version.to_string();
        let stored = bench::store_page(&client, &page.project, &body).expect("store the page");
        let compact_size = std::fs::metadata(stored.path()).expect("stat").len();
        let found = runtime
            .block_on(client.find_wheel(&page.project, &version, &tags))
            .expect("find the wheel");
        eprintln!(
            "index_pages: {}: {} files, {} bytes of JSON, {} bytes compact; {version} -> {}",
            page.project,
            files.len(),
            body.len(),
            compact_size,
            found.filename()
        );

        group.bench_with_input(
            BenchmarkId::new("parse", &page.project),
            &page.body,
            |b, path| {
                b.iter(|| {
                    let body = std::fs::read(path).expect("read the page");
                    bench::parse_page(&client, &page.project, &body).expect("parse the page")
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("find_wheel", &page.project),
            &version,
            |b, version| {
                b.iter(|| {
                    runtime
                        .block_on(client.find_wheel(&page.project, version, &tags))
                        .expect("find the wheel")
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("store", &page.project),
            &body,
            |b, body| {
                b.iter(|| bench::store_page(&client, &page.project, body).expect("store"));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, index_page_benches);
criterion_main!(benches);

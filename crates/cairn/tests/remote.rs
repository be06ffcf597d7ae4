//! The remote tier (`--remote`), with the real `cairn` binary: what one machine publishes,
//! another installs with no request to the index; what anyone with write access to the bucket
//! changes is never installed; racing publishers leave one object; a remote that is down or
//! stalls costs a warning, not the install.
//!
//! Every scenario runs on a `file://` remote, and on the S3 remote of the environment when
//! `eval "$(scripts/remote-up.sh)"` set one (Garage, as `.ci/run` does); under `CI=true` a
//! missing S3 remote fails the test instead of skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use cairn_remote::SigningKey;
use cairn_remote::object_store::ObjectStoreExt as _;
use cairn_remote::object_store::path::Path as ObjectPath;
use cairn_remote::record::EntryRecord;
use cairn_test_support::http_server::Response;
use support::remote::{
    Backend, Index, Keys, Machine, demo_wheel, greeting, objects, packs, pins, success,
};
use support::{stderr, stdout};

#[test]
fn machine_b_installs_what_machine_a_published_with_no_index_request() {
    for backend in Backend::all() {
        let work = tempfile::tempdir().unwrap();
        let keys = Keys::new("ci-1");
        let wheel = demo_wheel("from a");
        let index = Index::start(&wheel);
        let pins = pins(work.path(), &index.sha256);
        let a = Machine::writer(work.path(), "a", &backend, &keys);
        let out = success(&a.install(&pins, &index.url(), &work.path().join("ta")));
        assert!(out.contains("Published 1 wheel"), "{}: {out}", backend.url);
        let served = index.server.total_hits();

        // Machine B: a new cache; the index now fails every request.
        index
            .server
            .route("/simple/demo-app/", Response::status(500));
        let b = Machine::reader(work.path(), "b", &backend, &keys);
        let target = work.path().join("tb");
        success(&b.install(&pins, &index.url(), &target));
        assert_eq!(index.server.total_hits(), served, "{}", backend.url);
        assert_eq!(greeting(&target), "GREETING = 'from a'\n");
        // A reader publishes nothing (no signing key), and the second install is a local hit.
        let again = success(&b.install(&pins, &index.url(), &work.path().join("tb2")));
        assert!(!again.contains("Published"), "{again}");

        // Every object checks out.
        let verified = b.run(&["cache", "verify", "--remote-tier"]);
        let text = success(&verified) + &stdout(&verified);
        assert!(
            text.contains("Checked 1 record and 1 pack") && text.contains("0 damaged"),
            "{text}"
        );
    }
}

#[test]
fn objects_changed_by_anyone_with_write_access_are_never_installed() {
    for backend in Backend::all() {
        let work = tempfile::tempdir().unwrap();
        let keys = Keys::new("ci-1");
        let good = demo_wheel("good");
        let index = Index::start(&good);
        let pins = pins(work.path(), &index.sha256);
        let a = Machine::writer(work.path(), "a", &backend, &keys);
        success(&a.install(&pins, &index.url(), &work.path().join("ta")));
        let client = backend.client(&keys.key);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let record_path = client.record_path(
            &cairn_types::PackageName::new("demo-app"),
            &format!("sha256:{}", index.sha256).parse().unwrap(),
        );
        let record_bytes = runtime
            .block_on(async { client.store().get(&record_path).await?.bytes().await })
            .unwrap();
        let digest = format!("sha256:{}", index.sha256).parse().unwrap();
        let record = EntryRecord::verify(&record_bytes, &digest, client.trusted()).unwrap();
        let pack_path = client.pack_path(&record.pack.digest);

        // An evil wheel of the same name, published by an attacker under its own prefix, whose
        // pack then replaces the good one.
        let evil_backend = Backend::file();
        let evil_keys = Keys::new("ci-1");
        let evil_index = Index::start(&demo_wheel("evil"));
        let evil = Machine::writer(work.path(), "evil", &evil_backend, &evil_keys);
        let evil_pins = work.path().join("evil-pins.txt");
        std::fs::write(
            &evil_pins,
            format!("demo-app==1.0 --hash=sha256:{}\n", evil_index.sha256),
        )
        .unwrap();
        success(&evil.install(&evil_pins, &evil_index.url(), &work.path().join("te")));
        let evil_client = evil_backend.client(&evil_keys.key);
        let evil_pack = packs(&evil_client).pop().unwrap();
        let evil_pack_bytes = runtime
            .block_on(async {
                evil_client
                    .store()
                    .get(&ObjectPath::from(evil_pack.as_str()))
                    .await?
                    .bytes()
                    .await
            })
            .unwrap();

        // The attacker can write packs too: the evil one sits beside the good one.
        runtime
            .block_on(client.store().put(
                &ObjectPath::from(evil_pack.replacen(
                    evil_client.root().as_ref(),
                    client.root().as_ref(),
                    1,
                )),
                evil_pack_bytes.clone().into(),
            ))
            .unwrap();
        let b = Machine::reader(work.path(), "b", &backend, &keys);
        let cases: Vec<(&str, Vec<u8>, &ObjectPath)> = vec![
            // The pack's bytes replaced by another valid pack.
            ("pack replaced", evil_pack_bytes.to_vec(), &pack_path),
            // The record re-signed by a key the reader does not trust, naming the evil pack.
            (
                "record signed by a stranger",
                EntryRecord {
                    pack: cairn_remote::record::PackRef {
                        digest: cairn_fs::ContentDigest::hex(
                            evil_pack
                                .rsplit('/')
                                .next()
                                .unwrap()
                                .trim_end_matches(".tar.zst"),
                        )
                        .unwrap(),
                        size: evil_pack_bytes.len() as u64,
                    },
                    ..record.clone()
                }
                .to_signed_text(&evil_keys.key)
                .into_bytes(),
                &record_path,
            ),
            // The record edited by hand: its signature no longer matches.
            (
                "record edited",
                String::from_utf8(record_bytes.to_vec())
                    .unwrap()
                    .replacen("size ", "size 1", 1)
                    .into_bytes(),
                &record_path,
            ),
        ];
        for (case, bytes, path) in cases {
            let original = runtime
                .block_on(async { client.store().get(path).await?.bytes().await })
                .unwrap();
            runtime
                .block_on(client.store().put(path, bytes.into()))
                .unwrap();
            let cache = work.path().join(format!("b-{}", case.replace(' ', "-")));
            let b = Machine {
                cache: cache.clone(),
                ..Machine::reader(work.path(), "unused", &backend, &keys)
            };
            let target = work.path().join(format!("t-{}", case.replace(' ', "-")));
            let served = index.server.total_hits();
            let out = success(&b.install(&pins, &index.url(), &target));
            assert_eq!(greeting(&target), "GREETING = 'good'\n", "{case}: {out}");
            assert!(
                index.server.total_hits() > served,
                "{case}: the index was not asked"
            );
            assert!(
                out.contains("WARN") || out.contains("warning"),
                "{case}: no warning: {out}"
            );
            let verify = b.run(&["cache", "verify", "--remote-tier"]);
            assert_eq!(verify.status.code(), Some(1), "{case}: {}", stdout(&verify));
            runtime
                .block_on(client.store().put(path, original.into()))
                .unwrap();
        }
        // Restored, it serves again.
        let target = work.path().join("t-restored");
        let served = index.server.total_hits();
        success(&b.install(&pins, &index.url(), &target));
        assert_eq!(index.server.total_hits(), served);
    }
}

#[test]
fn racing_publishers_on_two_cache_roots_leave_one_object() {
    for backend in Backend::all() {
        let work = tempfile::tempdir().unwrap();
        let keys = Keys::new("ci-1");
        let wheel = demo_wheel("raced");
        let index = Index::start(&wheel);
        let pins = pins(work.path(), &index.sha256);
        let children: Vec<_> = (0..8)
            .map(|n| {
                let machine = Machine::writer(
                    work.path(),
                    if n % 2 == 0 { "root-a" } else { "root-b" },
                    &backend,
                    &keys,
                );
                machine
                    .install_command(&pins, &index.url(), &work.path().join(format!("t{n}")))
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            success(&child.wait_with_output().unwrap());
        }
        let client = backend.client(&keys.key);
        let names = objects(&client);
        assert_eq!(names.len(), 2, "{}: {names:?}", backend.url);
        assert_eq!(packs(&client).len(), 1, "{names:?}");
    }
}

/// A port with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_remote_that_is_down_or_stalls_costs_one_warning_not_the_install() {
    let work = tempfile::tempdir().unwrap();
    let keys = Keys::new("ci-1");
    let wheel = demo_wheel("from the index");
    let index = Index::start(&wheel);
    let pins = pins(work.path(), &index.sha256);
    // A listener that accepts and never answers.
    let stalled = TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_port = stalled.local_addr().unwrap().port();
    for (case, port) in [("down", closed_port()), ("stalled", stalled_port)] {
        let backend = Backend {
            url: "s3://cairn/prefix".to_owned(),
            env: vec![
                (
                    "AWS_ENDPOINT_URL".to_owned(),
                    format!("http://127.0.0.1:{port}"),
                ),
                ("AWS_ACCESS_KEY_ID".to_owned(), "GK0000".to_owned()),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), "0".repeat(64)),
                ("AWS_REGION".to_owned(), "garage".to_owned()),
                ("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()),
            ],
            dir: None,
        };
        let mut machine = Machine::writer(work.path(), case, &backend, &keys);
        machine.trusted = keys.key.public_key().to_string();
        let target = work.path().join(format!("t-{case}"));
        let started = Instant::now();
        let output = machine
            .install_command(&pins, &index.url(), &target)
            .env("CAIRN_REMOTE_TIMEOUT", "1")
            .output()
            .unwrap();
        let out = success(&output);
        assert_eq!(greeting(&target), "GREETING = 'from the index'\n");
        assert_eq!(
            out.matches("not answering").count(),
            1,
            "{case}: one warning: {out}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{case}: took {:?}",
            started.elapsed()
        );
    }
    drop(stalled);
}

#[test]
fn push_then_pull_warms_a_cache_that_then_installs_offline() {
    let backend = Backend::file();
    let work = tempfile::tempdir().unwrap();
    let keys = Keys::new("ci-1");
    let wheel = demo_wheel("pushed");
    let index = Index::start(&wheel);
    let pins = pins(work.path(), &index.sha256);
    // Machine A installs with no remote, then pushes its cache.
    let a = Machine::writer(work.path(), "a", &backend, &keys);
    success(
        &a.command(&[
            "--remote-write",
            "never",
            "install",
            "-r",
            pins.to_str().unwrap(),
            "--index-url",
            &index.url(),
            "--target",
            work.path().join("ta").to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    let client = backend.client(&keys.key);
    assert!(objects(&client).is_empty(), "--remote-write never wrote");
    let pushed = a.run(&["cache", "push", "demo-app"]);
    success(&pushed);
    assert!(
        stdout(&pushed).contains("1 pack uploaded"),
        "{}",
        stdout(&pushed)
    );
    let again = a.run(&["cache", "push"]);
    assert!(
        stdout(&again).contains("0 packs uploaded"),
        "{}",
        stdout(&again)
    );

    let b = Machine::reader(work.path(), "b", &backend, &keys);
    let pulled = b.run(&["cache", "pull", "-r", pins.to_str().unwrap()]);
    success(&pulled);
    assert!(
        stdout(&pulled).contains("Pulled 1 wheel"),
        "{}",
        stdout(&pulled)
    );
    let target = work.path().join("tb");
    success(
        &b.command(&[
            "--offline",
            "install",
            "-r",
            pins.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(greeting(&target), "GREETING = 'pushed'\n");

    // Pruning by age: nothing is that old yet, then everything is.
    let kept = a.run(&["cache", "prune", "--remote-tier", "--max-age", "1d"]);
    assert!(
        stdout(&kept).contains("Removed 0 records and 0 packs"),
        "{}",
        stdout(&kept)
    );
    let removed = a.run(&["cache", "prune", "--remote-tier", "--max-age", "0s"]);
    assert!(
        stdout(&removed).contains("Removed 1 record and 1 pack"),
        "{}{}",
        stdout(&removed),
        stderr(&removed)
    );
    assert!(objects(&client).is_empty());
}

#[test]
fn a_remote_without_keys_or_with_a_bad_key_is_refused_with_what_to_do() {
    let backend = Backend::file();
    let work = tempfile::tempdir().unwrap();
    let machine = Machine {
        cache: work.path().join("c"),
        backend: &backend,
        signing: None,
        trusted: String::new(),
    };
    let output = machine.run(&["install", "demo-app==1.0", "--target", "t"]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("CAIRN_REMOTE_TRUSTED_KEYS") && text.contains("cairn cache keygen"),
        "{text}"
    );
    let secret = SigningKey::generate("k").unwrap().to_secret_text();
    let damaged = format!("{}x", &secret[..secret.len() - 4]);
    let output = machine
        .command(&["cache", "push"])
        .env("CAIRN_REMOTE_SIGNING_KEY", &damaged)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.contains("CAIRN_REMOTE_SIGNING_KEY"), "{text}");
    assert!(
        !text.contains(&damaged[2..]),
        "the secret was printed: {text}"
    );
}

#[test]
fn credentials_region_and_endpoint_come_from_an_aws_profile_too() {
    let Some(backend) = Backend::s3() else {
        return;
    };
    let var = |name: &str| {
        backend
            .env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("the S3 backend has no {name}"))
    };
    let work = tempfile::tempdir().unwrap();
    let keys = Keys::new("ci-1");
    let index = Index::start(&demo_wheel("from a profile"));
    let pins = pins(work.path(), &index.sha256);
    let a = Machine::writer(work.path(), "a", &backend, &keys);
    success(&a.install(&pins, &index.url(), &work.path().join("ta")));
    let served = index.server.total_hits();

    // Machine B has no AWS_* variable but the profile's files, as `aws configure` writes them.
    let credentials = work.path().join("credentials");
    let config = work.path().join("config");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = WRONG\n\n[fleet]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            var("AWS_ACCESS_KEY_ID"),
            var("AWS_SECRET_ACCESS_KEY")
        ),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile fleet]\nregion = {}\nendpoint_url = {}\n",
            var("AWS_REGION"),
            var("AWS_ENDPOINT_URL")
        ),
    )
    .unwrap();
    let profiled = Backend {
        url: backend.url.clone(),
        env: vec![
            ("AWS_PROFILE".to_owned(), "fleet".to_owned()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
                credentials.display().to_string(),
            ),
            ("AWS_CONFIG_FILE".to_owned(), config.display().to_string()),
        ],
        dir: None,
    };
    let b = Machine::reader(work.path(), "b", &profiled, &keys);
    let target = work.path().join("tb");
    let mut command = b.install_command(&pins, &index.url(), &target);
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ALLOW_HTTP",
    ] {
        command.env_remove(name);
    }
    let out = success(&command.output().unwrap());
    assert!(!out.contains("not answering"), "{out}");
    assert_eq!(
        index.server.total_hits(),
        served,
        "B asked the index: {out}"
    );
    assert_eq!(greeting(&target), "GREETING = 'from a profile'\n");
}

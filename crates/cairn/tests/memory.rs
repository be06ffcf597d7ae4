//! Peak memory of a fetch (from disk and over HTTP) and an install does not grow with the
//! wheel's size, nor with the number of wheels one install unpacks.
//!
//! One test per file on purpose: `getrusage(RUSAGE_CHILDREN)` reports the largest peak of every
//! child this process has waited for, so no other test may run children beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};

use cairn_test_support::wheel::{write_deflated_noise_wheel, write_noise_wheel};

/// What issue #6 allows any fetch or install: 100 MiB.
const PEAK_LIMIT_KIB: i64 = 100 * 1024;

/// The largest resident set (KiB) of any child process waited for so far.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: `getrusage` only writes the struct it is given, which is zeroed and ours.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    }
}

#[test]
fn fetching_and_installing_a_large_wheel_keeps_peak_memory_bounded() {
    let temp = tempfile::tempdir().unwrap();
    let cache = temp.path().join("cache");
    // 240 MiB that do not compress, in one huge file and a few hundred small ones: the wheel
    // file is as large as its content, so mapping or buffering it whole would show.
    let parts: Vec<String> = (0..400).map(|i| format!("bulky/part{i}.py")).collect();
    let mut files: Vec<(&str, u64)> = vec![("bulky/lib.so", 200 << 20)];
    files.extend(parts.iter().map(|part| (part.as_str(), 100 << 10)));
    let wheel = write_noise_wheel(temp.path(), "bulky", "1.0", &files);
    let wheel = wheel.to_str().unwrap();

    support::ok(&cache, &["fetch", wheel]);
    let after_fetch = children_peak_rss_kib();
    assert!(
        after_fetch < PEAK_LIMIT_KIB,
        "a cold fetch of a 240 MiB wheel peaked at {after_fetch} KiB"
    );

    let target = temp.path().join("target");
    support::ok(
        &temp.path().join("cold-cache"),
        &["install", wheel, "--target", target.to_str().unwrap()],
    );
    let after_install = children_peak_rss_kib();
    assert!(
        after_install < PEAK_LIMIT_KIB,
        "a cold install of a 240 MiB wheel peaked at {after_install} KiB"
    );
    assert_eq!(
        std::fs::metadata(target.join("bulky/lib.so"))
            .unwrap()
            .len(),
        200 << 20
    );

    // Several large wheels in one command take turns at hashing and unpacking (two at once
    // here, whatever the machine): all at once, each one's mapped window adds to the peak.
    let many = temp.path().join("many");
    std::fs::create_dir(&many).unwrap();
    let names: Vec<String> = (0..6).map(|index| format!("many{index}")).collect();
    let wheels: Vec<String> = names
        .iter()
        .map(|name| {
            let payload = format!("{name}/data.bin");
            let wheel = write_noise_wheel(&many, name, "1.0", &[(payload.as_str(), 48 << 20)]);
            wheel.to_str().unwrap().to_owned()
        })
        .collect();
    let many_target = temp.path().join("many-target");
    let mut args = vec![
        "--concurrent-unpacks",
        "2",
        "install",
        "--target",
        many_target.to_str().unwrap(),
    ];
    args.extend(wheels.iter().map(String::as_str));
    support::ok(&temp.path().join("many-cache"), &args);
    let after_many = children_peak_rss_kib();
    assert!(
        after_many < PEAK_LIMIT_KIB,
        "a cold install of six 48 MiB wheels peaked at {after_many} KiB"
    );

    // Over HTTP, a large deflated entry goes to a worker through a pipe as it arrives: held
    // whole, this one alone would pass the limit.
    let served = temp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let wheel = write_deflated_noise_wheel(
        &served,
        "streamed",
        "1.0",
        &[
            ("streamed/lib.so", 150 << 20),
            ("streamed/small.py", 10 << 10),
        ],
    );
    let server = Server::start(&served);
    let url = format!(
        "http://127.0.0.1:{}/{}",
        server.port,
        wheel.file_name().unwrap().to_str().unwrap()
    );
    support::ok(&temp.path().join("http-cache"), &["fetch", &url]);
    drop(server);
    let after_http = children_peak_rss_kib();
    assert!(
        after_http < PEAK_LIMIT_KIB,
        "a fetch of a 150 MiB deflated entry over HTTP peaked at {after_http} KiB"
    );
}

/// `scripts/bench/serve.py` serving a directory on 127.0.0.1 (a child process, so the files
/// it sends never count towards this process's memory); killed and waited for on drop.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    fn start(dir: &std::path::Path) -> Self {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/serve.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg("0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("these tests need python3 on PATH");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("ready ")
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"));
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

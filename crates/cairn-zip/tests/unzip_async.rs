//! The `tokio` feature's extractors: `extract_stream` over an `AsyncRead` (a real socket, a
//! reader that fails midway) and `extract_chunks` over chunks of any size.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::zipgen::{
    Entry, FailingReader, Workspace, ZipBuilder, assert_connection_reset, block_on, read_tree,
    two_files,
};
use cairn_zip::{self as unzip, Limits};

/// Bytes that deflate poorly, so large entries span many buffers.
fn noise(len: usize) -> Vec<u8> {
    cairn_test_support::noise::noise(len, 0x2545_f491)
}

#[test]
fn async_reader_that_fails_midway_reports_the_read_error() {
    let bytes = two_files();
    let workspace = Workspace::new(&bytes);
    let error = block_on(unzip::extract_stream(
        FailingReader::new(&bytes, bytes.len() / 2),
        "broken.whl",
        &workspace.dest(),
        &Limits::default(),
    ))
    .unwrap_err();
    assert_connection_reset(&error, "broken.whl");
    workspace.assert_nothing_outside_dest();
}

#[test]
fn stream_extracts_from_a_tcp_socket() {
    let text = "over the wire\n".repeat(50_000);
    let bytes = ZipBuilder::new()
        .file("pkg/wire.txt", &text)
        .entry(Entry::stored("pkg/noise.bin", noise(500_000)))
        .build();
    let workspace = Workspace::new(&bytes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.write_all(&bytes).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        let socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let report =
            unzip::extract_stream(socket, "tcp.whl", &workspace.dest(), &Limits::default())
                .await
                .unwrap();
        server.await.unwrap();
        report
    });
    assert_eq!(report.files, 2);
    let content = std::fs::read_to_string(workspace.dest().join("pkg/wire.txt")).unwrap();
    assert_eq!(content, text);
}

/// `bytes` cut into chunks of irregular sizes, empty ones included, as a connection may
/// deliver them.
fn irregular_chunks(bytes: &[u8]) -> Vec<std::io::Result<bytes::Bytes>> {
    let sizes = [1, 0, 3, 4096, 17, 300_000, 65_536];
    let mut chunks = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, after) = rest.split_at((*size).min(rest.len()));
        chunks.push(Ok(bytes::Bytes::copy_from_slice(chunk)));
        rest = after;
    }
    chunks
}

#[test]
fn chunks_of_any_size_extract_as_the_file_does() {
    // The large deflated entry goes to a worker through a pipe, the stored one is written by the
    // reading thread, the small ones travel in batches: every hand-over sees chunk boundaries.
    let bytes = ZipBuilder::new()
        .file("pkg/__init__.py", "x = 1\n")
        .file("pkg/text.py", "print('hello')\n".repeat(20_000))
        .entry(Entry::stored("pkg/blob.bin", noise(700_000)))
        .file("pkg/large.bin", noise(5 << 20))
        .build();
    let file = Workspace::new(&bytes);
    let file_report = file.extract_file(&Limits::default()).unwrap();
    let chunked = Workspace::new(&bytes);
    let chunks = futures_util::stream::iter(irregular_chunks(&bytes));
    let report = block_on(unzip::extract_chunks(
        chunks,
        "chunks.whl",
        &chunked.dest(),
        &Limits::default(),
    ))
    .unwrap();
    assert_eq!(report, file_report);
    assert_eq!(read_tree(&chunked.dest()), read_tree(&file.dest()));
}

#[test]
fn chunk_stream_that_fails_midway_reports_its_error() {
    let bytes = two_files();
    let workspace = Workspace::new(&bytes);
    let mut chunks = irregular_chunks(bytes.get(..bytes.len() / 2).unwrap());
    chunks.push(Err(std::io::ErrorKind::ConnectionReset.into()));
    let error = block_on(unzip::extract_chunks(
        futures_util::stream::iter(chunks),
        "broken.whl",
        &workspace.dest(),
        &Limits::default(),
    ))
    .unwrap_err();
    assert_connection_reset(&error, "broken.whl");
    workspace.assert_nothing_outside_dest();
}

//! HTTPS through the TLS configuration of cairn's own client, against a real TLS server on
//! 127.0.0.1.
//!
//! The server presents `fixtures/tls/server.pem` (for `localhost` and `127.0.0.1`, valid until
//! 2126), signed by the test CA `fixtures/tls/ca.pem`, whose key was thrown away. To make new
//! ones, with OpenSSL:
//!
//! ```text
//! openssl ecparam -name prime256v1 -genkey -noout -out ca.key
//! openssl req -x509 -new -key ca.key -sha256 -days 36500 -subj "/CN=cairn-http test CA" \
//!     -addext "basicConstraints=critical,CA:TRUE" \
//!     -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
//! openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out server.key
//! openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
//! printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n%s\n' \
//!     extendedKeyUsage=serverAuth subjectAltName=DNS:localhost,IP:127.0.0.1 > ext.cnf
//! openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 36500 \
//!     -sha256 -extfile ext.cnf -out server.pem
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_http::{ClientSettings, DownloadError, Fetched, HttpClient};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt;

const CA: &[u8] = include_bytes!("fixtures/tls/ca.pem");
const SERVER_CERT: &[u8] = include_bytes!("fixtures/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("fixtures/tls/server.key");
const BODY: &[u8] = b"served over TLS";

fn settings() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retries: 0,
        ..ClientSettings::default()
    }
}

/// A TLS server on 127.0.0.1 that answers `connections` connections with [`BODY`], then stops.
fn serve(connections: usize) -> (url::Url, JoinHandle<()>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from_pem_slice(SERVER_CERT).unwrap()],
        PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap(),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = url::Url::parse(&format!(
        "https://127.0.0.1:{}/a.whl",
        listener.local_addr().unwrap().port()
    ))
    .unwrap();
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let tcp = stream.unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let connection = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, tcp);
            // A client that refuses the certificate ends the handshake: nothing to answer.
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if request.is_empty() {
                continue;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                BODY.len()
            );
            tls.write_all(head.as_bytes()).unwrap();
            tls.write_all(BODY).unwrap();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (url, server)
}

#[tokio::test]
async fn a_private_ca_added_as_an_extra_root_is_trusted() {
    let (url, server) = serve(1);
    let ca = CertificateDer::from_pem_slice(CA).unwrap().to_vec();
    let client = HttpClient::client_builder_with_roots(&settings(), [ca])
        .unwrap()
        .build()
        .unwrap();
    let http = HttpClient::from_reqwest(client, settings());

    let Fetched::Body(download) = http.get(&url, None).await.unwrap() else {
        panic!("expected a body");
    };
    let mut body = Vec::new();
    download
        .into_async_read()
        .read_to_end(&mut body)
        .await
        .unwrap();
    assert_eq!(body, BODY);
    server.join().unwrap();
    // The TLS configuration passed its provider explicitly: nothing process-wide was set (no
    // test in this binary installs one).
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_and_the_cause_shown_once() {
    let (url, server) = serve(1);
    let http = HttpClient::new(settings()).unwrap();

    let err = http.get(&url, None).await.unwrap_err();
    server.join().unwrap();
    assert!(matches!(err, DownloadError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    let cause = std::error::Error::source(&err)
        .expect("a cause")
        .to_string();
    assert!(cause.contains("certificate"), "{cause}");
    assert!(!message.contains("certificate"), "{message}");
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

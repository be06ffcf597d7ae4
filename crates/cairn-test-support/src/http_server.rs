//! A real HTTP/1.1 server on 127.0.0.1 with scripted routes.
//!
//! Each route answers with a [`Response`] (or a script of them, the last one repeating), which
//! can carry caching headers, answer `304` to a matching conditional request, stream a body from
//! memory or from a file in chunks, or misbehave: close the connection midway, stall after the
//! headers, or never answer at all. Every request is recorded, so tests can count attempts or
//! check the headers sent. The server stops, and drops every connection, when dropped.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

/// Requests whose head is larger than this are refused; real clients send a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// A running server. Stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept_loop: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Route>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// The responses of one path: served in order, the last one repeating.
struct Route {
    script: Vec<Response>,
    served: usize,
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The request method (`GET`).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The request target as sent, query included.
    pub target: String,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What a route answers.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    delivery: Delivery,
    chunk_size: usize,
    chunk_delay: Option<Duration>,
    chunked_encoding: bool,
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Arc<[u8]>),
    File(PathBuf),
}

/// How much of the response is delivered.
#[derive(Debug, Clone, Copy)]
enum Delivery {
    Complete,
    /// Send this many body bytes, then close the connection.
    CloseAfter(u64),
    /// Send this many body bytes, then keep the connection open and silent.
    StallAfter(u64),
    /// Read the request, then keep the connection open and silent: no status line at all.
    NoResponse,
}

impl Response {
    /// `200 OK` with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::with_body(200, Body::Bytes(body.into().into()))
    }

    /// `200 OK` with the contents of the file at `path`, read in chunks as it is sent.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::with_body(200, Body::File(path.into()))
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self::with_body(status, Body::Bytes(Arc::from(&[][..])))
    }

    /// `404 Not Found`.
    pub fn not_found() -> Self {
        Self::status(404)
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::status(302).header("Location", location)
    }

    /// Accepts the connection and reads the request, then never answers.
    pub fn no_response() -> Self {
        Self {
            delivery: Delivery::NoResponse,
            ..Self::status(200)
        }
    }

    fn with_body(status: u16, body: Body) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            delivery: Delivery::Complete,
            chunk_size: 64 * 1024,
            chunk_delay: None,
            chunked_encoding: false,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds an `ETag` (quoted unless already quoted or weak); a request whose `If-None-Match`
    /// matches it gets `304 Not Modified`.
    pub fn etag(self, tag: &str) -> Self {
        let value = if tag.starts_with('"') || tag.starts_with("W/") {
            tag.to_owned()
        } else {
            format!("\"{tag}\"")
        };
        self.header("ETag", &value)
    }

    /// Adds `Last-Modified`; a request with `If-Modified-Since` at or after it (and no
    /// `If-None-Match`) gets `304 Not Modified`.
    pub fn last_modified(self, time: SystemTime) -> Self {
        self.header("Last-Modified", &httpdate::fmt_http_date(time))
    }

    /// Adds `Cache-Control`.
    pub fn cache_control(self, value: &str) -> Self {
        self.header("Cache-Control", value)
    }

    /// Adds `Retry-After` in seconds.
    pub fn retry_after(self, seconds: u64) -> Self {
        self.header("Retry-After", &seconds.to_string())
    }

    /// Announces the full length but closes the connection after `bytes` body bytes.
    pub fn close_after(mut self, bytes: u64) -> Self {
        self.delivery = Delivery::CloseAfter(bytes);
        self
    }

    /// Sends `bytes` body bytes, then goes silent with the connection open.
    pub fn stall_after(mut self, bytes: u64) -> Self {
        self.delivery = Delivery::StallAfter(bytes);
        self
    }

    /// Writes the body in pieces of `bytes`, flushing each (default 64 KiB).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Waits this long after each piece of the body.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = Some(delay);
        self
    }

    /// Sends the body with `Transfer-Encoding: chunked` instead of a `Content-Length`.
    pub fn chunked_encoding(mut self) -> Self {
        self.chunked_encoding = true;
        self
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether `request` is conditional and the resource has not changed.
    fn is_not_modified_for(&self, request: &RecordedRequest) -> bool {
        if !(200..300).contains(&self.status) {
            return false;
        }
        if let Some(if_none_match) = request.header("if-none-match") {
            let Some(etag) = self.header_value("etag") else {
                return false;
            };
            // Weak comparison, as RFC 9110 prescribes for If-None-Match.
            let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
            return if_none_match
                .split(',')
                .any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(etag));
        }
        let since = request
            .header("if-modified-since")
            .and_then(|text| httpdate::parse_http_date(text).ok());
        let modified = self
            .header_value("last-modified")
            .and_then(|text| httpdate::parse_http_date(text).ok());
        matches!((since, modified), (Some(since), Some(modified)) if modified <= since)
    }
}

impl TestServer {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a test server on 127.0.0.1");
        let addr = listener.local_addr().expect("test server address");
        let state = Arc::new(State::default());
        let accept_loop = tokio::spawn(accept_connections(listener, Arc::clone(&state)));
        Self {
            addr,
            state,
            accept_loop,
        }
    }

    /// Makes `path` answer `response` from now on.
    pub fn route(&self, path: &str, response: Response) {
        self.route_script(path, [response]);
    }

    /// Makes `path` answer the `responses` in order, the last one for every later request.
    pub fn route_script(&self, path: &str, responses: impl IntoIterator<Item = Response>) {
        let script: Vec<Response> = responses.into_iter().collect();
        assert!(!script.is_empty(), "a route needs at least one response");
        lock(&self.state.routes).insert(path.to_owned(), Route { script, served: 0 });
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("test server URL")
    }

    /// The URL of `path` with credentials in it.
    pub fn url_with_credentials(&self, user: &str, password: &str, path: &str) -> Url {
        let mut url = self.url(path);
        url.set_username(user).expect("set user name");
        url.set_password(Some(password)).expect("set password");
        url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests `path` has received.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state.requests)
            .iter()
            .filter(|request| request.path == path)
            .count()
    }

    /// The requests `path` has received, oldest first.
    pub fn requests(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state.requests)
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// How many requests the server has received on any path.
    pub fn total_hits(&self) -> usize {
        lock(&self.state.requests).len()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The accept loop owns the connection tasks: aborting it drops them all.
        self.accept_loop.abort();
    }
}

/// A URL on 127.0.0.1 where nothing listens, so connecting is refused.
pub async fn refused_url(path: &str) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a throwaway port");
    let addr = listener.local_addr().expect("throwaway address");
    drop(listener);
    Url::parse(&format!("http://{addr}{path}")).expect("refused URL")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the server's state from the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_connections(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(stream, Arc::clone(&state)));
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) -> io::Result<()> {
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::new(read_half);
    while let Some(request) = read_request(&mut reader).await? {
        let response = state.respond_to(&request);
        if !send_response(&mut write_half, &request, &response).await? {
            break;
        }
    }
    Ok(())
}

impl State {
    /// Records `request` and picks the answer of its route (404 if it has none).
    fn respond_to(&self, request: &RecordedRequest) -> Response {
        lock(&self.requests).push(request.clone());
        let mut routes = lock(&self.routes);
        let Some(route) = routes.get_mut(&request.path) else {
            return Response::not_found();
        };
        let index = route.served.min(route.script.len() - 1);
        route.served += 1;
        route.script[index].clone()
    }
}

/// Reads one request head (and skips any body); `None` when the client closed the connection.
async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> io::Result<Option<RecordedRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut size = line.len();
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let method = method.to_owned();
    let target = target.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).await?;
        size += read;
        if read == 0 || size > MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad request head",
            ));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let request = RecordedRequest {
        method,
        path: target.split('?').next().unwrap_or_default().to_owned(),
        target,
        headers,
    };
    if let Some(length) = request.header("content-length") {
        let length: u64 = length
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
        tokio::io::copy(&mut (&mut *reader).take(length), &mut tokio::io::sink()).await?;
    }
    Ok(Some(request))
}

/// Writes `response`; returns whether the connection can serve another request.
async fn send_response(
    writer: &mut OwnedWriteHalf,
    request: &RecordedRequest,
    response: &Response,
) -> io::Result<bool> {
    if let Delivery::NoResponse = response.delivery {
        std::future::pending::<()>().await;
    }
    let not_modified = response.is_not_modified_for(request);
    let status = if not_modified { 304 } else { response.status };
    let has_body =
        !not_modified && request.method != "HEAD" && !matches!(status, 100..=199 | 204 | 304);
    let client_closes = request
        .header("connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    let closes = client_closes || matches!(response.delivery, Delivery::CloseAfter(_));

    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nDate: {}\r\n",
        reason_phrase(status),
        httpdate::fmt_http_date(SystemTime::now())
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let (mut body, length): (Box<dyn AsyncRead + Send + Unpin>, u64) = match &response.body {
        Body::Bytes(bytes) => (
            Box::new(io::Cursor::new(Arc::clone(bytes))),
            bytes.len() as u64,
        ),
        Body::File(path) => {
            let file = tokio::fs::File::open(path).await?;
            let length = file.metadata().await?.len();
            (Box::new(file), length)
        }
    };
    if response.chunked_encoding && has_body {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else if !matches!(status, 100..=199 | 204 | 304) {
        // Also right for HEAD, which announces the length it does not send.
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    if closes {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes()).await?;
    writer.flush().await?;
    if !has_body {
        return Ok(!closes);
    }

    let limit = match response.delivery {
        Delivery::CloseAfter(bytes) | Delivery::StallAfter(bytes) => bytes,
        Delivery::Complete | Delivery::NoResponse => u64::MAX,
    };
    let mut buffer = vec![0; response.chunk_size];
    let mut sent = 0u64;
    while sent < limit {
        let want = buffer
            .len()
            .min(usize::try_from(limit - sent).unwrap_or(usize::MAX));
        let read = body.read(&mut buffer[..want]).await?;
        if read == 0 {
            break;
        }
        if response.chunked_encoding {
            writer.write_all(format!("{read:x}\r\n").as_bytes()).await?;
            writer.write_all(&buffer[..read]).await?;
            writer.write_all(b"\r\n").await?;
        } else {
            writer.write_all(&buffer[..read]).await?;
        }
        writer.flush().await?;
        sent += read as u64;
        if let Some(delay) = response.chunk_delay {
            tokio::time::sleep(delay).await;
        }
    }
    match response.delivery {
        Delivery::StallAfter(_) => std::future::pending::<io::Result<bool>>().await,
        Delivery::CloseAfter(_) => {
            writer.shutdown().await?;
            Ok(false)
        }
        Delivery::Complete | Delivery::NoResponse => {
            if response.chunked_encoding {
                writer.write_all(b"0\r\n\r\n").await?;
                writer.flush().await?;
            }
            Ok(!closes)
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

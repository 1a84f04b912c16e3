//! A real server on a loopback port, and a minimal blocking HTTP/1.1
//! client: one connection per request, raw bytes in and out, so tests can
//! send anything (odd headers, partial bodies, chunked bodies, garbage).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fasty_query::Database;
use fasty_server::{AppState, ServerOptions};

/// A server running [`fasty_server::serve`] on its own runtime thread.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// An in-memory database behind `opts`.
    pub fn start(opts: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        TestServer::start_in(dir, fasty_query::Options::memory(), opts)
    }

    /// An in-memory database behind `opts`, served by a runtime with a
    /// single thread for all async work.
    pub fn start_current_thread(opts: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        TestServer::launch(dir, fasty_query::Options::memory(), opts, true)
    }

    /// A database in `dir` with `db_opts`, behind `opts`.
    pub fn start_in(
        dir: tempfile::TempDir,
        db_opts: fasty_query::Options,
        opts: ServerOptions,
    ) -> TestServer {
        TestServer::launch(dir, db_opts, opts, false)
    }

    fn launch(
        dir: tempfile::TempDir,
        db_opts: fasty_query::Options,
        opts: ServerOptions,
        current_thread: bool,
    ) -> TestServer {
        let db = Arc::new(Database::open(dir.path(), db_opts).unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut rt = if current_thread {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            };
            let rt = rt.enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let state = AppState::new(db, opts);
                fasty_server::serve(listener, state, async move {
                    let _ = rx.await;
                })
                .await
            })
        });
        TestServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Resolves the shutdown future; [`TestServer::join`] waits for the end.
    pub fn trigger_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Whether `serve` has returned.
    pub fn is_stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for `serve` to return and gives its result.
    pub fn join(&mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(t) => t.join().unwrap(),
            None => Ok(()),
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[], b"")
    }

    /// `POST /query` with a raw body.
    pub fn post(&self, body: &[u8]) -> Resp {
        request(
            self.addr,
            "POST",
            "/query",
            &[("Content-Type", "application/json")],
            body,
        )
    }

    /// `POST /query` `{"query": q}`.
    pub fn query(&self, q: &str) -> Resp {
        self.post(&serde_json::to_vec(&serde_json::json!({ "query": q })).unwrap())
    }

    /// `POST /query` `{"transaction": statements}`.
    pub fn transaction(&self, statements: &[&str]) -> Resp {
        self.post(&serde_json::to_vec(&serde_json::json!({ "transaction": statements })).unwrap())
    }

    /// `POST /query` `{"query": q}`, asserting a 200.
    pub fn ok(&self, q: &str) -> serde_json::Value {
        let r = self.query(q);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.trigger_stop();
        if !std::thread::panicking() {
            let _ = self.join();
        }
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (failing the test) if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// Asserts the docs/http.md error body with `status` and `code`, and gives
    /// the `error` object.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let j = self.json();
        let obj = j.as_object().unwrap();
        assert_eq!(obj.len(), 2, "{j}");
        assert_eq!(j["success"], false, "{j}");
        let e = j["error"].as_object().unwrap();
        assert_eq!(e["code"], code, "{j}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{j}");
        for k in e.keys() {
            assert!(
                ["code", "message", "line", "column", "hint", "statement"].contains(&k.as_str()),
                "unexpected key {k} in {j}"
            );
        }
        j["error"].clone()
    }
}

/// Sends one request with `Content-Length` and `Connection: close`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !(method == "GET" && body.is_empty()) {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

/// Sends `bytes` as they are and reads the response to the end.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Resp {
    let mut s = connect(addr);
    // The server may answer (413) and close before reading everything.
    let _ = s.write_all(bytes);
    read_response(&mut s).unwrap_or_else(|| panic!("no response to {:?}", bytes_preview(bytes)))
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn bytes_preview(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

/// Reads one response: status line, headers, and a body of
/// `Content-Length` bytes (or chunked, or up to EOF). `None` if the
/// connection closed without a status line.
pub fn read_response(s: &mut TcpStream) -> Option<Resp> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        match read_chunk(s, &mut chunk) {
            0 => return None,
            n => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = buf[head_end + 4..].to_vec();
    if let Some(len) = get("content-length") {
        let len: usize = len.parse().unwrap();
        while body.len() < len {
            match read_chunk(s, &mut chunk) {
                0 => break,
                n => body.extend_from_slice(&chunk[..n]),
            }
        }
        body.truncate(len);
    } else {
        loop {
            match read_chunk(s, &mut chunk) {
                0 => break,
                n => body.extend_from_slice(&chunk[..n]),
            }
        }
        if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            body = dechunk(&body);
        }
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

/// One `read`, retried when a signal interrupts it (EINTR: seen under
/// load on the test thread, which opened the database and with it the
/// storage's io_uring rings); 0 at the end of the stream or on an error.
fn read_chunk(s: &mut TcpStream, chunk: &mut [u8]) -> usize {
    loop {
        match s.read(chunk) {
            Ok(n) => return n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return 0,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(b, b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[i + 2 + size + 2..];
    }
    out
}

/// xorshift64*: reproducible random numbers without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

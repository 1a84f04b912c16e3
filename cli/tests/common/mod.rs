//! What the `fasty` binary's tests share: running the binary, a server
//! child process killed when the test ends however it ends, and a small
//! HTTP client.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn fasty() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fasty"));
    c.env_remove("FASTY_AUTH_TOKEN").env("RUST_LOG", "warn");
    c
}

/// Runs `fasty args…` to completion.
pub fn run(args: &[&str]) -> Output {
    fasty().args(args).stdin(Stdio::null()).output().unwrap()
}

/// Runs `fasty args…` expecting it to exit by itself (a refused start);
/// one still running after a minute is killed and reported, so that a
/// server that starts when it should not fails the test instead of
/// hanging it.
pub fn run_exiting(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = fasty()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fasty {args:?} did not exit (it was expected to refuse to start)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs `fasty args…` with `input` on its stdin (then closed), to
/// completion.
pub fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = fasty()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `fasty args…` and asserts it succeeded; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "fasty {args:?} failed: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `fasty query --json --data-dir dir statement`, parsed.
pub fn query_json(dir: &Path, statement: &str) -> serde_json::Value {
    let s = ok(&[
        "query",
        "--json",
        "--data-dir",
        dir.to_str().unwrap(),
        statement,
    ]);
    serde_json::from_str(&s).unwrap()
}

/// The `id`s of `select id from table`'s rows, from a JSON response.
pub fn ids(response: &serde_json::Value) -> Vec<i64> {
    response["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `fasty serve` child process; killed (SIGKILL) on drop unless it has
/// exited already.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    /// Starts `fasty serve --data-dir dir --listen 127.0.0.1:<free> extra…`
    /// and waits until `/health` answers.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let child = fasty()
            .args(["serve", "--data-dir", dir.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = Http::new(&server.url);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = http.get("/health") {
                break;
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A tiny HTTP client for the tests' own requests.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Http {
            agent,
            base: base.to_string(),
        }
    }

    pub fn get(&self, path: &str) -> Result<(u16, String), ureq::Error> {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call()?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string()?))
    }

    pub fn post(&self, body: &serde_json::Value) -> Result<(u16, String), ureq::Error> {
        let mut r = self
            .agent
            .post(format!("{}/query", self.base))
            .send(body.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string()?))
    }

    /// Posts a statement and asserts it succeeded.
    pub fn query(&self, statement: &str) -> serde_json::Value {
        let (status, body) = self
            .post(&serde_json::json!({ "query": statement }))
            .unwrap();
        assert_eq!(status, 200, "{statement}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// Ingest: batch `k` holds ids `k*size .. k*size+size`. Posts batches until
/// `stop` says so or a request fails; returns the acknowledged batches.
pub fn ingest(
    http: &Http,
    table: &str,
    size: i64,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<i64> {
    let mut acked = Vec::new();
    let mut k = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let rows: Vec<serde_json::Value> = (k * size..k * size + size)
            .map(|id| serde_json::json!({ "id": id, "v": format!("row {id}") }))
            .collect();
        match http.post(&serde_json::json!({ "table": table, "rows": rows })) {
            Ok((200, body)) => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["inserted"], size, "{body}");
                acked.push(k);
            }
            _ => break,
        }
        k += 1;
    }
    acked
}

/// Asserts `present` holds every acknowledged batch and only whole
/// batches (of the `size`-row batches `ingest` posts).
pub fn check_batches(present: &[i64], acked: &[i64], size: i64) {
    let set: std::collections::BTreeSet<i64> = present.iter().copied().collect();
    assert_eq!(set.len(), present.len(), "duplicate ids");
    for k in acked {
        for id in k * size..k * size + size {
            assert!(set.contains(&id), "acknowledged row {id} (batch {k}) lost");
        }
    }
    let mut per_batch = std::collections::BTreeMap::new();
    for id in &set {
        *per_batch.entry(id / size).or_insert(0) += 1;
    }
    for (k, n) in per_batch {
        assert_eq!(n, size, "batch {k} is half there ({n} of {size} rows)");
    }
}

/// Asserts two id lists are equal, describing the difference briefly.
pub fn same_ids(got: &[i64], want: &[i64], what: &str) {
    if got == want {
        return;
    }
    let g: std::collections::BTreeSet<i64> = got.iter().copied().collect();
    let w: std::collections::BTreeSet<i64> = want.iter().copied().collect();
    let missing: Vec<_> = w.difference(&g).take(5).collect();
    let extra: Vec<_> = g.difference(&w).take(5).collect();
    panic!(
        "{what}: {} ids, expected {}; missing {} (first {missing:?}), extra {} (first {extra:?})",
        got.len(),
        want.len(),
        w.difference(&g).count(),
        g.difference(&w).count()
    );
}

//! The HTTP client of docs/http.md, for `--server URL`: plain HTTP/1.1 (ureq
//! without TLS), keep-alive connections shared by the threads of a
//! command, an optional bearer token. Replies come back whatever their
//! status; reading them is the caller's business (`target`).

use std::time::Duration;

use crate::Result;

/// Largest reply body read (a big `select` can be large).
const MAX_REPLY: u64 = 1 << 30;

/// A connection pool to one server.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

/// A reply: status and body text.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

impl Client {
    /// A client of the server at `url` (`http://host:port`, a trailing `/`
    /// allowed; `host:port` alone means `http://host:port`).
    pub fn new(url: &str, token: Option<String>) -> Result<Client> {
        let url = url.trim_end_matches('/');
        let base = if url.contains("://") {
            if !url.starts_with("http://") {
                return Err(format!(
                    "unsupported server url {url:?}: only http:// is supported (no TLS)"
                )
                .into());
            }
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .max_idle_connections_per_host(64)
            .build()
            .new_agent();
        Ok(Client { agent, base, token })
    }

    /// The server's base url.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Reply> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.call().map_err(|e| self.unreachable(e))?;
        self.read(resp)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&self, path: &str, body: &str) -> Result<Reply> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send(body).map_err(|e| self.unreachable(e))?;
        self.read(resp)
    }

    fn read(&self, mut resp: ureq::http::Response<ureq::Body>) -> Result<Reply> {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_REPLY)
            .read_to_string()
            .map_err(|e| format!("reading the reply of {}: {e}", self.base))?;
        Ok(Reply { status, body })
    }

    fn unreachable(&self, e: ureq::Error) -> Box<dyn std::error::Error + Send + Sync> {
        format!("cannot reach the server at {}: {e}", self.base).into()
    }
}

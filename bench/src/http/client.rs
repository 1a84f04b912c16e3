//! One keep-alive HTTP/1.1 connection to the server (hyper's low-level
//! client: no pool, no TLS), sending pre-serialised `POST /query` bodies
//! and handing back the status and the whole response body. Owns nothing
//! about what a request means: [`super::check`] judges the answers.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go: the server's address and what every request carries.
#[derive(Clone, Debug)]
pub struct Target {
    /// The server's socket address.
    pub addr: SocketAddr,
    /// The `Host` header (`127.0.0.1:8000`).
    host: HeaderValue,
    /// `Bearer <token>`, when the server wants one.
    auth: Option<HeaderValue>,
}

impl Target {
    /// A target at `addr`, sending `Authorization: Bearer token` if given.
    pub fn new(addr: SocketAddr, token: Option<&str>) -> Result<Target, String> {
        let host = HeaderValue::from_str(&addr.to_string()).map_err(|e| e.to_string())?;
        let auth = token
            .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
            .transpose()
            .map_err(|_| "the auth token is not a valid header value".to_string())?;
        Ok(Target { addr, host, auth })
    }

    /// Parses `http://host:port[/]` (no TLS, no path) into a target;
    /// the host must resolve.
    pub fn from_url(url: &str, token: Option<&str>) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
        let hostport = rest.trim_end_matches('/');
        if hostport.is_empty() || hostport.contains('/') {
            return Err(format!("{url:?}: give the server's root, http://host:port"));
        }
        let with_port = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
            .map_err(|e| format!("{url:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url:?}: the host resolves to no address"))?;
        let mut t = Target::new(addr, token)?;
        t.host = HeaderValue::from_str(hostport).map_err(|e| e.to_string())?;
        Ok(t)
    }
}

/// An open keep-alive connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    target: Target,
}

/// What a request can end in besides an answer.
pub type ClientResult<T> = Result<T, String>;

impl Conn {
    /// Connects to `target`; the connection's I/O runs as a task on the
    /// current tokio runtime.
    pub async fn connect(target: &Target) -> ClientResult<Conn> {
        let stream = TcpStream::connect(target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", target.addr))?;
        let _ = stream.set_nodelay(true);
        let (send, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            // The connection ends when the server closes it or the sender
            // is dropped; a failure shows up in the next request.
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            target: target.clone(),
        })
    }

    /// Sends `POST /query` with `body`, returns the status and the body.
    pub async fn query(&mut self, body: Bytes) -> ClientResult<(StatusCode, Bytes)> {
        self.request(Method::POST, "/query", Some(body)).await
    }

    /// Sends one request and reads the whole answer.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> ClientResult<(StatusCode, Bytes)> {
        self.send
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.target.host.clone());
        if body.is_some() {
            req = req.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(a) = &self.target.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("request: {e}"))?;
        let resp = self
            .send
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("response body: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn urls() {
        let t = Target::from_url("http://127.0.0.1:8123/", None).unwrap();
        assert_eq!(t.addr.port(), 8123);
        assert_eq!(t.host, "127.0.0.1:8123");
        assert!(Target::from_url("https://127.0.0.1:1", None).is_err());
        assert!(Target::from_url("http://127.0.0.1:1/query", None).is_err());
        assert!(Target::from_url("http://", None).is_err());
        let t = Target::from_url("http://127.0.0.1:9/", Some("s3cret")).unwrap();
        assert_eq!(t.auth.unwrap(), "Bearer s3cret");
    }
}

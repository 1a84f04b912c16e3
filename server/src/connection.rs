//! One client connection's deadlines outside a request: the request line
//! and headers must arrive within the head timeout of their first byte,
//! and a connection with no request in progress is closed after the idle
//! timeout without traffic.
//!
//! The connection's byte stream ([`Watched`]) and its service (through
//! [`RequestClock::begin`]) record what happens in a shared
//! [`RequestClock`]; the connection task sleeps until
//! [`RequestClock::deadline`] (woken early when a head starts) and closes the connection once
//! [`RequestClock::expired`] says a deadline has passed. The task does
//! not depend on hyper polling the stream to notice.
//!
//! While a request's handler runs, nothing here applies: the body has its
//! own overall deadline (`query.rs`) and the statement its time limit.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// "Not set" for the instants kept as nanoseconds.
const NONE: u64 = u64::MAX;

/// What a connection is doing, shared by its byte stream, its service
/// and its task. Instants are nanoseconds since the connection opened.
pub(crate) struct RequestClock {
    opened: Instant,
    head_timeout: Duration,
    idle_timeout: Duration,
    /// Handlers running.
    busy: AtomicUsize,
    /// Handlers started on this connection.
    begun: AtomicU64,
    /// The first byte of the next request's head, if it has arrived.
    head_started: AtomicU64,
    /// The last byte read or written, or the end of the last handler.
    last_activity: AtomicU64,
    /// Woken when a head starts: its deadline is sooner than the idle one
    /// the connection task may be sleeping until.
    head_began: Notify,
}

impl RequestClock {
    pub(crate) fn new(head_timeout: Duration, idle_timeout: Duration) -> RequestClock {
        RequestClock {
            opened: Instant::now(),
            head_timeout,
            idle_timeout,
            busy: AtomicUsize::new(0),
            begun: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            last_activity: AtomicU64::new(0),
            head_began: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(NONE - 1)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.opened + Duration::from_nanos(nanos)
    }

    /// A request's head has been read and its handler starts; the guard
    /// ends it.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.begun.fetch_add(1, Ordering::SeqCst);
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.head_started.store(NONE, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Bytes moved on the stream: activity, and when read with no handler
    /// running, the start of a request head.
    fn moved(&self, read: bool) {
        let now = self.now();
        self.last_activity.store(now, Ordering::SeqCst);
        if read && self.busy.load(Ordering::SeqCst) == 0 {
            let began = self
                .head_started
                .compare_exchange(NONE, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
            if began {
                self.head_began.notify_one();
            }
        }
    }

    /// When to look again: the head or idle deadline as things stand (a
    /// running handler pushes it out by the idle timeout).
    pub(crate) fn deadline(&self) -> Instant {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return Instant::now() + self.idle_timeout;
        }
        match self.head_started.load(Ordering::SeqCst) {
            NONE => self.at(self.last_activity.load(Ordering::SeqCst)) + self.idle_timeout,
            t => self.at(t) + self.head_timeout,
        }
    }

    /// Resolves when a request head has started since the last call (its
    /// deadline may be sooner than the one being waited for).
    pub(crate) async fn head_began(&self) {
        self.head_began.notified().await;
    }

    /// Which deadline has passed, if one has and no handler is running.
    pub(crate) fn expired(&self) -> Option<&'static str> {
        if self.busy.load(Ordering::SeqCst) > 0 || Instant::now() < self.deadline() {
            return None;
        }
        Some(match self.head_started.load(Ordering::SeqCst) {
            NONE => "idle connection",
            _ => "request head",
        })
    }
}

/// A request being handled on the connection.
pub(crate) struct Busy(Arc<RequestClock>);

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.0.now();
        self.0.last_activity.store(now, Ordering::SeqCst);
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A byte stream that reports its traffic to a [`RequestClock`], and
/// gives hyper's own error answers (a request it could not parse: 400,
/// 414, 431, 505, sent without a body and before any handler ran) the
/// JSON error body every other answer has.
pub(crate) struct Watched<S> {
    inner: S,
    clock: Arc<RequestClock>,
    /// Final response heads written for handlers so far.
    answered: u64,
    /// A replacement answer still to be written.
    pending: Vec<u8>,
    /// Hyper's own answer was replaced: what it writes after is dropped
    /// (it closes the connection).
    replaced: bool,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, clock: Arc<RequestClock>) -> Self {
        Watched {
            inner,
            clock,
            answered: 0,
            pending: Vec::new(),
            replaced: false,
        }
    }

    /// Looks at the start of a write: a response head either answers a
    /// handler (counted) or, with no handler left to answer, is hyper's
    /// own error answer, replaced here. Whether it was replaced.
    fn inspect(&mut self, first: &[u8]) -> bool {
        let Some(status) = response_status(first) else {
            return false;
        };
        if status < 200 {
            // 100 Continue: not the final answer.
            return false;
        }
        if self.answered < self.clock.begun.load(Ordering::SeqCst) {
            self.answered += 1;
            return false;
        }
        match hyper_error_answer(status) {
            Some(answer) => {
                self.pending = answer;
                self.replaced = true;
                true
            }
            None => false,
        }
    }
}

/// The status of a response head at the start of `buf`, if it is one.
fn response_status(buf: &[u8]) -> Option<u16> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The JSON answer for one of hyper's own error statuses.
fn hyper_error_answer(status: u16) -> Option<Vec<u8>> {
    let (reason, code, message) = match status {
        400 => (
            "Bad Request",
            "bad_request",
            "the request is not valid HTTP/1.1: check the request line and headers",
        ),
        414 => (
            "URI Too Long",
            "uri_too_long",
            "the request target is too long: send the data in the body",
        ),
        431 => (
            "Request Header Fields Too Large",
            "headers_too_large",
            "the request headers are too large: send fewer or shorter headers",
        ),
        505 => (
            "HTTP Version Not Supported",
            "http_version_not_supported",
            "only HTTP/1.0 and HTTP/1.1 are served",
        ),
        _ => return None,
    };
    let status_code = axum::http::StatusCode::from_u16(status).ok()?;
    let body = crate::error::ApiError::new(status_code, code, message).to_body();
    let mut answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

impl<S: AsyncWrite + Unpin> Watched<S> {
    /// Writes out the replacement answer; `Ready(Ok)` once it is all out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.moved(true);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replaced || this.inspect(buf) {
            std::task::ready!(this.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.clock.moved(false);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if this.replaced || this.inspect(first) {
            std::task::ready!(this.poll_pending(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.clock.moved(false);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_are_recognised() {
        assert_eq!(response_status(b"HTTP/1.1 431 Request"), Some(431));
        assert_eq!(response_status(b"HTTP/1.0 200 OK"), Some(200));
        assert_eq!(response_status(b"HTTP/1.1 4"), None);
        assert_eq!(response_status(b"{\"success\":true}"), None);
        assert_eq!(response_status(b"1a\r\nHTTP/1.1 400"), None);
        let answer = hyper_error_answer(431).unwrap();
        let text = String::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let j: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(j["error"]["code"], "headers_too_large");
        assert!(hyper_error_answer(500).is_none());
    }
}

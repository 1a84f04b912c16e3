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

/// A byte stream that reports its traffic to a [`RequestClock`].
pub(crate) struct Watched<S> {
    inner: S,
    clock: Arc<RequestClock>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, clock: Arc<RequestClock>) -> Self {
        Watched { inner, clock }
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
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.moved(false);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.moved(false);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

//! A query's rows written into the response body as the statement
//! produces them ([`fasty_query::Database::run_into`]), so a large result
//! is never held whole: the body goes out through a bounded channel, and
//! the statement waits while the client reads.
//!
//! The first [`STREAM_AFTER`] bytes are kept back: a result that fits is
//! answered whole (with a `Content-Length`, and a proper error status if
//! the statement fails). Past that the answer starts, 200 with a chunked
//! body; a failure after that point (a time or memory limit, a storage
//! error) can no longer change the status, so the body is cut off and
//! the connection closed, which a client sees as an incomplete answer.
//! A client that stops reading holds up only its own statement (until the
//! idle timeout closes its connection); one that hangs up cancels it.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use fasty_query::{Column, Database, ErrorCode, ExecOptions, RowSink, Statement, Streamed, Value};
use http_body::Frame;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::metrics::Kind;
use crate::response::Answer;
use crate::response::{output_body, write_row};

/// Bytes of a result kept back before the answer starts streaming.
pub(crate) const STREAM_AFTER: usize = 256 << 10;

/// Chunks (each about [`STREAM_AFTER`] bytes) in flight between the
/// statement and the connection.
const IN_FLIGHT: usize = 4;

/// How a statement's answer begins: whole, or as a stream.
pub(crate) enum Start {
    /// The complete answer (or error).
    Whole(Kind, Result<Answer, ApiError>),
    /// A 200 whose body is still being written.
    Stream(Kind, Body),
}

/// Runs `stmt` on this (blocking) thread, telling `start` how the answer
/// begins; a streamed body is fed until the statement ends.
pub(crate) fn run(
    db: &Database,
    stmt: &Statement,
    opts: ExecOptions,
    start: oneshot::Sender<Start>,
) {
    let kind = Kind::of(stmt.kind());
    let mut sink = Sink {
        kind,
        columns: Vec::new(),
        buf: br#"{"success":true,"data":["#.to_vec(),
        rows: 0,
        start: Some(start),
        tx: None,
    };
    let result = db.run_into(stmt, opts, &mut sink);
    sink.finish(result);
}

struct Sink {
    kind: Kind,
    columns: Vec<Column>,
    /// Body bytes not yet handed on.
    buf: Vec<u8>,
    rows: u64,
    /// Until the answer has begun.
    start: Option<oneshot::Sender<Start>>,
    /// Once streaming.
    tx: Option<mpsc::Sender<Result<Bytes, std::io::Error>>>,
}

/// The client is gone: the statement stops.
fn gone() -> fasty_query::Error {
    fasty_query::Error::Query {
        code: ErrorCode::Cancelled,
        message: "the client closed the connection".into(),
        hint: None,
    }
}

impl Sink {
    /// Hands the bytes so far to the body, starting the stream first if
    /// it has not started.
    fn flush(&mut self) -> fasty_query::Result<()> {
        if self.tx.is_none() {
            let (tx, rx) = mpsc::channel(IN_FLIGHT);
            let start = self.start.take().ok_or_else(gone)?;
            start
                .send(Start::Stream(self.kind, Body::new(ChannelBody(rx))))
                .map_err(|_| gone())?;
            self.tx = Some(tx);
        }
        let bytes = Bytes::from(std::mem::take(&mut self.buf));
        match &self.tx {
            Some(tx) => tx.blocking_send(Ok(bytes)).map_err(|_| gone()),
            None => Err(gone()),
        }
    }

    fn finish(mut self, result: fasty_query::Result<Streamed>) {
        let answer = match result {
            Ok(Streamed::Rows(_)) => {
                self.buf
                    .extend_from_slice(format!(r#"],"rows":{}}}"#, self.rows).as_bytes());
                if self.tx.is_some() {
                    // The end of the stream: dropping the sender ends the
                    // body once the last chunk is read.
                    let _ = self.flush();
                    return;
                }
                Ok(Answer::Json(std::mem::take(&mut self.buf)))
            }
            Ok(Streamed::Other(out)) => Ok(Answer::Json(output_body(&out))),
            Err(e) => {
                if let Some(tx) = &self.tx {
                    tracing::warn!("a streamed answer was cut off: {e}");
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.message())));
                    return;
                }
                Err(ApiError::from(e))
            }
        };
        if let Some(start) = self.start.take() {
            let _ = start.send(Start::Whole(self.kind, answer));
        }
    }
}

impl RowSink for Sink {
    fn columns(&mut self, columns: &[Column]) -> fasty_query::Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<Value>>) -> fasty_query::Result<()> {
        for row in &rows {
            if self.rows > 0 {
                self.buf.push(b',');
            }
            write_row(&mut self.buf, &self.columns, row);
            self.rows += 1;
        }
        if self.buf.len() >= STREAM_AFTER {
            self.flush()?;
        }
        Ok(())
    }
}

/// A response body fed through a channel; an error item cuts it off.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

//! `POST /query`: read the body (up to `max_body`, within the body
//! timeout), then parse it, run the statement or batch and serialise the
//! result on tokio's blocking pool, so a long statement never holds up an
//! async worker — except a primary-key point read in a small body, which
//! runs on the async worker itself: one key lookup costs less than the
//! hand-off to the pool and back (two thread switches per request).
//!
//! Each statement runs with the server's time and memory limits and a
//! cancel flag that the handler sets when it is dropped before the answer
//! is ready (the client hung up, or a stop cut the connection off).
//!
//! The answer is an [`Answer`]: a whole JSON body, or for a query whose
//! result passes [`crate::stream::STREAM_AFTER`] bytes a body streamed as
//! the rows are produced.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fasty_query::{Database, ExecOptions, Statement, Value};
use http_body_util::BodyExt;

use crate::error::ApiError;
use crate::metrics::Kind;
use crate::request::{Batch, QueryRequest};
use crate::response::{Answer, inserted_body, output_body, results_body};
use crate::stream::{self, Start};
use crate::{AppState, ServerOptions};

/// The `/query` handler.
pub(crate) async fn query(State(state): State<AppState>, req: Request) -> Response {
    let body = match read_body(req, state.opts.max_body, state.opts.body_timeout).await {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    // The statement holds its own unit of work: if the client hangs up,
    // this future is dropped, the statement is told to stop, and a
    // graceful stop waits for it to end.
    let work = state.lifecycle.hold();
    let cancel = CancelOnDrop::default();
    let limits = Limits::new(&state.opts, cancel.flag());
    let db = state.db.clone();
    let parsed = (body.len() <= INLINE_BODY_MAX).then(|| parse(&db, &body));
    let (kind, result) = match parsed {
        Some(Ok(Parsed::Statement(stmt))) if db.is_key_read(&stmt) => {
            let _work = work;
            run(&db, Ok(Parsed::Statement(stmt)), &limits)
        }
        parsed => {
            let (start_tx, start_rx) = tokio::sync::oneshot::channel();
            tokio::task::spawn_blocking(move || {
                let _work = work;
                match parsed.unwrap_or_else(|| parse(&db, &body)) {
                    Ok(Parsed::Statement(stmt)) => {
                        stream::run(&db, &stmt, limits.exec_options(), start_tx);
                    }
                    parsed => {
                        let (kind, result) = run(&db, parsed, &limits);
                        let _ = start_tx.send(Start::Whole(kind, result));
                    }
                }
            });
            match start_rx.await {
                Ok(Start::Whole(kind, result)) => (kind, result),
                Ok(Start::Stream(kind, body)) => (kind, Ok(Answer::Stream(body))),
                Err(_) => {
                    tracing::error!("a /query task failed before answering");
                    (
                        Kind::Invalid,
                        Err(ApiError::internal(
                            "the statement failed: see the server log",
                        )),
                    )
                }
            }
        }
    };
    cancel.disarm();
    let mut res = match result {
        Ok(answer) => answer.into_response(),
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(kind);
    res
}

/// Sets the statement's cancel flag when dropped armed: the handler
/// future went away before the answer was ready.
#[derive(Default)]
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    disarmed: bool,
}

impl CancelOnDrop {
    fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// The answer is ready: dropping no longer cancels.
    fn disarm(mut self) {
        self.disarmed = true;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.disarmed {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

/// The limits every statement of a request runs under.
struct Limits {
    timeout: Option<Duration>,
    memory: Option<usize>,
    cancel: Arc<AtomicBool>,
}

impl Limits {
    fn new(opts: &ServerOptions, cancel: Arc<AtomicBool>) -> Limits {
        Limits {
            timeout: opts.statement_timeout,
            memory: opts.statement_memory,
            cancel,
        }
    }

    /// Options for a statement starting now.
    fn exec_options(&self) -> ExecOptions {
        ExecOptions::default()
            .with_deadline(self.timeout.and_then(|t| Instant::now().checked_add(t)))
            .with_memory_limit(self.memory)
            .with_cancel(Some(self.cancel.clone()))
    }
}

/// The answer to a body that could not be read (408, 413, 400): the
/// rest of it may still be on its way, so the connection is closed
/// rather than read further.
pub(crate) fn body_error(e: ApiError) -> Response {
    let mut res = e.into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// The body: 413 past `max` bytes (announced or actual), 408 unless all
/// of it arrives within `limit` (overall, not per chunk).
pub(crate) async fn read_body(
    req: Request,
    max: usize,
    limit: Duration,
) -> Result<Vec<u8>, ApiError> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return Err(ApiError::payload_too_large(max));
    }
    // Allocate the announced length up front, but not more than 1 MiB on
    // the client's word alone.
    let mut buf = Vec::with_capacity(announced.map_or(0, |n| n.min(1 << 20) as usize));
    let mut body = req.into_body();
    let read = async {
        loop {
            let frame = match body.frame().await {
                None => return Ok(()),
                Some(Err(e)) => {
                    return Err(ApiError::bad_request(format!(
                        "could not read the request body: {e}"
                    )));
                }
                Some(Ok(frame)) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    return Err(ApiError::payload_too_large(max));
                }
                buf.extend_from_slice(&data);
            }
        }
    };
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(ApiError::request_timeout(limit)),
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => Ok(buf),
    }
}

/// Bodies up to this many bytes are parsed on the async worker, to find
/// the primary-key point reads that run there; larger ones are parsed on
/// the blocking pool (a statement this long is no point read).
const INLINE_BODY_MAX: usize = 1024;

/// A request body, parsed.
enum Parsed {
    /// One statement.
    Statement(Statement),
    /// One statement with `?` placeholders, and the values for them.
    Prepared(fasty_query::Prepared, Vec<Value>),
    /// Rows for the batch fast path.
    Batch(Batch),
    /// Statements to run in one transaction (their texts: each is parsed
    /// when its turn comes, so a syntax error names its statement).
    Transaction(Vec<String>),
}

/// Parses a request body: JSON, then the statement's text. A `params`
/// count that does not match the placeholders is a `bad_request`.
fn parse(db: &Database, body: &[u8]) -> Result<Parsed, ApiError> {
    match QueryRequest::parse(body)? {
        QueryRequest::Statement(text) => Ok(Parsed::Statement(fasty_query::parse(&text)?)),
        QueryRequest::Prepared(text, params) => {
            let prepared = db.prepare(&text)?;
            if prepared.params() != params.len() {
                return Err(ApiError::bad_request(format!(
                    "the statement has {} ? placeholder(s) but \"params\" has {} value(s): give one value per placeholder",
                    prepared.params(),
                    params.len()
                )));
            }
            Ok(Parsed::Prepared(prepared, params))
        }
        QueryRequest::Batch(b) => Ok(Parsed::Batch(b)),
        QueryRequest::Transaction(texts) => Ok(Parsed::Transaction(texts)),
        QueryRequest::Sql(text, params) => {
            // One statement, prepared whether or not it has placeholders:
            // `$n` takes the n-th value of "params".
            let prepared = db.prepare_sql(&text)?;
            let params = params.unwrap_or_default();
            if prepared.params() != params.len() {
                return Err(ApiError::bad_request(format!(
                    "the statement's highest placeholder is ${} but \"params\" has {} value(s): give one value per $n",
                    prepared.params(),
                    params.len()
                )));
            }
            Ok(Parsed::Prepared(prepared, params))
        }
    }
}

/// Runs a parsed request: its kind and answer.
fn run(
    db: &Database,
    parsed: Result<Parsed, ApiError>,
    limits: &Limits,
) -> (Kind, Result<Answer, ApiError>) {
    match parsed {
        Err(e) => (Kind::Invalid, Err(e)),
        Ok(Parsed::Statement(stmt)) => (
            Kind::of(stmt.kind()),
            db.run(&stmt, limits.exec_options())
                .map(|out| Answer::Json(output_body(&out)))
                .map_err(ApiError::from),
        ),
        Ok(Parsed::Prepared(prepared, params)) => (
            Kind::of(prepared.kind()),
            db.execute_prepared_with(&prepared, &params, limits.exec_options())
                .map(|out| Answer::Json(output_body(&out)))
                .map_err(ApiError::from),
        ),
        Ok(Parsed::Batch(b)) => (
            Kind::Batch,
            db.insert_rows(&b.table, b.rows, b.mode)
                .map(|n| Answer::Json(inserted_body(n)))
                .map_err(ApiError::from),
        ),
        Ok(Parsed::Transaction(texts)) => (Kind::Transaction, transaction(db, &texts, limits)),
    }
}

/// Runs `texts` in one transaction and commits it: every statement's
/// output in order, or the first failure (with the failing statement's
/// index) and nothing written. A failed commit (a conflict) names no
/// statement.
fn transaction(db: &Database, texts: &[String], limits: &Limits) -> Result<Answer, ApiError> {
    let mut tx = db.begin()?;
    let mut outs = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let out = fasty_query::parse(text)
            .and_then(|stmt| tx.run(&stmt, limits.exec_options()))
            .map_err(|e| ApiError::from(e).at_statement(i))?;
        outs.push(out);
    }
    tx.commit()?;
    Ok(Answer::Json(results_body(&outs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fill_exec_options() {
        let opts = ServerOptions::default()
            .with_statement_timeout(Some(Duration::from_secs(7)))
            .with_statement_memory(Some(123));
        let cancel = CancelOnDrop::default();
        let limits = Limits::new(&opts, cancel.flag());
        let before = Instant::now();
        let e = limits.exec_options();
        let deadline = e.deadline.unwrap();
        assert!(deadline >= before + Duration::from_secs(7));
        assert!(deadline <= Instant::now() + Duration::from_secs(7));
        assert_eq!(e.memory_limit, Some(123));
        assert!(e.use_indexes);
        assert!(Arc::ptr_eq(&e.cancel.unwrap(), &cancel.flag()));

        let none = ServerOptions::default()
            .with_statement_timeout(None)
            .with_statement_memory(None);
        let e = Limits::new(&none, cancel.flag()).exec_options();
        assert_eq!((e.deadline, e.memory_limit), (None, None));
    }

    #[test]
    fn dropping_the_handler_cancels_its_statement() {
        // Dropped before the answer (the client hung up): cancelled.
        let armed = CancelOnDrop::default();
        let flag = armed.flag();
        drop(armed);
        assert!(flag.load(Ordering::SeqCst));
        // Answered: not cancelled.
        let answered = CancelOnDrop::default();
        let flag = answered.flag();
        answered.disarm();
        assert!(!flag.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_handler_future_dropped_mid_statement_sets_the_flag() {
        // The shape of `query`: the guard lives in the handler future while
        // the statement runs elsewhere and watches the flag.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let handler = tokio::spawn(async move {
            let cancel = CancelOnDrop::default();
            let flag = cancel.flag();
            let statement = tokio::task::spawn_blocking(move || {
                let _ = started_tx.send(());
                while !flag.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let _ = seen_tx.send(());
            });
            let _ = statement.await;
            cancel.disarm();
        });
        started_rx.await.unwrap();
        handler.abort();
        let seen =
            tokio::task::spawn_blocking(move || seen_rx.recv_timeout(Duration::from_secs(10)));
        assert!(
            seen.await.unwrap().is_ok(),
            "the statement never saw the cancel flag"
        );
    }
}

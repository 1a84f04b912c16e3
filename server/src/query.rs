//! `POST /query`: read the body (up to `max_body`), then parse it, run the
//! statement or batch and serialise the result on tokio's blocking pool,
//! so a long statement never holds up an async worker — except a
//! primary-key point read in a small body, which runs on the async worker
//! itself: one key lookup costs less than the hand-off to the pool and
//! back (two thread switches per request).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fasty_query::ast::Statement;
use fasty_query::{Database, ExecOptions, parser};
use http_body_util::BodyExt;

use crate::AppState;
use crate::error::{ApiError, json_response};
use crate::metrics::Kind;
use crate::request::{Batch, QueryRequest};
use crate::response::{inserted_body, output_body};

/// The `/query` handler.
pub(crate) async fn query(State(state): State<AppState>, req: Request) -> Response {
    let body = match read_body(req, state.opts.max_body, state.body_timeout).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    // The statement holds its own unit of work: if the client hangs up,
    // this future is dropped but the statement runs to its end, and a
    // graceful stop waits for it.
    let work = state.lifecycle.hold();
    let db = state.db.clone();
    let parsed = (body.len() <= INLINE_BODY_MAX).then(|| parse(&body));
    let (kind, result) = match parsed {
        Some(Ok(Parsed::Statement(stmt))) if db.is_key_read(&stmt) => {
            let _work = work;
            run(&db, Ok(Parsed::Statement(stmt)))
        }
        parsed => {
            let ran = tokio::task::spawn_blocking(move || {
                let _work = work;
                run(&db, parsed.unwrap_or_else(|| parse(&body)))
            })
            .await;
            match ran {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("a /query task failed: {e}");
                    (
                        Kind::Invalid,
                        Err(ApiError::internal(format!("the statement failed: {e}"))),
                    )
                }
            }
        }
    };
    let mut res = match result {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(kind);
    res
}

/// The body: 413 past `max` bytes (announced or actual), 408 if nothing
/// arrives for `idle`.
async fn read_body(req: Request, max: usize, idle: Duration) -> Result<Vec<u8>, ApiError> {
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
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(ApiError::request_timeout(idle)),
            Ok(None) => return Ok(buf),
            Ok(Some(Err(e))) => {
                return Err(ApiError::bad_request(format!(
                    "could not read the request body: {e}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(ApiError::payload_too_large(max));
            }
            buf.extend_from_slice(&data);
        }
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
    /// Rows for the batch fast path.
    Batch(Batch),
}

/// Parses a request body: JSON, then the statement's text.
fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    match QueryRequest::parse(body)? {
        QueryRequest::Statement(text) => Ok(Parsed::Statement(parser::parse(&text)?)),
        QueryRequest::Batch(b) => Ok(Parsed::Batch(b)),
    }
}

/// Runs a parsed request: its kind and response body.
fn run(db: &Database, parsed: Result<Parsed, ApiError>) -> (Kind, Result<Vec<u8>, ApiError>) {
    match parsed {
        Err(e) => (Kind::Invalid, Err(e)),
        Ok(Parsed::Statement(stmt)) => (
            Kind::of(&stmt),
            db.run(&stmt, ExecOptions::default())
                .map(|out| output_body(&out))
                .map_err(ApiError::from),
        ),
        Ok(Parsed::Batch(b)) => (
            Kind::Batch,
            db.insert_rows(&b.table, b.rows, b.mode)
                .map(inserted_body)
                .map_err(ApiError::from),
        ),
    }
}

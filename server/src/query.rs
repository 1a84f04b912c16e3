//! `POST /query`: read the body (up to `max_body`), then parse it, run the
//! statement or batch and serialise the result — all of that on tokio's
//! blocking pool, so a long statement never holds up an async worker.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fasty_query::{Database, ExecOptions, parser};
use http_body_util::BodyExt;

use crate::AppState;
use crate::error::{ApiError, json_response};
use crate::metrics::Kind;
use crate::request::QueryRequest;
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
    let ran = tokio::task::spawn_blocking(move || {
        let _work = work;
        execute(&db, &body)
    })
    .await;
    let (kind, result) = match ran {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("a /query task failed: {e}");
            (
                Kind::Invalid,
                Err(ApiError::internal(format!("the statement failed: {e}"))),
            )
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

/// Parses and runs one request body: its kind and response body.
pub(crate) fn execute(db: &Database, body: &[u8]) -> (Kind, Result<Vec<u8>, ApiError>) {
    match QueryRequest::parse(body) {
        Err(e) => (Kind::Invalid, Err(e)),
        Ok(QueryRequest::Statement(text)) => match parser::parse(&text) {
            Err(e) => (Kind::Invalid, Err(e.into())),
            Ok(stmt) => (
                Kind::of(&stmt),
                db.run(&stmt, ExecOptions::default())
                    .map(|out| output_body(&out))
                    .map_err(ApiError::from),
            ),
        },
        Ok(QueryRequest::Batch(b)) => (
            Kind::Batch,
            db.insert_rows(&b.table, b.rows, b.mode)
                .map(inserted_body)
                .map_err(ApiError::from),
        ),
    }
}

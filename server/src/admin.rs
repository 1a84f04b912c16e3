//! `POST /admin/checkpoint`, `POST /admin/compact` and `POST /admin/backup`:
//! what `fasty admin` does on a data directory, done by the server on the
//! database it holds open, on the blocking pool. Each holds a unit of
//! work, so a graceful stop waits for it.

use std::path::PathBuf;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, json_response};
use crate::query::{body_error, read_body};

/// `POST /admin/checkpoint`: flush the memtables and drop the log
/// segments they made redundant ([`fasty_wal::Db::checkpoint`]).
pub(crate) async fn checkpoint(State(state): State<AppState>) -> Response {
    blocking(&state, |db| db.kv().checkpoint().map(|()| ok_body())).await
}

/// `POST /admin/compact`: a checkpoint, then a full compaction
/// ([`fasty_wal::Db::compact`]).
pub(crate) async fn compact(State(state): State<AppState>) -> Response {
    blocking(&state, |db| db.kv().compact().map(|()| ok_body())).await
}

/// The body of `POST /admin/backup`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupRequest {
    dir: PathBuf,
}

/// `POST /admin/backup {"dir": "/path"}`: a consistent copy of the data
/// directory in `dir` (created; an existing one must be empty), as
/// `fasty admin backup` makes ([`fasty_wal::backup`]).
pub(crate) async fn backup(State(state): State<AppState>, req: Request) -> Response {
    let body = match read_body(req, state.opts.max_body, state.opts.body_timeout).await {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let request: BackupRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if request.dir.as_os_str().is_empty() {
        return ApiError::bad_request("\"dir\" must not be empty: give the directory to write")
            .into_response();
    }
    if state.db.kv().durability() == fasty_wal::Durability::Memory {
        return ApiError::bad_request("the database is in memory: there are no files to back up")
            .into_response();
    }
    blocking(&state, move |db| {
        // Every write acknowledged so far goes into the image: in async
        // mode some may still be queued for the log.
        db.kv().sync()?;
        let report = fasty_wal::backup(db.kv().dir(), &request.dir)?;
        // The image is the manifest, the tables and the log segments.
        let files = report.tables + report.segments + 1;
        Ok(format!(
            r#"{{"success":true,"data":{{"files":{files},"bytes":{}}}}}"#,
            report.bytes
        )
        .into_bytes())
    })
    .await
}

fn ok_body() -> Vec<u8> {
    br#"{"success":true}"#.to_vec()
}

/// Runs `f` on the blocking pool and answers with its body, or the error.
async fn blocking(
    state: &AppState,
    f: impl FnOnce(&fasty_query::Database) -> fasty_wal::Result<Vec<u8>> + Send + 'static,
) -> Response {
    let work = state.lifecycle.hold();
    let db = state.db.clone();
    let ran = tokio::task::spawn_blocking(move || {
        let _work = work;
        f(&db)
    })
    .await;
    match ran {
        Ok(Ok(body)) => json_response(StatusCode::OK, body),
        Ok(Err(fasty_wal::Error::InvalidArgument(m))) => ApiError::bad_request(m).into_response(),
        Ok(Err(e)) => ApiError::from(fasty_query::Error::from(e)).into_response(),
        Err(e) => ApiError::internal(format!("the admin task failed: {e}")).into_response(),
    }
}

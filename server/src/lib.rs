//! fasty-server: the HTTP API of SPEC §3 as an [`axum::Router`] over a
//! shared [`fasty_query::Database`].
//!
//! [`router`] builds the routes; [`serve`] runs them on a listener until a
//! shutdown future resolves, then drains (new requests get 503, admitted
//! ones finish), stops and syncs the database. Statements run on tokio's
//! blocking pool, never on the async workers.
//!
//! | route | answer |
//! |---|---|
//! | `POST /query` `{"query": "..."}` | rows, `affected`, `{"success": true}` or `plan` |
//! | `POST /query` `{"table": "t", "rows": [...], "mode"?: "upsert"}` | `{"success": true, "inserted": N}` |
//! | `GET /health` | `{"success": true, "data": "ok"}` (no token needed) |
//! | `GET /stats` | tables, rows, storage, log, cache, requests, latencies |
//! | `GET /metrics` | the same as Prometheus text |
//!
//! Every failure is `{"success": false, "error": {"code", "message",
//! "line"?, "column"?, "hint"?}}` with 400 (bad request or query error),
//! 401, 404, 405, 413, 500 (storage failure) or 503 (shutting down).
//!
//! Module map: `request` parses bodies, `query` runs them, `response`
//! writes results, `gate` wraps every route (auth, shutdown, metrics),
//! `lifecycle` tracks in-flight work, `metrics` counts, `stats` reports,
//! `error` shapes every failure.
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod error;
#[doc(hidden)]
pub mod fuzzing;
mod gate;
mod lifecycle;
mod metrics;
mod query;
mod request;
mod response;
mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fasty_query::Database;

use crate::error::{ApiError, json_response};
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;

/// Settings of the HTTP layer (the database's own options are the
/// caller's: it opens the [`Database`]). `Debug` shows whether a token is
/// set, never the token.
#[derive(Clone)]
pub struct ServerOptions {
    /// Largest accepted request body in bytes; larger ones get 413.
    /// Default 64 MiB (`--max-body`).
    pub max_body: usize,
    /// When set, every route but `/health` requires
    /// `Authorization: Bearer <token>` (`--auth-token`, `FASTY_AUTH_TOKEN`).
    pub auth_token: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_body: 64 << 20,
            auth_token: None,
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("max_body", &self.max_body)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What every handler shares: the database, the options, the request
/// metrics and the shutdown state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    db: Arc<Database>,
    opts: Arc<ServerOptions>,
    metrics: Arc<Metrics>,
    lifecycle: Arc<Lifecycle>,
    started: Instant,
    body_timeout: Duration,
}

/// How long a request body may go without a byte arriving before the
/// request is answered 408 (see [`AppState::with_body_timeout`]).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// State over `db` with `opts`.
    pub fn new(db: Arc<Database>, opts: ServerOptions) -> AppState {
        AppState {
            db,
            opts: Arc::new(opts),
            metrics: Arc::new(Metrics::new()),
            lifecycle: Arc::new(Lifecycle::default()),
            started: Instant::now(),
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// The same state with another body idle timeout (default
    /// [`DEFAULT_BODY_TIMEOUT`]): a request whose body stalls that long
    /// between two chunks gets 408, so a stalled client can neither hold a
    /// connection forever nor hold up a graceful stop. Large bodies that
    /// keep arriving are not limited by it.
    pub fn with_body_timeout(mut self, timeout: Duration) -> AppState {
        self.body_timeout = timeout;
        self
    }

    /// The database the routes run against.
    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// The HTTP settings.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// Starts draining, as [`serve`] does when its shutdown future
    /// resolves: from now on every request gets 503. Resolves once the
    /// requests admitted before (and the statements they started) are
    /// done. For embedders that run the [`router`] on their own server.
    pub async fn drain(&self) {
        self.lifecycle.drain().await;
    }

    /// Whether draining has begun.
    pub fn is_draining(&self) -> bool {
        self.lifecycle.is_draining()
    }
}

/// The routes of SPEC §3 over `state`, with the auth, shutdown and
/// metrics layer around them. Unknown routes get 404, wrong methods 405,
/// both with the JSON error body.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/query", post(query::query))
        .route("/health", get(health))
        .route("/stats", get(stats::stats))
        .route("/metrics", get(stats::metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .with_state(state)
}

async fn health() -> Response {
    json_response(StatusCode::OK, br#"{"success":true,"data":"ok"}"#.to_vec())
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// Serves [`router`] on `listener` until `shutdown` resolves; then drains
/// (requests arriving from then on get 503, admitted ones finish), stops
/// accepting, closes the connections and syncs the database.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let db = state.db.clone();
    let draining = state.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: refusing new requests, finishing admitted ones");
            draining.drain().await;
            tracing::info!("drained: closing connections");
        })
        .await?;
    tracing::info!("syncing the database");
    tokio::task::spawn_blocking(move || db.kv().sync())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let opts = ServerOptions {
            auth_token: Some("s3cret".into()),
            ..ServerOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

//! fasty-server: the HTTP API of docs/http.md as an [`axum::Router`] over a
//! shared [`fasty_query::Database`].
//!
//! [`router`] builds the routes; [`serve`] runs them on a listener, with
//! deadlines for request heads, bodies and idle connections, until a
//! shutdown future resolves, then drains (new requests get 503, admitted
//! ones finish, for a bounded time), stops and syncs the database.
//! Statements run on tokio's blocking pool, never on the async workers,
//! under the time and memory limits of [`ServerOptions`], and are
//! cancelled when their client hangs up.
//!
//! | route | answer |
//! |---|---|
//! | `POST /query` `{"query": "...", "params"?: [...]}` | rows, `affected`, `{"success": true}` or `plan` |
//! | `POST /query` `{"table": "t", "rows": [...], "mode"?: "upsert"}` | `{"success": true, "inserted": N}` |
//! | `GET /health` | `{"success": true, "data": "ok"}` (no token needed) |
//! | `GET /stats` | tables, rows, storage, log, cache, requests, latencies, errors, connections |
//! | `GET /metrics` | much the same as Prometheus text |
//! | `GET /schema`, `GET /schema/{table}` | tables with their columns and indexes |
//! | `POST /admin/checkpoint`, `/admin/compact`, `/admin/backup` | `fasty admin`'s operations, server-side |
//!
//! Every failure is `{"success": false, "error": {"code", "message",
//! "line"?, "column"?, "hint"?}}` with 400 (bad request or query error),
//! 401, 404, 405, 408, 413, 500 (storage failure) or 503 (shutting down).
//!
//! Module map: `serve` accepts connections and runs the stop,
//! `connection` keeps a connection's head and idle deadlines, `request`
//! parses bodies, `query` runs them, `response` writes results, `stream`
//! streams large query results, `schema`
//! and `admin` serve their routes, `gate` wraps every route (auth,
//! shutdown, metrics), `lifecycle` tracks in-flight work, `metrics`
//! counts, `stats` reports, `error` shapes every failure, and `pg`
//! serves the PostgreSQL wire protocol ([`serve_pg`], docs/postgres.md).
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod admin;
mod connection;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod gate;
mod lifecycle;
mod metrics;
mod pg;
mod query;
mod request;
mod response;
mod schema;
mod serve;
mod stats;
mod stream;

pub use pg::serve_pg;
pub use serve::serve;

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
/// set, never the token. [`ServerOptions::validate`] checks them;
/// [`serve`] refuses to start with options that fail it.
///
/// Start from [`ServerOptions::default()`] and change what differs with
/// the builder methods, `with_<field>(value)` for every field, taking the
/// field's type; every field's doc says its default:
///
/// ```
/// use std::time::Duration;
/// let opts = fasty_server::ServerOptions::default()
///     .with_auth_token(Some("secret".into()))
///     .with_statement_timeout(Some(Duration::from_secs(30)));
/// assert!(opts.validate().is_ok());
/// ```
///
/// New fields may be added in minor versions (the struct is
/// `#[non_exhaustive]`): build it from a default, not with a struct
/// literal.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Largest accepted request body in bytes; larger ones get 413.
    /// Default 64 MiB (`--max-body`).
    pub max_body: usize,
    /// When set, every route but `/health` requires
    /// `Authorization: Bearer <token>` (`--auth-token`, `FASTY_AUTH_TOKEN`).
    /// An empty token is refused by [`ServerOptions::validate`] (and never
    /// matches in [`router`]). Default none.
    pub auth_token: Option<String>,
    /// How long a client has, from its first byte, to send a request line
    /// and headers; past it the connection is closed (slow-header
    /// clients). Default 10 s.
    pub head_timeout: Duration,
    /// How long a client has, from the end of its headers, to send the
    /// whole body (not per chunk: a body trickled byte by byte is cut off
    /// too); past it the request is answered 408 and the connection
    /// closed. Default 60 s.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may sit without a request (and
    /// without reading or writing anything) before it is closed. Default
    /// 60 s.
    pub idle_timeout: Duration,
    /// How long a graceful stop waits for admitted requests; past it the
    /// connections still open are closed and their statements cancelled,
    /// then the database is synced as usual. Default 30 s.
    pub stop_timeout: Duration,
    /// Time limit of one statement, from when it starts running; past it
    /// the statement stops with `statement_timeout` (400). `None`: no
    /// limit. Default 5 min (`--statement-timeout-ms`).
    pub statement_timeout: Option<Duration>,
    /// Memory limit of one statement's intermediate state (hash tables,
    /// sort buffers, results) in bytes; past it the statement stops with
    /// `memory_limit` (400). `None`: no limit. Default 1 GiB
    /// (`--statement-memory-mb`).
    pub statement_memory: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_body: 64 << 20,
            auth_token: None,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(30),
            statement_timeout: Some(Duration::from_secs(300)),
            statement_memory: Some(1 << 30),
        }
    }
}

impl ServerOptions {
    /// Sets [`ServerOptions::max_body`].
    #[must_use]
    pub fn with_max_body(mut self, max_body: usize) -> ServerOptions {
        self.max_body = max_body;
        self
    }

    /// Sets [`ServerOptions::auth_token`].
    #[must_use]
    pub fn with_auth_token(mut self, auth_token: Option<String>) -> ServerOptions {
        self.auth_token = auth_token;
        self
    }

    /// Sets [`ServerOptions::head_timeout`].
    #[must_use]
    pub fn with_head_timeout(mut self, head_timeout: Duration) -> ServerOptions {
        self.head_timeout = head_timeout;
        self
    }

    /// Sets [`ServerOptions::body_timeout`].
    #[must_use]
    pub fn with_body_timeout(mut self, body_timeout: Duration) -> ServerOptions {
        self.body_timeout = body_timeout;
        self
    }

    /// Sets [`ServerOptions::idle_timeout`].
    #[must_use]
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> ServerOptions {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets [`ServerOptions::stop_timeout`].
    #[must_use]
    pub fn with_stop_timeout(mut self, stop_timeout: Duration) -> ServerOptions {
        self.stop_timeout = stop_timeout;
        self
    }

    /// Sets [`ServerOptions::statement_timeout`].
    #[must_use]
    pub fn with_statement_timeout(mut self, statement_timeout: Option<Duration>) -> ServerOptions {
        self.statement_timeout = statement_timeout;
        self
    }

    /// Sets [`ServerOptions::statement_memory`].
    #[must_use]
    pub fn with_statement_memory(mut self, statement_memory: Option<usize>) -> ServerOptions {
        self.statement_memory = statement_memory;
        self
    }

    /// Checks the options: an empty (or blank) auth token, which would
    /// let anyone in who sends `Bearer ` and nothing else, and zero
    /// timeouts or limits are refused.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self
            .auth_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(OptionsError(
                "auth token must not be empty: give a token or none".into(),
            ));
        }
        for (name, d) in [
            ("head timeout", self.head_timeout),
            ("body timeout", self.body_timeout),
            ("idle timeout", self.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(OptionsError(format!("the {name} must not be zero")));
            }
        }
        if self.statement_timeout.is_some_and(|d| d.is_zero()) {
            return Err(OptionsError(
                "the statement timeout must not be zero: leave it unset for no limit".into(),
            ));
        }
        if self.statement_memory == Some(0) {
            return Err(OptionsError(
                "the statement memory limit must not be zero: leave it unset for no limit".into(),
            ));
        }
        Ok(())
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
            .field("head_timeout", &self.head_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("stop_timeout", &self.stop_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("statement_memory", &self.statement_memory)
            .finish()
    }
}

/// Options that [`ServerOptions::validate`] refuses; the message says
/// which and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError(String);

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionsError {}

/// What every handler shares: the database, the options, the request
/// metrics and the shutdown state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    db: Arc<Database>,
    opts: Arc<ServerOptions>,
    metrics: Arc<Metrics>,
    lifecycle: Arc<Lifecycle>,
    started: Instant,
}

impl AppState {
    /// State over `db` with `opts` (checked by [`serve`], see
    /// [`ServerOptions::validate`]).
    pub fn new(db: Arc<Database>, opts: ServerOptions) -> AppState {
        AppState {
            db,
            opts: Arc::new(opts),
            metrics: Arc::new(Metrics::new()),
            lifecycle: Arc::new(Lifecycle::default()),
            started: Instant::now(),
        }
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

/// The routes of docs/http.md over `state`, with the auth, shutdown and
/// metrics layer around them. Unknown routes get 404, wrong methods 405,
/// both with the JSON error body.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/query", post(query::query))
        .route("/health", get(health))
        .route("/stats", get(stats::stats))
        .route("/metrics", get(stats::metrics))
        .route("/schema", get(schema::all))
        .route("/schema/{table}", get(schema::one))
        .route("/admin/checkpoint", post(admin::checkpoint))
        .route("/admin/compact", post(admin::compact))
        .route("/admin/backup", post(admin::backup))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let opts = ServerOptions::default().with_auth_token(Some("s3cret".into()));
        let shown = format!("{opts:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

//! fasty-server: the HTTP API of SPEC §3 as an [`axum::Router`] over a
//! shared [`fasty_query::Database`].
//!
//! [`router`] builds the routes; [`serve`] runs them on a listener until a
//! shutdown future resolves, then finishes in-flight requests and syncs the
//! database. Statements run on tokio's blocking pool, never on the async
//! workers.
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fasty_query::Database;

/// Settings of the HTTP layer (the database's own options are the
/// caller's: it opens the [`Database`]).
#[derive(Clone, Debug)]
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

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    db: Arc<Database>,
    opts: Arc<ServerOptions>,
}

impl AppState {
    /// State over `db` with `opts`.
    pub fn new(db: Arc<Database>, opts: ServerOptions) -> AppState {
        AppState {
            db,
            opts: Arc::new(opts),
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
}

/// The routes of SPEC §3 over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(state)
}

async fn health() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        r#"{"success":true,"data":"ok"}"#,
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/json")],
        r#"{"success":false,"error":{"code":"not_found","message":"no such route"}}"#,
    )
        .into_response()
}

/// Serves [`router`] on `listener` until `shutdown` resolves; then stops
/// accepting, lets in-flight requests finish and syncs the database.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let db = state.db.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tokio::task::spawn_blocking(move || db.kv().sync())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}

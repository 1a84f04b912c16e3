//! `fasty serve`: the HTTP server of SPEC §3 on a data directory, until
//! SIGINT or SIGTERM; then every in-flight request finishes and the
//! database is closed (synced) before the process exits 0.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use fasty_query::Database;
use fasty_server::{AppState, ServerOptions};

use crate::{DataArgs, Result};

/// `fasty serve --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "Run the HTTP server (SPEC §3) on a data directory.

Serves the HTTP API (POST /query, GET /health, /stats, /metrics, …) until
SIGINT or SIGTERM, then finishes in-flight requests, syncs everything and
exits 0. --memory keeps nothing on disk and cannot be combined with
--data-dir. A non-loopback --listen needs a non-empty --auth-token (or
--insecure). The log (stderr, RUST_LOG, default info) is plain text unless
stderr is a terminal; its first line names the address, data directory,
durability mode and whether auth is on.

Example:
  fasty serve --data-dir ./data --listen 127.0.0.1:8000 --durable
  curl -d '{\"query\": \"select users\"}' http://127.0.0.1:8000/query";

/// Run the HTTP server (SPEC §3) on a data directory.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    listen: SocketAddr,
    /// Require `Authorization: Bearer T` on every route but /health.
    #[arg(
        long,
        env = "FASTY_AUTH_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    auth_token: Option<String>,
    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_body: usize,
    /// Allow a non-loopback address without an auth token.
    #[arg(long)]
    insecure: bool,
}

/// Runs the server until a signal stops it.
pub fn run(mut args: ServeArgs) -> Result<()> {
    args.data.check()?;
    // An empty token (`--auth-token ""`, an empty FASTY_AUTH_TOKEN) would
    // let anyone in with `Bearer `: it counts as no token.
    let empty_token = args
        .auth_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty());
    if empty_token {
        args.auth_token = None;
    }
    if !args.listen.ip().is_loopback() && args.auth_token.is_none() && !args.insecure {
        let what = if empty_token {
            "with an empty --auth-token (or FASTY_AUTH_TOKEN)"
        } else {
            "without --auth-token"
        };
        return Err(format!(
            "refusing to listen on {} (not a loopback address) {what}; \
             give a non-empty token, or pass --insecure to allow it",
            args.listen
        )
        .into());
    }
    if empty_token {
        tracing::warn!("the auth token is empty: authentication is off");
    }
    let dir = args.data.dir();
    let db = Arc::new(Database::open(&dir, args.data.options())?);
    let data_desc = if args.data.memory {
        "none (memory)".to_string()
    } else {
        dir.display().to_string()
    };
    let mode = args.data.mode_name();
    let auth = if args.auth_token.is_some() {
        "on"
    } else {
        "off"
    };
    let state = AppState::new(
        db.clone(),
        ServerOptions {
            max_body: args.max_body,
            auth_token: args.auth_token,
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        tracing::info!(
            addr = %listener.local_addr()?,
            data_dir = ?data_desc,
            durability = ?mode,
            auth = %auth,
            "listening"
        );
        fasty_server::serve(listener, state, shutdown_signal()).await
    })?;
    drop(rt);
    // Every handler is done with the database: close it (final sync).
    match Arc::try_unwrap(db) {
        Ok(db) => db.close()?,
        Err(db) => db.kv().sync()?,
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

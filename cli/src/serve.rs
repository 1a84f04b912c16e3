//! `fasty serve`: the HTTP server of docs/http.md on a data directory, until
//! SIGINT or SIGTERM; then every in-flight request finishes and the
//! database is closed (synced) before the process exits 0.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use fasty_query::Database;
use fasty_server::{AppState, ServerOptions};

use crate::{DataArgs, Result};

/// `fasty serve --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "Run the HTTP server (docs/http.md) on a data directory.

Serves the HTTP API (POST /query, GET /health, /stats, /metrics, …) until
SIGINT or SIGTERM, then finishes in-flight requests, syncs everything and
exits 0. --memory keeps nothing on disk and cannot be combined with
--data-dir. A non-loopback --listen needs a non-empty --auth-token (or
--insecure); so does a non-loopback --pg-listen, which also serves the
PostgreSQL wire protocol (docs/postgres.md: psql and drivers connect; the
password is the auth token). The log (stderr, RUST_LOG, default info) is plain text unless
stderr is a terminal; its first line names the address, data directory,
durability mode and whether auth is on.

Example:
  fasty serve --data-dir ./data --listen 127.0.0.1:8000 --durable
  curl -d '{\"query\": \"select users\"}' http://127.0.0.1:8000/query
  fasty serve --data-dir ./data --pg-listen 127.0.0.1:5432
  psql -h 127.0.0.1 -p 5432";

/// Run the HTTP server (docs/http.md) on a data directory.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    listen: SocketAddr,
    /// Also serve the PostgreSQL wire protocol on this address
    /// (docs/postgres.md), e.g. 127.0.0.1:5432. Default: off.
    #[arg(long, value_name = "ADDR")]
    pg_listen: Option<SocketAddr>,
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
    /// Time limit of one statement in milliseconds (0: none); past it the
    /// statement fails with statement_timeout.
    #[arg(long, default_value_t = 300_000, value_name = "MS")]
    statement_timeout_ms: u64,
    /// Memory limit of one statement in MiB (0: none); past it the
    /// statement fails with memory_limit.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    statement_memory_mb: usize,
    /// Time a client has to send a request line and headers, in
    /// milliseconds from their first byte.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    head_timeout_ms: u64,
    /// Time a client has to send a whole request body, in milliseconds;
    /// past it the request gets 408.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    body_timeout_ms: u64,
    /// Time a keep-alive connection may sit idle, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    idle_timeout_ms: u64,
    /// Time a graceful stop waits for running requests, in milliseconds;
    /// then they are cut off and the database is synced.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    stop_timeout_ms: u64,
}

/// Runs the server until a signal stops it.
pub fn run(args: ServeArgs) -> Result<()> {
    args.data.check()?;
    // An empty token (`--auth-token ""`, an empty FASTY_AUTH_TOKEN) would
    // let anyone in with `Bearer `: on a public address it counts as no
    // token, and anywhere else `ServerOptions::validate` refuses it.
    let empty_token = args
        .auth_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty());
    for addr in std::iter::once(args.listen).chain(args.pg_listen) {
        if !addr.ip().is_loopback() && (args.auth_token.is_none() || empty_token) && !args.insecure
        {
            let what = if empty_token {
                "with an empty --auth-token (or FASTY_AUTH_TOKEN)"
            } else {
                "without --auth-token"
            };
            return Err(format!(
                "refusing to listen on {addr} (not a loopback address) {what}; \
                 give a non-empty token, or pass --insecure to allow it"
            )
            .into());
        }
    }
    let ms = std::time::Duration::from_millis;
    let opts = ServerOptions::default()
        .with_max_body(args.max_body)
        .with_auth_token(args.auth_token)
        .with_head_timeout(ms(args.head_timeout_ms))
        .with_body_timeout(ms(args.body_timeout_ms))
        .with_idle_timeout(ms(args.idle_timeout_ms))
        .with_stop_timeout(ms(args.stop_timeout_ms))
        .with_statement_timeout(
            (args.statement_timeout_ms > 0).then(|| ms(args.statement_timeout_ms)),
        )
        .with_statement_memory(
            (args.statement_memory_mb > 0)
                .then(|| args.statement_memory_mb.saturating_mul(1 << 20)),
        );
    opts.validate()?;
    let dir = args.data.dir();
    let db = Arc::new(Database::open(&dir, args.data.options())?);
    let data_desc = if args.data.memory {
        "none (memory)".to_string()
    } else {
        dir.display().to_string()
    };
    let mode = args.data.mode_name();
    let auth = if opts.auth_token.is_some() {
        "on"
    } else {
        "off"
    };
    let state = AppState::new(db.clone(), opts);
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
        let Some(pg_addr) = args.pg_listen else {
            return fasty_server::serve(listener, state, shutdown_signal()).await;
        };
        let pg_listener = tokio::net::TcpListener::bind(pg_addr).await?;
        tracing::info!(addr = %pg_listener.local_addr()?, auth = %auth, "postgres listening");
        // One signal stops both servers.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let signal = tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let (http, pg) = tokio::join!(
            fasty_server::serve(listener, state.clone(), stopped()),
            fasty_server::serve_pg(pg_listener, state, stopped()),
        );
        signal.abort();
        http.and(pg)
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

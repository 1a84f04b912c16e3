//! `fasty`: the command line of SPEC §5 — run the server, query, an
//! interactive shell, CSV import and administration, on a data directory or
//! against a running server.
#![deny(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use fasty_query::{Database, Options};
use fasty_server::{AppState, ServerOptions};
use fasty_wal::Durability;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// fasty: a high-throughput relational database.
#[derive(Parser, Debug)]
#[command(name = "fasty", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (SPEC §3) on a data directory.
    Serve(ServeArgs),
}

/// Where the data lives and how durable writes are (SPEC §4).
#[derive(Args, Debug, Clone)]
struct DataArgs {
    /// The data directory (created if missing).
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Acknowledge a write only after the log is fsynced (group commit).
    #[arg(long, conflicts_with = "memory")]
    durable: bool,
    /// Keep everything in memory; nothing touches the disk.
    #[arg(long)]
    memory: bool,
    /// Async mode: how often the log is fsynced, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "N")]
    sync_interval_ms: u64,
}

impl DataArgs {
    fn options(&self) -> Options {
        let mut opts = Options::default();
        opts.wal.durability = if self.durable {
            Durability::Durable
        } else if self.memory {
            Durability::Memory
        } else {
            Durability::Async {
                sync_interval: Duration::from_millis(self.sync_interval_ms.max(1)),
            }
        };
        opts
    }
}

#[derive(Args, Debug)]
struct ServeArgs {
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn serve(args: ServeArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() && args.auth_token.is_none() && !args.insecure {
        return Err(format!(
            "refusing to listen on {} (not a loopback address) without --auth-token; \
             pass --insecure to allow it",
            args.listen
        )
        .into());
    }
    let db = Arc::new(Database::open(&args.data.data_dir, args.data.options())?);
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
        tracing::info!(addr = %listener.local_addr()?, "listening");
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

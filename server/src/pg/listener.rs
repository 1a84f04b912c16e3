//! [`serve_pg`]: the accept loop of the PostgreSQL listener, one task per
//! connection, and its part of the graceful stop.
//!
//! The stop, once the shutdown future resolves: stop accepting; new
//! statements are refused (57P01) from the moment draining begins (the
//! HTTP server's drain and this one share the state's in-flight count),
//! running ones get up to `stop_timeout` to finish; then the connections
//! are closed (a statement still running has its cancel flag set). The
//! HTTP [`crate::serve`] syncs the database after its own drain, which
//! waits for these statements too.

use std::future::Future;
use std::sync::Arc;

use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ConnectionManager, PgWireServerHandlers};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::auth::Startup;
use super::cancel::Cancel;
use super::handler::Backend;
use crate::AppState;

/// Every connection's handlers.
struct Handlers {
    backend: Arc<Backend>,
    startup: Arc<Startup>,
    cancel: Arc<Cancel>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.backend.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.backend.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}

/// Serves the PostgreSQL wire protocol on `listener` over `state`'s
/// database until `shutdown` resolves, then stops as the module doc
/// says. Authentication follows `state`'s auth token: none, trust; one,
/// the password must equal it (SCRAM-SHA-256). Refusing a non-loopback
/// address without a token is the caller's (the command line's) rule,
/// as for HTTP. Fails at once if the options do not pass
/// [`crate::ServerOptions::validate`].
pub async fn serve_pg(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .opts
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let manager = Arc::new(ConnectionManager::new());
    let handlers = Arc::new(Handlers {
        backend: Arc::new(Backend::new(state.clone())),
        startup: Arc::new(Startup::new(
            state.opts.auth_token.as_deref(),
            manager.clone(),
        )),
        cancel: Arc::new(Cancel::new(manager)),
    });
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handlers = handlers.clone();
                    conns.spawn(async move {
                        if let Err(e) = pgwire::tokio::process_socket(stream, None, handlers).await {
                            tracing::debug!("postgres connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accepting a postgres connection failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!("postgres listener: refusing new statements, finishing running ones");
    let drained = tokio::time::timeout(state.opts.stop_timeout, state.lifecycle.drain()).await;
    if drained.is_err() {
        tracing::warn!("postgres statements still running after the stop timeout: cancelling them");
    }
    conns.shutdown().await;
    Ok(())
}

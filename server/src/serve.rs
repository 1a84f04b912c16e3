//! [`serve`]: the accept loop, one hyper HTTP/1.1 connection task per
//! client with the head and idle deadlines of [`crate::connection`], and
//! the graceful stop with its bound.
//!
//! The stop, once the shutdown future resolves:
//! 1. drain: new requests get 503 (the listener still accepts, so clients
//!    learn the server is stopping) while admitted ones finish — for at
//!    most `stop_timeout`;
//! 2. stop accepting and close the connections: idle ones at once, busy
//!    ones when their request is done; whatever is still open at the end
//!    of `stop_timeout` is cut off, which drops its handler and so
//!    cancels its statement;
//! 3. wait (again at most `stop_timeout`) for statements still running on
//!    the blocking pool to notice the cancellation;
//! 4. sync the database.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::connection::{RequestClock, Watched};
use crate::{AppState, ServerOptions, router};

/// Serves [`router`] on `listener` until `shutdown` resolves; then drains
/// (requests arriving from then on get 503, admitted ones finish, for at
/// most [`ServerOptions::stop_timeout`]), stops accepting, closes the
/// connections (cutting off stragglers) and syncs the database. Fails at
/// once, before accepting anything, if the options do not pass
/// [`ServerOptions::validate`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .opts
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let app = router(state.clone());
    let (close_tx, close_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let accept = |stream: TcpStream, conns: &mut JoinSet<()>| {
        conns.spawn(connection(
            stream,
            app.clone(),
            state.clone(),
            close_rx.clone(),
        ));
    };

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => accept(stream, &mut conns),
                Err(e) => accept_failed(e).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }

    let opts: &ServerOptions = &state.opts;
    let cut_off = Instant::now() + opts.stop_timeout;
    tracing::info!("shutting down: refusing new requests, finishing admitted ones");
    let drained = {
        let drain = state.lifecycle.drain();
        tokio::pin!(drain);
        loop {
            tokio::select! {
                () = &mut drain => break true,
                () = tokio::time::sleep_until(cut_off) => break false,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => accept(stream, &mut conns),
                    Err(e) => accept_failed(e).await,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    };
    drop(listener);
    if drained {
        tracing::info!("drained: closing connections");
    } else {
        tracing::warn!(
            "requests still running after the stop timeout ({} ms): cutting them off",
            opts.stop_timeout.as_millis()
        );
    }
    let _ = close_tx.send(true);
    let closed = tokio::time::timeout_at(cut_off, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if closed.is_err() {
        tracing::warn!("closing {} connection(s) still open", conns.len());
        conns.shutdown().await;
    }
    if !drained {
        // Cut-off handlers set their statements' cancel flags; give the
        // statements time to notice before syncing under them.
        let waited = tokio::time::timeout(opts.stop_timeout, state.lifecycle.drain()).await;
        if waited.is_err() {
            tracing::warn!("syncing the database with statements still running");
        }
    }

    tracing::info!("syncing the database");
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || db.kv().sync())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}

/// An accept error (out of file descriptors, say): logged, then a short
/// pause so a persistent one does not spin.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!("accepting a connection failed: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// One client connection, until it closes, times out, or the stop closes
/// it (gracefully: after its current request).
async fn connection(
    stream: TcpStream,
    app: Router,
    state: AppState,
    mut close: watch::Receiver<bool>,
) {
    let _open = state.metrics.connection_opened();
    let _ = stream.set_nodelay(true);
    let clock = Arc::new(RequestClock::new(
        state.opts.head_timeout,
        state.opts.idle_timeout,
    ));
    let io = TokioIo::new(Watched::new(stream, clock.clone()));
    let service = {
        let clock = clock.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = clock.begin();
            let mut app = app.clone();
            async move {
                let res = tower_service::Service::call(&mut app, req).await;
                drop(busy);
                res
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let watchdog = tokio::time::sleep_until(clock.deadline());
    tokio::pin!(watchdog);
    let mut closing = *close.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            () = &mut watchdog => {
                if let Some(what) = clock.expired() {
                    tracing::debug!("{what} timed out: closing the connection");
                    return;
                }
                watchdog.as_mut().reset(clock.deadline());
            }
            () = clock.head_began() => watchdog.as_mut().reset(clock.deadline()),
            changed = close.changed(), if !closing => {
                if changed.is_err() || *close.borrow() {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

//! The server under test when no `--url` is given: `fasty_server::serve`
//! over a fresh `fasty_query::Database`, on a loopback port, on a tokio
//! runtime of its own (its worker and blocking threads apart from the
//! load generator's).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use fasty_query::{Database, Options};
use fasty_server::{AppState, ServerOptions};
use tokio::sync::oneshot;

use super::Mode;

/// A running in-process server.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl InProcess {
    /// Opens a database in `dir` in `mode` and serves it on
    /// `127.0.0.1:0` with `threads` async workers, requiring
    /// `auth_token` if given.
    pub fn start(
        dir: &Path,
        mode: Mode,
        threads: usize,
        auth_token: Option<String>,
    ) -> Result<InProcess, String> {
        let opts = match mode {
            Mode::Async => Options::default(),
            Mode::Durable => Options::durable(),
            Mode::Memory => Options::memory(),
        };
        let db = Database::open(dir, opts)
            .map_err(|e| format!("opening the database in {}: {e}", dir.display()))?;
        InProcess::serve(Arc::new(db), threads, auth_token)
    }

    /// Serves the open database `db` on `127.0.0.1:0` with `threads` async
    /// workers, requiring `auth_token` if given.
    pub fn serve(
        db: Arc<Database>,
        threads: usize,
        auth_token: Option<String>,
    ) -> Result<InProcess, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("fasty-server")
            .enable_all()
            .build()
            .map_err(|e| format!("server runtime: {e}"))?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("listener address: {e}"))?;
        let opts = ServerOptions::default().with_auth_token(auth_token);
        let state = AppState::new(db, opts);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = rt.spawn(fasty_server::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Ok(InProcess {
            rt,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it gracefully (in-flight requests finish, the database is
    /// synced) and waits for that.
    pub fn stop(mut self) -> Result<(), String> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => match self.rt.block_on(task) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("server: {e}")),
                Err(e) => Err(format!("server task: {e}")),
            },
            None => Ok(()),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

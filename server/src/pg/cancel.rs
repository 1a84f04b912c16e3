//! Cancel requests: a client's CancelRequest (on a connection of its
//! own, with the process id and secret key the server gave at start-up)
//! sets the cancel flag of the statement running on that connection,
//! which then stops with 57014 (`cancelled`). pgwire's connection manager
//! maps the key to the connection; `handler` listens while a statement
//! runs.

use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::ConnectionManager;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;

/// Routes cancel requests to the connections registered at start-up.
pub(crate) struct Cancel {
    manager: Arc<ConnectionManager>,
}

impl Cancel {
    pub(crate) fn new(manager: Arc<ConnectionManager>) -> Cancel {
        Cancel { manager }
    }
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, req: CancelRequest) {
        let found = self.manager.cancel(req.pid, &req.secret_key).await;
        tracing::debug!(pid = req.pid, found, "cancel request");
    }
}

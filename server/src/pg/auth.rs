//! Start-up and authentication. Without an auth token every client is
//! trusted (the listener is then loopback-only, or `--insecure`); with
//! one, the client authenticates with SCRAM-SHA-256 (PostgreSQL's default
//! password method, so the token never crosses the wire), and its
//! password must equal the token. Either way the connection is registered
//! for cancel requests and told the server's parameters.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{SCRAM_ITERATIONS, ScramAuth, gen_salted_password};
use pgwire::api::auth::{
    AuthSource, LoginInfo, Password, ServerParameterProvider, StartupHandler,
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, ConnectionManager, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::settings::Settings;

/// The parameters reported at start-up: [`Settings`]' defaults with the
/// client's start-up values.
#[derive(Debug, Default)]
pub(crate) struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let s = Settings::new(client.metadata());
        let mut out: HashMap<String, String> = s.all().into_iter().collect();
        // Only what PostgreSQL itself reports at start-up.
        out.retain(|k, _| {
            super::settings::REPORTED.contains(&k.as_str())
                || matches!(
                    k.as_str(),
                    "server_version"
                        | "server_encoding"
                        | "integer_datetimes"
                        | "is_superuser"
                        | "default_transaction_read_only"
                )
        });
        if let Some(user) = client.metadata().get("user") {
            out.insert("session_authorization".into(), user.clone());
        }
        Some(out)
    }
}

/// The password source: the auth token, salted once per server start.
#[derive(Debug)]
struct Token {
    salt: Vec<u8>,
    salted: Vec<u8>,
}

#[async_trait]
impl AuthSource for Token {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// 16 bytes that differ between server starts (SCRAM's salt need not
/// be secret, only not reused across passwords).
fn salt() -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.extend_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// The start-up handler: trust, or SCRAM-SHA-256 against the token.
pub(crate) enum Startup {
    /// No token: every client is let in.
    Trust {
        manager: Arc<ConnectionManager>,
        keys: RandomPidSecretKeyGenerator,
    },
    /// The password must equal the token.
    Scram(Box<SASLAuthStartupHandler<Parameters>>),
}

impl Startup {
    /// Trust without `token`, SCRAM-SHA-256 with it; connections are
    /// registered with `manager` for cancel requests.
    pub(crate) fn new(token: Option<&str>, manager: Arc<ConnectionManager>) -> Startup {
        match token {
            None => Startup::Trust {
                manager,
                keys: RandomPidSecretKeyGenerator::default(),
            },
            Some(token) => {
                let salt = salt();
                let salted = gen_salted_password(token, &salt, SCRAM_ITERATIONS);
                let mut scram = ScramAuth::new(Arc::new(Token { salt, salted }));
                scram.set_iterations(SCRAM_ITERATIONS);
                let handler = SASLAuthStartupHandler::new(Arc::new(Parameters))
                    .with_scram(scram)
                    .with_connection_manager(manager);
                Startup::Scram(Box::new(handler))
            }
        }
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Scram(h) => h.on_startup(client, message).await,
            Startup::Trust { manager, keys } => {
                if let PgWireFrontendMessage::Startup(ref startup) = message {
                    protocol_negotiation(client, startup).await?;
                    save_startup_parameters_to_metadata(client, startup);
                    let (pid, key) = keys.generate(client);
                    client.set_pid_and_secret_key(pid, key.clone());
                    let (handle, guard) = manager.register(pid, key);
                    client
                        .session_extensions()
                        .insert::<Arc<ConnectionHandle>>(handle);
                    client.session_extensions().insert::<ConnectionGuard>(guard);
                    finish_authentication(client, &Parameters).await?;
                    client.flush().await?;
                }
                Ok(())
            }
        }
    }
}

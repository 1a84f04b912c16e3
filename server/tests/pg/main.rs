//! Integration tests of the PostgreSQL wire protocol (docs/postgres.md):
//! a server on a loopback port, driven by `tokio-postgres`. One test
//! binary, one module per concern.

mod auth;
mod common;
mod errors;
mod extended;
mod limits;
mod settings;
mod simple;
mod transactions;

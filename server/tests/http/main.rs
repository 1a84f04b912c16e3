//! Integration tests of the HTTP API (docs/http.md) over real HTTP on a
//! loopback port: one test binary, one module per concern.

mod admin;
mod api;
mod client;
mod deadlines;
mod limits;
mod malformed;
mod params;
mod shutdown;
mod sql;
mod streaming;
mod transactions;

//! Integration tests of the HTTP API (SPEC §3) over real HTTP on a
//! loopback port: one test binary, one module per concern.

mod api;
mod client;
mod malformed;
mod shutdown;

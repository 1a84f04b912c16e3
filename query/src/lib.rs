//! fasty-query: the relational layer — the fasty language (docs/language.md)
//! over fasty's durable key-value store.
//!
//! The data path of a statement: `parser` (nom; text → [`ast`]) →
//! `planner` (names resolved against the `catalog`, access path chosen,
//! filters compiled) → `exec` (runs the plan over one snapshot) →
//! `fasty_wal::Db`. Rows are stored under order-preserving keys (`keys`)
//! in a compact value encoding (`row`).
//!
//! A query's rows leave through a [`RowSink`] in chunks as they are
//! produced ([`Database::run_into`]; `run` collects them), and every long
//! operator checks the statement's limits (`limits`: deadline, cancel
//! flag, memory) once per chunk of rows.
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod ast;
mod catalog;
mod database;
mod error;
mod exec;
mod expr;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod hint;
mod keys;
mod limits;
pub mod parser;
mod planner;
mod row;
mod stream;
mod value;
mod verify;

pub use database::{
    Column, Database, ExecOptions, InsertMode, Options, Output, Prepared, Streamed,
};
pub use error::{Error, ErrorCode, Result};
/// The durability modes of [`Options`], from the log below.
pub use fasty_wal::Durability;
pub use stream::RowSink;
pub use value::Value;
pub use verify::{IntegrityKind, IntegrityProblem, IntegrityReport};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

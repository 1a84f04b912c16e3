//! fasty-query: the relational layer — the fasty language (docs/language.md)
//! over fasty's durable key-value store.
//!
//! The data path of a statement: `parser` (nom; text → `ast`, which
//! users see only as an opaque [`Statement`] from [`parse`]) →
//! `plan` (names resolved against the `catalog`, access paths and join
//! strategies chosen) → `exec` (runs the physical plan over one snapshot,
//! column chunks through vectorised operators) →
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

// The syntax tree and the parser are the crate's own: users parse with
// [`parse`] into an opaque [`Statement`]. The `test-util` feature opens
// them (hidden from the docs, not a supported API) to this crate's
// integration tests, whose SQLite differential test builds random trees.
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod ast;
#[cfg(not(feature = "test-util"))]
mod ast;
mod cast;
mod catalog;
mod constraints;
mod database;
mod error;
mod exec;
mod expr;
mod func;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod hint;
mod keys;
mod layout;
mod limits;
mod output;
mod param_types;
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod parser;
#[cfg(not(feature = "test-util"))]
mod parser;
mod plan;
mod profile;
mod row;
mod session;
mod sql;
mod statement;
mod stream;
mod transaction;
mod value;
mod vector;
mod verify;

pub use ast::{ColumnDef, ColumnType};
pub use database::{Database, InsertMode, Options, Prepared};
pub use error::{Error, ErrorCode, Result};
/// The durability modes of [`Options`], from the log below.
pub use fasty_wal::Durability;
pub use limits::ExecOptions;
pub use output::{Column, Output, Streamed};
pub use parser::{MAX_DEPTH, MAX_EXPLAINS, MAX_JSON_DEPTH, MAX_LIKE_PATTERN_LEN, MAX_NAME_LEN};
pub use session::{Session, Transaction};
pub use sql::parse_sql;
pub use statement::{Statement, StatementKind, parse};
pub use stream::RowSink;
pub use transaction::TransactionStats;
pub use value::Value;
pub use verify::{IntegrityKind, IntegrityProblem, IntegrityReport};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! fasty-query: the relational layer — the fasty language (SPEC §1–2)
//! over fasty's durable key-value store.
//!
//! The data path of a statement: `parser` (nom; text → [`ast`]) →
//! `planner` (names resolved against the `catalog`, access path chosen,
//! filters compiled) → `exec` (runs the plan over one snapshot) →
//! `fasty_wal::Db`. Rows are stored under order-preserving keys (`keys`)
//! in a compact value encoding (`row`).
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod ast;
mod catalog;
mod database;
mod error;
mod exec;
mod expr;
#[doc(hidden)]
pub mod fuzzing;
mod hint;
mod keys;
pub mod parser;
mod planner;
mod row;
mod value;
mod verify;

pub use database::{Column, Database, ExecOptions, InsertMode, Options, Output, Prepared};
pub use error::{Error, ErrorCode, Result};
pub use value::Value;
pub use verify::{IntegrityKind, IntegrityProblem, IntegrityReport};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

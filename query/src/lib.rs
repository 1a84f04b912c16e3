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
mod error;
mod hint;
pub mod parser;
mod value;

pub use error::{Error, ErrorCode, Result};
pub use value::Value;

//! The SQLite differential test's parts (tests/differential.rs): the
//! schema, the generators of queries and writes, the translation to SQLite
//! text, the comparison of results and the pair of databases.

pub mod compare;
pub mod functions;
pub mod generate;
pub mod pair;
pub mod schema;
pub mod sql;

#[path = "../slt_db.rs"]
pub mod slt_db;

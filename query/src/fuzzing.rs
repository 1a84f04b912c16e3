//! Entry points for the fuzz targets in `fuzz/` (outside the workspace and
//! CI) and for the regression tests of what they found. Not part of the
//! supported API.

use std::sync::OnceLock;

use crate::ast::ColumnType;
use crate::database::{Database, Options};
use crate::error::Result;
use crate::limits::ExecOptions;
use crate::statement::{Statement, StatementKind};
use crate::value::Value;
use crate::{keys, parser, row};

/// Parses `text` as a statement and as a prepared statement. Any outcome
/// but a panic (or a stack overflow) is fine.
pub fn parse(text: &str) -> Result<Statement> {
    let _ = parser::parse_with_params(text);
    crate::parse(text)
}

/// Parses `text` and, when it is a `select` or an `explain`, runs it
/// against a small fixed in-memory database (tables `t {id, a: int, b:
/// float, s: string, f: bool, j: json}` with an index on `a` and `s`, and
/// `u {id, t_id: int, name: string}`, a few rows each). Read-only, so
/// a crashing input reproduces on its own.
pub fn parse_and_query(text: &str) {
    let Ok(stmt) = crate::parse(text) else {
        return;
    };
    if !matches!(stmt.kind(), StatementKind::Select | StatementKind::Explain) {
        return;
    }
    if let Some(db) = fixture() {
        let _ = db.run(&stmt, ExecOptions::default());
    }
}

/// The database [`parse_and_query`] reads, made once per process.
fn fixture() -> Option<&'static Database> {
    static DB: OnceLock<Option<Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = std::env::temp_dir();
        let db = Database::open(dir, Options::memory()).ok()?;
        for text in [
            "create table t {id: int, a: int, b: float, s: string, f: bool, j: json}",
            "create index t_a on t (a)",
            "create index t_s on t (s)",
            "create table u {id: int, t_id: int, name: string}",
            r#"insert t [{id: 1, a: 10, b: 1.5, s: "x", f: true, j: {"k": [1, 2]}},
                {id: 2, a: -3, b: -0.0, s: "", f: false, j: [null]},
                {id: 3, a: null, b: 1e300, s: "yz", f: null, j: null},
                {id: 4, a: 9223372036854775807, b: null, s: null, f: true, j: {"a": {"b": "c"}}}]"#,
            r#"insert u [{id: 1, t_id: 1, name: "a"}, {id: 2, t_id: 2, name: "b"},
                {id: 3, t_id: 9, name: null}]"#,
        ] {
            db.execute(text).ok()?;
        }
        Some(db)
    })
    .as_ref()
}

/// The column types of the schemas [`decode_row`] checks rows against;
/// the first byte of the input picks one.
const SCHEMAS: &[&[ColumnType]] = &[
    &[ColumnType::Int],
    &[ColumnType::Int, ColumnType::String],
    &[
        ColumnType::Int,
        ColumnType::Float,
        ColumnType::Bool,
        ColumnType::String,
        ColumnType::Json,
    ],
    &[ColumnType::Json, ColumnType::Int, ColumnType::Json],
    &[ColumnType::Int; 12],
];

/// Decodes `bytes` (after a first byte choosing a schema) as a stored row
/// in every way the executor reads rows: whole, a few columns, column by
/// column in both directions and the `int` reader of the schema's int
/// columns; also as the value part of an index key. What decodes must
/// re-encode to a row that decodes to the same values.
pub fn decode_row(bytes: &[u8]) {
    let Some((&pick, bytes)) = bytes.split_first() else {
        return;
    };
    let schema = SCHEMAS[usize::from(pick) % SCHEMAS.len()];
    let ncols = schema.len();
    if let Ok(values) = row::decode_row(bytes, ncols) {
        assert_eq!(values.len(), ncols);
        let mut again = Vec::new();
        row::encode_row(&values, &mut again);
        assert_eq!(
            row::decode_row(&again, ncols).ok().as_ref(),
            Some(&values),
            "a decoded row re-encodes to the same values"
        );
    }
    let positions: Vec<usize> = (0..ncols).step_by(2).collect();
    let mut out = vec![Value::Null; positions.len()];
    let _ = row::decode_columns(bytes, &positions, &mut out);
    if let Ok(mut reader) = row::RowReader::new(bytes) {
        for pos in (0..=ncols).chain((0..=ncols).rev()) {
            let _ = reader.get(pos);
            let _ = reader.value(pos);
            if schema.get(pos) == Some(&ColumnType::Int) {
                let _ = reader.int(pos);
            }
        }
        let _ = reader.expect_end();
    }
    if let Ok((value, used)) = keys::decode_ordered(bytes) {
        assert!(used <= bytes.len());
        let mut again = Vec::new();
        keys::encode_ordered(&value, &mut again);
        assert_eq!(
            keys::decode_ordered(&again).ok().map(|(v, _)| v),
            Some(value),
            "a decoded index value re-encodes to the same value"
        );
    }
    let _ = keys::pk_of_index_key(bytes);
    let _ = keys::decode_row_key(bytes);
}

/// Inputs the fuzz targets found, as regression tests: each must give a
/// result or an error, never a panic or a stack overflow.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    /// The answer to `text` from the fixture database: a result, or one of
    /// the errors bad input may get.
    fn answer(text: &str) {
        let db = fixture().expect("the fixture database opens");
        match db.execute(text) {
            Ok(_) => {}
            Err(e) => assert!(
                matches!(e.code(), ErrorCode::TooComplex | ErrorCode::SyntaxError),
                "{e}"
            ),
        }
    }

    /// `query_structured`, crash-abcc725f (already minimal under `cargo fuzz
    /// tmin`): `select * from t where a in (a and a and … a)` with 3,648
    /// operands overflowed the stack compiling the expression (the
    /// compiler of the engine since replaced recursed once per operator);
    /// binding and kernels must stay within the stack too.
    #[test]
    fn long_and_chain_in_an_in_list() {
        answer(&format!(
            "select * from t where a in ({})",
            vec!["a"; 3648].join(" and ")
        ));
    }
}

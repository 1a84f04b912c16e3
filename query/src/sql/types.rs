//! SQL type names onto the engine's column types (docs/sql.md, "Types").
//! Lengths and precisions (`varchar(20)`, `numeric(10, 2)`) are accepted
//! and not enforced: the column is plain text or a 64-bit float.

use sqlparser::ast::{DataType, ObjectNamePart};

use super::errors::unsupported;
use crate::ast::ColumnType;
use crate::error::Result;

/// The column type of a SQL type name.
pub(super) fn column_type(ty: &DataType) -> Result<ColumnType> {
    use DataType as D;
    Ok(match ty {
        D::Int(_)
        | D::Integer(_)
        | D::Int4(_)
        | D::Int8(_)
        | D::BigInt(_)
        | D::SmallInt(_)
        | D::Int2(_) => ColumnType::Int,
        D::Real
        | D::Float4
        | D::Float8
        | D::Float(_)
        | D::Double(_)
        | D::DoublePrecision
        | D::Numeric(_)
        | D::Decimal(_)
        | D::Dec(_) => ColumnType::Float,
        D::Text
        | D::Varchar(_)
        | D::Char(_)
        | D::Character(_)
        | D::CharacterVarying(_)
        | D::CharVarying(_) => ColumnType::String,
        D::Bool | D::Boolean => ColumnType::Bool,
        D::JSON | D::JSONB => ColumnType::Json,
        D::Date | D::Time(..) | D::Timestamp(..) | D::Datetime(_) | D::Interval { .. } => {
            return Err(unsupported(format!("the type {ty} (dates and times)")));
        }
        D::Custom(name, modifiers) if modifiers.is_empty() => match name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => match i.value.to_lowercase().as_str() {
                "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2" => {
                    ColumnType::Int
                }
                "timestamptz" | "timetz" => {
                    return Err(unsupported(format!("the type {ty} (dates and times)")));
                }
                _ => return Err(unsupported(format!("the type {ty}"))),
            },
            _ => return Err(unsupported(format!("the type {ty}"))),
        },
        other => return Err(unsupported(format!("the type {other}"))),
    })
}

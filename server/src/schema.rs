//! `GET /schema` and `GET /schema/{table}`: tables with their columns
//! (name and type, in declaration order, and `primary_key`, `not_null`,
//! `default` when set) and indexes (name and columns, `unique` when so),
//! read from the catalog.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fasty_query::Database;
use serde_json::{Value as Json, json};

use crate::AppState;
use crate::error::{ApiError, json_response};

/// `GET /schema`: every table, by name.
pub(crate) async fn all(State(state): State<AppState>) -> Response {
    let tables: Vec<Json> = state
        .db
        .tables()
        .iter()
        // A table dropped since the listing is left out.
        .filter_map(|t| table_json(&state.db, t).ok())
        .collect();
    ok(json!({"success": true, "data": tables}))
}

/// `GET /schema/{table}`: one table; 404 `unknown_table` if there is none
/// of that name.
pub(crate) async fn one(State(state): State<AppState>, Path(table): Path<String>) -> Response {
    match table_json(&state.db, &table) {
        Ok(t) => ok(json!({"success": true, "data": t})),
        Err(e) => {
            let mut e = ApiError::from(e);
            if e.code == "unknown_table" {
                e.status = StatusCode::NOT_FOUND;
            }
            e.into_response()
        }
    }
}

fn table_json(db: &Database, table: &str) -> fasty_query::Result<Json> {
    let (columns, _) = db.schema(table)?;
    let indexes = db.indexes(table)?;
    let unique = db.unique_indexes(table)?;
    Ok(json!({
        "name": table,
        "columns": columns
            .iter()
            .map(|c| {
                // Constraints appear only when set, and the key only when
                // it is not the default (`id`), so a table of the first
                // format is shown as before.
                let mut col = json!({"name": c.name, "type": c.ty.name()});
                if c.primary_key && c.name != "id" {
                    col["primary_key"] = json!(true);
                }
                if c.not_null {
                    col["not_null"] = json!(true);
                }
                if let Some(d) = &c.default {
                    col["default"] = d.to_json();
                }
                col
            })
            .collect::<Vec<_>>(),
        "indexes": indexes
            .iter()
            .map(|(name, column)| {
                let mut ix = json!({"name": name, "columns": [column]});
                if unique.contains(name) {
                    ix["unique"] = json!(true);
                }
                ix
            })
            .collect::<Vec<_>>(),
    }))
}

fn ok(body: Json) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

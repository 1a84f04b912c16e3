//! Paths into json values (`metadata.level`). A json column holds compact
//! text; each row's text is parsed at most once per run of a kernel tree,
//! and only for rows in play, however many paths read the column.

use crate::error::{Error, Result};
use crate::expr::json_path;
use crate::value::Value;
use crate::vector::Data;

use super::compile::Node;
use super::eval::{Col, Sel, State, build, eval};

/// `base.path` at the positions `sel`.
pub(super) fn path(base: &Node, path: &[String], st: &mut State<'_>, sel: Sel<'_>) -> Result<Col> {
    if let Node::Column(i) = base
        && let Some(col) = st.chunk.columns.get(*i)
        && let Data::Json(text) = col.data()
    {
        let len = st.len;
        let slot = match st.json.iter().position(|(c, _)| c == i) {
            Some(s) => s,
            None => {
                st.json.push((*i, vec![None; len]));
                st.json.len() - 1
            }
        };
        let docs = &mut st.json[slot].1;
        return build(len, sel, |p| {
            if col.is_null(p) {
                return Ok(Value::Null);
            }
            let doc = match &mut docs[p] {
                Some(d) => d,
                d @ None => d
                    .insert(Value::Json(serde_json::from_slice(text.bytes(p)).map_err(
                        |e| Error::corrupt(format!("corrupt json value: {e}")),
                    )?)),
            };
            Ok(json_path(doc, path))
        });
    }
    let b = eval(base, st, sel)?;
    build(st.len, sel, |p| Ok(json_path(&b.value(p)?, path)))
}

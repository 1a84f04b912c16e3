//! `explain` and `explain analyze` of a physical plan: one line per node,
//! each child indented two spaces under its parent. A node with a
//! filter inside it (a scan, a join) prints the filter as its line and
//! what it filters one level below. `explain analyze` appends to each
//! node's line the rows it produced, the chunks and the time spent in it
//! (its inputs included).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::plan::bound::BoundExpr;
use crate::plan::logical::{AggCall, SortKey};
use crate::plan::physical::{Lookup, Physical};
use crate::profile::Profile;

/// One printed line: its depth, its text and the plan node whose figures
/// it carries (`None` for a line that only describes part of a node).
struct Line {
    depth: usize,
    text: String,
    node: Option<usize>,
}

/// The plan as `explain` prints it.
pub(crate) fn explain(plan: &Physical) -> String {
    render(plan, 0, None)
}

/// [`explain`] with every line indented by `depth` levels (under a line of
/// the caller's).
pub(crate) fn explain_at(plan: &Physical, depth: usize) -> String {
    render(plan, depth, None)
}

/// The plan with each node's figures from `profile`, for `explain
/// analyze`; the lines are indented by `depth` levels.
pub(crate) fn explain_analyze(plan: &Physical, depth: usize, profile: &Profile) -> String {
    render(plan, depth, Some(profile))
}

fn render(plan: &Physical, depth: usize, profile: Option<&Profile>) -> String {
    let mut lines = Vec::new();
    node_lines(plan, 0, depth, &mut lines);
    let mut out = String::new();
    for l in lines {
        let _ = write!(out, "{}{}", "  ".repeat(l.depth), l.text);
        if let (Some(p), Some(id)) = (profile, l.node)
            && let Some(s) = p.node(id)
        {
            let nanos = s.nanos.load(Ordering::Relaxed);
            let _ = write!(
                out,
                "  (actual rows={}, chunks={}, time={}.{:03} ms)",
                s.rows.load(Ordering::Relaxed),
                s.chunks.load(Ordering::Relaxed),
                nanos / 1_000_000,
                nanos / 1_000 % 1_000
            );
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// Conjuncts as text.
fn and_text(terms: &[BoundExpr]) -> String {
    terms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Sort keys as text.
fn keys_text(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| format!("{}{}", k.expr, if k.desc { " desc" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An aggregate call as text: `count(*)`, `avg(score)`.
fn agg_text(a: &AggCall) -> String {
    match &a.arg {
        Some(arg) if a.distinct => format!("{}(distinct {arg})", a.func.name()),
        Some(arg) => format!("{}({arg})", a.func.name()),
        None => format!("{}(*)", a.func.name()),
    }
}

/// The name of the first table read in `plan`'s first-input chain.
fn table_of(plan: &Physical) -> String {
    match plan {
        Physical::Scan { table, .. }
        | Physical::LookupJoin { table, .. }
        | Physical::Insert { table, .. }
        | Physical::Update { table, .. }
        | Physical::Delete { table, .. } => table.name.clone(),
        other => other
            .children()
            .first()
            .map_or_else(String::new, |c| table_of(c)),
    }
}

/// Appends one line.
fn push(out: &mut Vec<Line>, depth: usize, text: String, node: Option<usize>) {
    out.push(Line { depth, text, node });
}

/// A node's own filter prints as the node's line, what it filters one
/// level below: the depth and node id of that next line.
fn filtered(
    out: &mut Vec<Line>,
    filter: &[BoundExpr],
    depth: usize,
    id: usize,
) -> (usize, Option<usize>) {
    if filter.is_empty() {
        (depth, Some(id))
    } else {
        push(
            out,
            depth,
            format!("filter: {}", and_text(filter)),
            Some(id),
        );
        (depth + 1, None)
    }
}

/// Appends the lines of the inputs of node `id` (`plan`) at `depth`.
fn children_at(plan: &Physical, id: usize, depth: usize, out: &mut Vec<Line>) {
    let mut child = id + 1;
    for c in plan.children() {
        node_lines(c, child, depth, out);
        child += c.size();
    }
}

/// Appends the lines of node `id` (`plan`) and its inputs at `depth`.
fn node_lines(plan: &Physical, id: usize, depth: usize, out: &mut Vec<Line>) {
    match plan {
        Physical::Scan {
            table,
            access,
            filter,
            parallel,
            ..
        } => {
            let (d, node) = filtered(out, filter, depth, id);
            push(out, d, access.describe(table, *parallel), node);
        }
        Physical::Filter { predicate, .. } => {
            push(
                out,
                depth,
                format!("filter: {}", and_text(predicate)),
                Some(id),
            );
            children_at(plan, id, depth + 1, out);
        }
        Physical::Project { exprs, .. } => {
            let names: Vec<&str> = exprs.iter().map(|(_, n)| n.as_str()).collect();
            push(
                out,
                depth,
                format!("project {}", names.join(", ")),
                Some(id),
            );
            children_at(plan, id, depth + 1, out);
        }
        Physical::HashJoin {
            build,
            probe_key,
            build_key,
            filter,
            emit_build,
            build_left,
            probe,
            left_outer,
        } => {
            let (d, node) = filtered(out, filter, depth, id);
            let join = if *left_outer { "left join" } else { "join" };
            let t = table_of(build);
            let keys = if *emit_build { "" } else { ", keys only" };
            // The join as written (the joined table, left key = right key),
            // then the side built.
            let line = if *build_left {
                let joined = table_of(probe);
                format!("hash {join} {joined} on {build_key} = {probe_key} (build on {t}{keys})")
            } else {
                format!("hash {join} {t} on {probe_key} = {build_key} (build on {t}{keys})")
            };
            push(out, d, line, node);
            children_at(plan, id, d + 1, out);
        }
        Physical::LookupJoin {
            input,
            table,
            via: Lookup::Pk,
            columns,
            filter,
            ..
        } if filter.is_empty() && table_of(input) == table.name => {
            // A table looked up in itself by primary key: the columns a
            // top-k left to read for the rows it kept.
            let cols: Vec<&str> = columns
                .iter()
                .map(|&c| table.columns[c].name.as_str())
                .collect();
            push(
                out,
                depth,
                format!(
                    "late materialisation: {} of {} by primary key",
                    cols.join(", "),
                    table.name
                ),
                Some(id),
            );
            children_at(plan, id, depth + 1, out);
        }
        Physical::LookupJoin {
            table,
            via,
            key,
            filter,
            ..
        } => {
            let (d, node) = filtered(out, filter, depth, id);
            let t = &table.name;
            let (col, how, per_row) = match via {
                Lookup::Pk => (
                    &table.columns[table.pk].name,
                    "primary-key lookup".to_string(),
                    format!("primary-key lookup on {t} per row"),
                ),
                Lookup::Index(ix) => (
                    &ix.column,
                    format!("index lookup using {}", ix.name),
                    format!("index lookup on {t} using {} per row", ix.name),
                ),
            };
            push(
                out,
                d,
                format!("nested-loop join {t} on {key} = {t}.{col} ({how})"),
                node,
            );
            children_at(plan, id, d + 1, out);
            push(out, d + 1, per_row, None);
        }
        Physical::HashAggregate { keys, aggs, .. } => {
            let mut text = String::from("hash aggregate: ");
            if !keys.is_empty() {
                let ks: Vec<String> = keys.iter().map(ToString::to_string).collect();
                let _ = write!(text, "group by {}", ks.join(", "));
            }
            // Keys alone (`group by` without aggregates, `select
            // distinct`) print no empty aggregate list.
            if !aggs.is_empty() || keys.is_empty() {
                if !keys.is_empty() {
                    text.push_str("; ");
                }
                let a: Vec<String> = aggs.iter().map(agg_text).collect();
                let _ = write!(text, "aggregates {}", a.join(", "));
            }
            push(out, depth, text, Some(id));
            children_at(plan, id, depth + 1, out);
        }
        Physical::ScanAggregate {
            table,
            access,
            filter,
            parallel,
            aggs,
            ..
        } => {
            // The scan it reads prints below it, as a part of this node.
            let a: Vec<String> = aggs.iter().map(agg_text).collect();
            push(
                out,
                depth,
                format!("scan aggregate: aggregates {}", a.join(", ")),
                Some(id),
            );
            let mut d = depth + 1;
            if !filter.is_empty() {
                push(out, d, format!("filter: {}", and_text(filter)), None);
                d += 1;
            }
            push(out, d, access.describe(table, *parallel), None);
        }
        Physical::TopK {
            keys,
            limit,
            offset,
            ..
        } => {
            let skip = if *offset > 0 {
                format!(" offset {offset}")
            } else {
                String::new()
            };
            push(
                out,
                depth,
                format!("top-k {limit}{skip} by {} (heap)", keys_text(keys)),
                Some(id),
            );
            children_at(plan, id, depth + 1, out);
        }
        Physical::Sort { keys, .. } => {
            push(out, depth, format!("sort by {}", keys_text(keys)), Some(id));
            children_at(plan, id, depth + 1, out);
        }
        Physical::Limit { limit, offset, .. } => {
            let mut l = String::from("limit");
            if let Some(n) = limit {
                let _ = write!(l, " {n}");
            }
            if *offset > 0 {
                let _ = write!(l, " offset {offset}");
            }
            push(out, depth, l, Some(id));
            children_at(plan, id, depth + 1, out);
        }
        Physical::Insert {
            table,
            rows,
            upsert,
        } => push(
            out,
            depth,
            format!(
                "{} {} row(s) into {} (one atomic batch, {} index(es))",
                if *upsert { "upsert" } else { "insert" },
                rows.len(),
                table.name,
                table.indexes.len()
            ),
            Some(id),
        ),
        Physical::Update { table, .. } | Physical::Delete { table, .. } => {
            let verb = if matches!(plan, Physical::Update { .. }) {
                "update"
            } else {
                "delete"
            };
            push(
                out,
                depth,
                format!(
                    "{verb} {} (one atomic batch, indexes maintained)",
                    table.name
                ),
                Some(id),
            );
            children_at(plan, id, depth + 1, out);
        }
    }
}

//! fasty syntax trees as SQLite text. fasty runs a statement's printed
//! form (so its parser is exercised too); SQLite runs this translation.

use fasty_query::ast::{BinaryOp, ColumnType, Expr, JoinKind, Select, UnaryOp};

use super::schema::sql_literal;

/// SQLite text for a fasty expression, fully parenthesised.
pub fn sql_expr(e: &Expr) -> String {
    match e {
        Expr::Literal(l) => sql_literal(l),
        Expr::Name(p) => p.join("."),
        Expr::Unary {
            op: UnaryOp::Not,
            expr,
        } => format!("(NOT {})", sql_expr(expr)),
        // The space keeps `- -5` from reading as a `--` comment.
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => format!("(- {})", sql_expr(expr)),
        Expr::Binary { op, left, right } => {
            let op = match op {
                BinaryOp::Or => "OR",
                BinaryOp::And => "AND",
                BinaryOp::NotEq => "<>",
                o => o.symbol(),
            };
            format!("({} {op} {})", sql_expr(left), sql_expr(right))
        }
        Expr::Like {
            expr,
            pattern,
            negated,
        } => format!(
            "({} {}LIKE {})",
            sql_expr(expr),
            if *negated { "NOT " } else { "" },
            sql_expr(pattern)
        ),
        Expr::IsNull { expr, negated } => format!(
            "({} IS {}NULL)",
            sql_expr(expr),
            if *negated { "NOT " } else { "" }
        ),
        Expr::InList {
            expr,
            list,
            negated,
        } => format!(
            "({} {}IN ({}))",
            sql_expr(expr),
            if *negated { "NOT " } else { "" },
            list.iter().map(sql_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "({} {}BETWEEN {} AND {})",
            sql_expr(expr),
            if *negated { "NOT " } else { "" },
            sql_expr(low),
            sql_expr(high)
        ),
        Expr::Aggregate {
            func,
            arg,
            distinct,
        } => match arg {
            None => "count(*)".into(),
            Some(a) if *distinct => format!("{}(DISTINCT {})", func.name(), sql_expr(a)),
            Some(a) => format!("{}({})", func.name(), sql_expr(a)),
        },
        Expr::Function { name, args } => {
            let f = match name.as_str() {
                "strpos" => "instr",
                "substring" => "substr",
                n => n,
            };
            let args: Vec<String> = args.iter().map(sql_expr).collect();
            format!("{f}({})", args.join(", "))
        }
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            let mut q = "(CASE".to_string();
            if let Some(o) = operand {
                q += &format!(" {}", sql_expr(o));
            }
            for (c, r) in whens {
                q += &format!(" WHEN {} THEN {}", sql_expr(c), sql_expr(r));
            }
            if let Some(e) = else_result {
                q += &format!(" ELSE {}", sql_expr(e));
            }
            q + " END)"
        }
        Expr::Cast { expr, ty } => {
            let t = match ty {
                ColumnType::Int => "INTEGER",
                ColumnType::Float => "REAL",
                _ => "TEXT",
            };
            format!("CAST({} AS {t})", sql_expr(expr))
        }
    }
}

/// SQLite text for a fasty `select`.
pub fn sql_select(s: &Select) -> String {
    let items = if s.items.is_empty() {
        "*".to_string()
    } else {
        s.items
            .iter()
            .map(|i| match &i.alias {
                Some(a) => format!("{} AS {a}", sql_expr(&i.expr)),
                None => sql_expr(&i.expr),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let distinct = if s.distinct { "DISTINCT " } else { "" };
    let mut q = format!("SELECT {distinct}{items} FROM {}", s.from);
    if let Some(a) = &s.from_alias {
        q += &format!(" AS {a}");
    }
    for j in &s.joins {
        let kind = match j.kind {
            JoinKind::Inner => "",
            JoinKind::Left => " LEFT",
        };
        q += &format!("{kind} JOIN {}", j.table);
        if let Some(a) = &j.alias {
            q += &format!(" AS {a}");
        }
        q += &format!(" ON {}", sql_expr(&j.on));
    }
    if let Some(w) = &s.filter {
        q += &format!(" WHERE {}", sql_expr(w));
    }
    if !s.group_by.is_empty() {
        q += &format!(
            " GROUP BY {}",
            s.group_by
                .iter()
                .map(sql_expr)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(h) = &s.having {
        q += &format!(" HAVING {}", sql_expr(h));
    }
    if !s.order_by.is_empty() {
        q += &format!(
            " ORDER BY {}",
            s.order_by
                .iter()
                .map(|o| format!("{}{}", sql_expr(&o.expr), if o.desc { " DESC" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match (s.limit, s.offset) {
        (Some(l), Some(o)) => q += &format!(" LIMIT {l} OFFSET {o}"),
        (Some(l), None) => q += &format!(" LIMIT {l}"),
        (None, Some(o)) => q += &format!(" LIMIT -1 OFFSET {o}"),
        (None, None) => {}
    }
    q
}

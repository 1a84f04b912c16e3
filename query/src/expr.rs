//! Expressions compiled once into closures over column positions (the
//! seed's "pre-compiled WHERE"): names are resolved to an index into the
//! row the executor passes in, so evaluating a filter on a row does no
//! name lookup, and a column reference borrows its value instead of
//! copying it.
//!
//! Semantics (docs/language.md): three-valued logic — a comparison with `null` is
//! `null`, `and`/`or`/`not` follow SQL's truth tables, a filter keeps a row
//! only when it is `true`. Arithmetic on two ints stays int (checked:
//! overflow is `numeric_overflow`; `/` truncates), with a float it is
//! float; division by zero is `null` (as SQLite). `like` is case-sensitive.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::ast::{AggFunc, BinaryOp, ColumnType, Expr, Literal, UnaryOp};
use crate::error::{Error, ErrorCode, Result};
use crate::parser::MAX_LIKE_PATTERN_LEN;
use crate::row::ValueRef;
use crate::value::Value;

/// The closure of a compiled expression: evaluates against one row.
pub(crate) type EvalFn = dyn for<'r> Fn(&'r [Value]) -> Result<Cow<'r, Value>> + Send + Sync;

/// A compiled expression: called like a closure (`f(row)`), and, when it
/// is a comparison of a plain column with a constant, carrying that shape
/// so the executor can test it on a stored row's bytes before decoding.
pub(crate) struct Eval {
    f: Box<EvalFn>,
    cmp: Option<ColumnCmp>,
    /// The row position this expression just reads, if it is a plain
    /// column (no json path).
    column: Option<usize>,
}

impl std::ops::Deref for Eval {
    type Target = EvalFn;

    fn deref(&self) -> &EvalFn {
        &*self.f
    }
}

impl Eval {
    fn new(f: Box<EvalFn>) -> Eval {
        Eval {
            f,
            cmp: None,
            column: None,
        }
    }

    /// The row position this expression reads as is, if it is a plain
    /// column.
    pub(crate) fn column(&self) -> Option<usize> {
        self.column
    }

    /// The `column op constant` this expression is, if it is one.
    pub(crate) fn column_cmp(&self) -> Option<&ColumnCmp> {
        self.cmp.as_ref()
    }
}

/// `row[index] op constant`, with `op` a comparison and the constant a
/// non-null, non-json value (a constant on the left is moved right with
/// the operator mirrored).
#[derive(Debug, Clone)]
pub(crate) struct ColumnCmp {
    /// Index into the row.
    pub index: usize,
    op: BinaryOp,
    constant: Value,
}

impl ColumnCmp {
    /// The comparison's truth value for a column value as stored:
    /// `None` is SQL null (the column is null, or not comparable with the
    /// constant), exactly as evaluating the compiled expression on the
    /// decoded value gives.
    #[inline]
    pub(crate) fn test(&self, v: ValueRef<'_>) -> Option<bool> {
        let o = match (v, &self.constant) {
            (ValueRef::Int(a), Value::Int(b)) => a.cmp(b),
            (ValueRef::Float(a), Value::Float(b)) => a.partial_cmp(b)?,
            // Mixed numbers: the exact rules of `Value::sql_cmp`.
            (ValueRef::Int(a), c @ Value::Float(_)) => Value::Int(a).sql_cmp(c)?,
            (ValueRef::Float(a), c @ Value::Int(_)) => Value::Float(a).sql_cmp(c)?,
            (ValueRef::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (ValueRef::Bool(a), Value::Bool(b)) => a.cmp(b),
            _ => return None,
        };
        cmp_holds(self.op, o)
    }

    /// The same on a decoded value.
    #[inline]
    fn eval(&self, v: &Value) -> Value {
        compare(self.op, v, &self.constant)
    }
}

/// Whether `o` satisfies comparison `op`; `None` for other operators.
#[inline]
fn cmp_holds(op: BinaryOp, o: Ordering) -> Option<bool> {
    Some(match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::NotEq => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::LtEq => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        BinaryOp::GtEq => o != Ordering::Less,
        _ => return None,
    })
}

/// `a op b` is `b mirror(op) a`.
fn mirror(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::NotEq => BinaryOp::NotEq,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        _ => return None,
    })
}

/// The `column op constant` shape of `e`, if it has it.
fn column_cmp(e: &Expr, b: &dyn Binder) -> Option<ColumnCmp> {
    let Expr::Binary { op, left, right } = e else {
        return None;
    };
    mirror(*op)?;
    let (op, name, c) = match (&**left, &**right) {
        (Expr::Name(_), r) => (*op, left, r),
        (l, Expr::Name(_)) => (mirror(*op)?, right, l),
        _ => return None,
    };
    let Expr::Name(parts) = &**name else {
        return None;
    };
    if b.precomputed(name).is_some() || b.precomputed(c).is_some() {
        return None;
    }
    let constant = constant(c)?;
    if matches!(constant, Value::Null | Value::Json(_)) {
        return None;
    }
    let r = b.column(parts).ok()?;
    if !r.path.is_empty() {
        return None;
    }
    Some(ColumnCmp {
        index: r.index,
        op,
        constant,
    })
}

/// A name resolved to a row position.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Index into the row.
    pub index: usize,
    /// The column's declared type.
    pub ty: ColumnType,
    /// Path into a `json` column (`metadata.level` → `["level"]`).
    pub path: Vec<String>,
}

/// What compilation asks of its context.
pub(crate) trait Binder {
    /// Resolves a (possibly dotted) name.
    fn column(&self, parts: &[String]) -> Result<Resolved>;
    /// A row position already holding the value of `e` (a group-by key or
    /// an aggregate's result, after aggregation).
    fn precomputed(&self, _e: &Expr) -> Option<usize> {
        None
    }
}

/// The value of a literal.
pub(crate) fn literal_value(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(x) => Value::Float(*x),
        Literal::String(s) => Value::String(s.clone()),
        Literal::Array(_) | Literal::Object(_) => Value::Json(literal_json(l)),
        // Bound before a statement runs (`Database::execute_prepared`).
        Literal::Param(_) => Value::Null,
    }
}

/// A literal as JSON (for `json` columns).
pub(crate) fn literal_json(l: &Literal) -> serde_json::Value {
    match l {
        Literal::Null | Literal::Param(_) => serde_json::Value::Null,
        Literal::Bool(b) => serde_json::Value::Bool(*b),
        Literal::Int(i) => serde_json::Value::from(*i),
        Literal::Float(x) => serde_json::Number::from_f64(*x)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Literal::String(s) => serde_json::Value::String(s.clone()),
        Literal::Array(items) => serde_json::Value::Array(items.iter().map(literal_json).collect()),
        Literal::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal_json(v)))
                .collect(),
        ),
    }
}

/// The constant value of `e` if it has no column in it (a literal, or a
/// negated number).
pub(crate) fn constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::Literal(l) => Some(literal_value(l)),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match constant(expr)? {
            Value::Int(i) => i.checked_neg().map(Value::Int),
            Value::Float(x) => Some(Value::Float(-x)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `e` contains an aggregate.
pub(crate) fn has_aggregate(e: &Expr) -> bool {
    let mut found = false;
    visit(e, &mut |x| found |= matches!(x, Expr::Aggregate { .. }));
    found
}

/// Calls `f` on `e` and every sub-expression.
pub(crate) fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Literal(_) | Expr::Name(_) => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => visit(expr, f),
        Expr::Binary { left, right, .. } => {
            visit(left, f);
            visit(right, f);
        }
        Expr::Like { expr, pattern, .. } => {
            visit(expr, f);
            visit(pattern, f);
        }
        Expr::InList { expr, list, .. } => {
            visit(expr, f);
            list.iter().for_each(|x| visit(x, f));
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            visit(expr, f);
            visit(low, f);
            visit(high, f);
        }
        Expr::Aggregate { arg, .. } => {
            if let Some(a) = arg {
                visit(a, f);
            }
        }
    }
}

/// Splits `e` into its top-level `and` terms.
pub(crate) fn conjuncts(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        e => out.push(e.clone()),
    }
}

/// The type `e` evaluates to, where it is known before running.
pub(crate) fn type_of(e: &Expr, b: &dyn Binder) -> Option<ColumnType> {
    match e {
        Expr::Literal(l) => literal_value(l).column_type(),
        Expr::Name(parts) => match b.column(parts) {
            Ok(r) if r.path.is_empty() => Some(r.ty),
            _ => None,
        },
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => type_of(expr, b),
        Expr::Binary { op, left, right } => match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                match (type_of(left, b)?, type_of(right, b)?) {
                    (ColumnType::Int, ColumnType::Int) => Some(ColumnType::Int),
                    _ => Some(ColumnType::Float),
                }
            }
            _ => Some(ColumnType::Bool),
        },
        Expr::Unary { .. }
        | Expr::Like { .. }
        | Expr::IsNull { .. }
        | Expr::InList { .. }
        | Expr::Between { .. } => Some(ColumnType::Bool),
        Expr::Aggregate { func, arg } => match func {
            AggFunc::Count => Some(ColumnType::Int),
            AggFunc::Avg => Some(ColumnType::Float),
            _ => type_of(arg.as_deref()?, b),
        },
    }
}

/// Compiles `e` against `b`.
pub(crate) fn compile(e: &Expr, b: &dyn Binder) -> Result<Eval> {
    // Compilation recurses once per level of the tree (bounded by the
    // parser's `MAX_DEPTH`), so the frames on that path are kept small:
    // every case that builds a closure has a function of its own, and an
    // unoptimised build does not pay for all their locals at every level.
    if let Some(f) = compile_shaped(e, b)? {
        return Ok(f);
    }
    compile_fn(e, b).map(Eval::new)
}

/// A precomputed value, a constant, a column-with-constant comparison or
/// a plain column, if `e` is one.
#[inline(never)]
fn compile_shaped(e: &Expr, b: &dyn Binder) -> Result<Option<Eval>> {
    if let Some(i) = b.precomputed(e) {
        return Ok(Some(Eval::new(Box::new(move |row| {
            Ok(Cow::Borrowed(&row[i]))
        }))));
    }
    if let Some(v) = constant(e) {
        return Ok(Some(Eval::new(Box::new(move |_| {
            Ok(Cow::Owned(v.clone()))
        }))));
    }
    if let Some(cmp) = column_cmp(e, b) {
        let c = cmp.clone();
        return Ok(Some(Eval {
            f: Box::new(move |row| Ok(Cow::Owned(c.eval(&row[c.index])))),
            cmp: Some(cmp),
            column: None,
        }));
    }
    if let Expr::Name(parts) = e {
        let r = b.column(parts)?;
        if r.path.is_empty() {
            let i = r.index;
            return Ok(Some(Eval {
                f: Box::new(move |row| Ok(Cow::Borrowed(&row[i]))),
                cmp: None,
                column: Some(i),
            }));
        }
    }
    Ok(None)
}

/// The closure of `e` (not precomputed, not constant).
fn compile_fn(e: &Expr, b: &dyn Binder) -> Result<Box<EvalFn>> {
    match e {
        Expr::Literal(_) => unreachable_constant(),
        Expr::Name(parts) => compile_path(parts, b),
        Expr::Unary { op, expr } => compile_unary(*op, expr, b),
        Expr::Binary { op, left, right } => compile_binary(*op, left, right, b),
        Expr::Like {
            expr,
            pattern,
            negated,
        } => compile_like(expr, pattern, *negated, b),
        Expr::IsNull { expr, negated } => compile_is_null(expr, *negated, b),
        Expr::InList {
            expr,
            list,
            negated,
        } => compile_in_list(expr, list, *negated, b),
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => compile_between(expr, low, high, *negated, b),
        Expr::Aggregate { .. } => Err(Error::query(
            ErrorCode::Unsupported,
            format!("aggregate {e} is not allowed here"),
        )),
    }
}

#[inline(never)]
fn compile_path(parts: &[String], b: &dyn Binder) -> Result<Box<EvalFn>> {
    let r = b.column(parts)?;
    let i = r.index;
    if r.path.is_empty() {
        return Ok(Box::new(move |row| Ok(Cow::Borrowed(&row[i]))));
    }
    if r.ty != ColumnType::Json {
        return Err(Error::query(
            ErrorCode::TypeMismatch,
            format!(
                "\"{}\" is a {} column, a path into it needs a json column",
                parts[..parts.len() - r.path.len()].join("."),
                r.ty.name()
            ),
        ));
    }
    let path = r.path;
    Ok(Box::new(move |row| {
        Ok(Cow::Owned(json_path(&row[i], &path)))
    }))
}

#[inline(never)]
fn compile_unary(op: UnaryOp, expr: &Expr, b: &dyn Binder) -> Result<Box<EvalFn>> {
    let inner = compile(expr, b)?;
    Ok(match op {
        UnaryOp::Not => Box::new(move |row| Ok(Cow::Owned(not(&*inner(row)?)))),
        UnaryOp::Neg => Box::new(move |row| Ok(Cow::Owned(neg(&*inner(row)?)?))),
    })
}

#[inline(never)]
fn compile_like(expr: &Expr, pattern: &Expr, negated: bool, b: &dyn Binder) -> Result<Box<EvalFn>> {
    let inner = compile(expr, b)?;
    if let Some(Value::String(p)) = constant(pattern) {
        check_pattern(&p)?;
        let pat: Vec<char> = p.chars().collect();
        return Ok(Box::new(move |row| {
            Ok(Cow::Owned(match &*inner(row)? {
                Value::String(s) => Value::Bool(like(s, &pat) != negated),
                _ => Value::Null,
            }))
        }));
    }
    let pattern = compile(pattern, b)?;
    Ok(Box::new(move |row| {
        Ok(Cow::Owned(match (&*inner(row)?, &*pattern(row)?) {
            (Value::String(s), Value::String(p)) => {
                check_pattern(p)?;
                let pat: Vec<char> = p.chars().collect();
                Value::Bool(like(s, &pat) != negated)
            }
            _ => Value::Null,
        }))
    }))
}

/// A `like` pattern within [`MAX_LIKE_PATTERN_LEN`], whether written in
/// the statement, bound to a placeholder or read from a column.
pub(crate) fn check_pattern(p: &str) -> Result<()> {
    if p.len() > MAX_LIKE_PATTERN_LEN {
        return Err(Error::query(
            ErrorCode::TooComplex,
            format!(
                "like pattern too long ({} bytes, at most {MAX_LIKE_PATTERN_LEN})",
                p.len()
            ),
        ));
    }
    Ok(())
}

#[inline(never)]
fn compile_is_null(expr: &Expr, negated: bool, b: &dyn Binder) -> Result<Box<EvalFn>> {
    let inner = compile(expr, b)?;
    Ok(Box::new(move |row| {
        Ok(Cow::Owned(Value::Bool(inner(row)?.is_null() != negated)))
    }))
}

#[inline(never)]
fn compile_in_list(
    expr: &Expr,
    list: &[Expr],
    negated: bool,
    b: &dyn Binder,
) -> Result<Box<EvalFn>> {
    let inner = compile(expr, b)?;
    let items = list
        .iter()
        .map(|x| compile(x, b))
        .collect::<Result<Vec<_>>>()?;
    Ok(Box::new(move |row| {
        let v = inner(row)?;
        if v.is_null() {
            return Ok(Cow::Owned(Value::Null));
        }
        let mut saw_null = false;
        for item in &items {
            let x = item(row)?;
            match v.sql_cmp(&x) {
                Some(Ordering::Equal) => return Ok(Cow::Owned(Value::Bool(!negated))),
                None if x.is_null() => saw_null = true,
                _ => {}
            }
        }
        Ok(Cow::Owned(if saw_null {
            Value::Null
        } else {
            Value::Bool(negated)
        }))
    }))
}

#[inline(never)]
fn compile_between(
    expr: &Expr,
    low: &Expr,
    high: &Expr,
    negated: bool,
    b: &dyn Binder,
) -> Result<Box<EvalFn>> {
    let (inner, low, high) = (compile(expr, b)?, compile(low, b)?, compile(high, b)?);
    Ok(Box::new(move |row| {
        let v = inner(row)?;
        let ge = compare(BinaryOp::GtEq, &v, &*low(row)?);
        let le = compare(BinaryOp::LtEq, &v, &*high(row)?);
        let both = and(&ge, &le);
        Ok(Cow::Owned(if negated { not(&both) } else { both }))
    }))
}

fn unreachable_constant() -> Result<Box<EvalFn>> {
    Err(Error::query(
        ErrorCode::Unsupported,
        "internal: a literal that is not a constant",
    ))
}

#[inline(never)]
fn compile_binary(op: BinaryOp, left: &Expr, right: &Expr, b: &dyn Binder) -> Result<Box<EvalFn>> {
    let l = compile(left, b)?;
    binary_rest(op, l, right, b)
}

/// The rest of [`compile_binary`], in a frame of its own: a left-deep
/// chain recurses through `compile_binary` alone.
#[inline(never)]
fn binary_rest(op: BinaryOp, l: Eval, right: &Expr, b: &dyn Binder) -> Result<Box<EvalFn>> {
    // A constant right-hand side (the common `col > 5`) is captured once
    // and compared by reference.
    if b.precomputed(right).is_none()
        && let Some(c) = constant(right)
    {
        return Ok(binary_with_constant(op, l, c));
    }
    let r = compile(right, b)?;
    Ok(binary_of(op, l, r))
}

#[inline(never)]
fn binary_with_constant(op: BinaryOp, l: Eval, c: Value) -> Box<EvalFn> {
    match op {
        BinaryOp::And => Box::new(move |row| Ok(Cow::Owned(and(&*l(row)?, &c)))),
        BinaryOp::Or => Box::new(move |row| Ok(Cow::Owned(or(&*l(row)?, &c)))),
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
            Box::new(move |row| Ok(Cow::Owned(arith(op, &*l(row)?, &c)?)))
        }
        _ => Box::new(move |row| Ok(Cow::Owned(compare(op, &*l(row)?, &c)))),
    }
}

#[inline(never)]
fn binary_of(op: BinaryOp, l: Eval, r: Eval) -> Box<EvalFn> {
    match op {
        BinaryOp::And => Box::new(move |row| {
            let a = l(row)?;
            if matches!(*a, Value::Bool(false)) {
                return Ok(Cow::Owned(Value::Bool(false)));
            }
            Ok(Cow::Owned(and(&a, &*r(row)?)))
        }),
        BinaryOp::Or => Box::new(move |row| {
            let a = l(row)?;
            if matches!(*a, Value::Bool(true)) {
                return Ok(Cow::Owned(Value::Bool(true)));
            }
            Ok(Cow::Owned(or(&a, &*r(row)?)))
        }),
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
            Box::new(move |row| Ok(Cow::Owned(arith(op, &*l(row)?, &*r(row)?)?)))
        }
        _ => Box::new(move |row| Ok(Cow::Owned(compare(op, &*l(row)?, &*r(row)?)))),
    }
}

/// Truth value of a filter result: only `true` keeps a row.
pub(crate) fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// SQL `not`.
pub(crate) fn not(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(!b),
        _ => Value::Null,
    }
}

/// SQL `and` (false wins over null).
pub(crate) fn and(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// SQL `or` (true wins over null).
pub(crate) fn or(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// A comparison: `null` when either side is null or they do not compare.
pub(crate) fn compare(op: BinaryOp, a: &Value, b: &Value) -> Value {
    let Some(o) = a.sql_cmp(b) else {
        return Value::Null;
    };
    Value::Bool(match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::NotEq => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::LtEq => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        BinaryOp::GtEq => o != Ordering::Less,
        _ => return Value::Null,
    })
}

pub(crate) fn neg(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Int(i) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
        Value::Float(x) => Value::Float(-x),
        Value::Null => Value::Null,
        other => return Err(not_a_number("-", other)),
    })
}

fn overflow() -> Error {
    Error::query(ErrorCode::NumericOverflow, "integer overflow in arithmetic")
}

fn not_a_number(op: &str, v: &Value) -> Error {
    Error::query(
        ErrorCode::TypeMismatch,
        format!("operator {op} needs numbers, got {}", v.type_name()),
    )
}

/// `+ - * /` with SQL's null propagation.
pub(crate) fn arith(op: BinaryOp, a: &Value, b: &Value) -> Result<Value> {
    let sym = op.symbol();
    Ok(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::Int(x), Value::Int(y)) => {
            let (x, y) = (*x, *y);
            match op {
                BinaryOp::Add => Value::Int(x.checked_add(y).ok_or_else(overflow)?),
                BinaryOp::Sub => Value::Int(x.checked_sub(y).ok_or_else(overflow)?),
                BinaryOp::Mul => Value::Int(x.checked_mul(y).ok_or_else(overflow)?),
                BinaryOp::Div if y == 0 => Value::Null,
                BinaryOp::Div => Value::Int(x.checked_div(y).ok_or_else(overflow)?),
                _ => Value::Null,
            }
        }
        (x, y) => {
            let fx = as_f64(x).ok_or_else(|| not_a_number(sym, x))?;
            let fy = as_f64(y).ok_or_else(|| not_a_number(sym, y))?;
            let r = match op {
                BinaryOp::Add => fx + fy,
                BinaryOp::Sub => fx - fy,
                BinaryOp::Mul => fx * fy,
                BinaryOp::Div if fy == 0.0 => return Ok(Value::Null),
                BinaryOp::Div => fx / fy,
                _ => return Ok(Value::Null),
            };
            if r.is_nan() {
                Value::Null
            } else {
                Value::Float(r)
            }
        }
    })
}

/// A number as f64.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// The value at `path` inside a json value; `null` where the path does not
/// lead anywhere.
pub(crate) fn json_path(v: &Value, path: &[String]) -> Value {
    let Value::Json(j) = v else {
        return Value::Null;
    };
    let mut cur = j;
    for p in path {
        cur = match cur {
            serde_json::Value::Object(m) => match m.get(p) {
                Some(x) => x,
                None => return Value::Null,
            },
            serde_json::Value::Array(a) => match p.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(x) => x,
                None => return Value::Null,
            },
            _ => return Value::Null,
        };
    }
    Value::from_json(cur.clone())
}

/// `like`: `%` matches any run of characters, `_` exactly one;
/// case-sensitive. Iterative with one backtrack point, so patterns with
/// many `%` stay linear-ish instead of exponential.
pub(crate) fn like(s: &str, pat: &[char]) -> bool {
    let s: Vec<char> = s.chars().collect();
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < pat.len() && (pat[pi] == '_' || (pat[pi] != '%' && pat[pi] == s[si])) {
            si += 1;
            pi += 1;
        } else if pi < pat.len() && pat[pi] == '%' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    pat[pi..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &str, s: &str) -> bool {
        like(s, &p.chars().collect::<Vec<_>>())
    }

    #[test]
    fn like_matches_runs_and_single_characters() {
        assert!(l("ali%", "alice"));
        assert!(l("%ce", "alice"));
        assert!(l("a_i%e", "alice"));
        assert!(l("%", ""));
        assert!(!l("_", ""));
        assert!(!l("ALI%", "alice"), "like is case-sensitive");
        assert!(l("%a%b%c%", "xxaxxbxxcxx"));
        assert!(!l("%a%b%c%d", "xxaxxbxxcxx"));
        assert!(l("é_", "éa"));
    }

    /// `like` by plain recursion over the pattern: obviously right, and
    /// exponential, so only for short inputs.
    fn like_oracle(s: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| like_oracle(&s[i..], rest)),
            Some(('_', rest)) => !s.is_empty() && like_oracle(&s[1..], rest),
            Some((c, rest)) => s.first() == Some(c) && like_oracle(&s[1..], rest),
        }
    }

    proptest::proptest! {
        #[test]
        fn like_agrees_with_a_recursive_oracle(s in "[abé%_]{0,12}", p in "[abé%_]{0,9}") {
            let sc: Vec<char> = s.chars().collect();
            let pc: Vec<char> = p.chars().collect();
            proptest::prop_assert_eq!(like(&s, &pc), like_oracle(&sc, &pc), "{:?} like {:?}", s, p);
        }
    }

    /// Binds every name to row position 0 of type `ty`.
    struct OneColumn(ColumnType);

    impl Binder for OneColumn {
        fn column(&self, _parts: &[String]) -> Result<Resolved> {
            Ok(Resolved {
                index: 0,
                ty: self.0,
                path: Vec::new(),
            })
        }
    }

    /// Column values of every kind, including the edges of int-vs-float
    /// comparison (2^53 + 1 is no float; -0.0 equals 0).
    fn column_values() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Int(3),
            Value::Int(-3),
            Value::Int(0),
            Value::Int((1 << 53) + 1),
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
            Value::Float(3.0),
            Value::Float(2.5),
            Value::Float(-0.0),
            Value::Float(9.3e18),
            Value::Float((1u64 << 53) as f64),
            Value::Bool(true),
            Value::Bool(false),
            Value::String("abc".into()),
            Value::String(String::new()),
            Value::Json(serde_json::json!({"a": 3})),
        ]
    }

    fn constants() -> Vec<Expr> {
        let lit = |l| Expr::Literal(l);
        vec![
            lit(Literal::Int(3)),
            lit(Literal::Int(0)),
            lit(Literal::Int((1 << 53) + 1)),
            lit(Literal::Int(i64::MAX)),
            Expr::Unary {
                op: UnaryOp::Neg,
                expr: Box::new(lit(Literal::Int(3))),
            },
            lit(Literal::Float(3.0)),
            lit(Literal::Float(2.5)),
            lit(Literal::Float(0.0)),
            lit(Literal::Float(9.3e18)),
            lit(Literal::Float((1u64 << 53) as f64)),
            lit(Literal::Bool(true)),
            lit(Literal::String("abc".into())),
            lit(Literal::String("ab".into())),
        ]
    }

    #[test]
    fn column_with_constant_comparisons_agree_with_generic_compare_and_raw_bytes() {
        let ops = [
            BinaryOp::Eq,
            BinaryOp::NotEq,
            BinaryOp::Lt,
            BinaryOp::LtEq,
            BinaryOp::Gt,
            BinaryOp::GtEq,
        ];
        let name = Expr::Name(vec!["a".into()]);
        let b = OneColumn(ColumnType::Int);
        for v in column_values() {
            let mut stored = Vec::new();
            crate::row::encode_row(std::slice::from_ref(&v), &mut stored);
            let row = [v.clone()];
            for c in constants() {
                let cv = constant(&c).expect("a constant");
                for op in ops {
                    for constant_left in [false, true] {
                        let (left, right) = if constant_left {
                            (c.clone(), name.clone())
                        } else {
                            (name.clone(), c.clone())
                        };
                        let e = Expr::Binary {
                            op,
                            left: Box::new(left),
                            right: Box::new(right),
                        };
                        let want = if constant_left {
                            compare(op, &cv, &v)
                        } else {
                            compare(op, &v, &cv)
                        };
                        let f = compile(&e, &b).expect("compiles");
                        assert_eq!(*f(&row).expect("evaluates"), want, "{e} on {v:?}");
                        let cmp = f.column_cmp().expect("a column-constant comparison");
                        let mut reader = crate::row::RowReader::new(&stored).expect("a valid row");
                        let raw = cmp.test(reader.get(0).expect("a valid column"));
                        let want = match want {
                            Value::Bool(x) => Some(x),
                            _ => None,
                        };
                        assert_eq!(raw, want, "{e} on stored {v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn only_plain_column_with_constant_comparisons_have_the_shape() {
        let b = OneColumn(ColumnType::Int);
        let name = || Box::new(Expr::Name(vec!["a".into()]));
        let lit = |l| Box::new(Expr::Literal(l));
        let shaped = |e: Expr| compile(&e, &b).expect("compiles").column_cmp().is_some();
        assert!(shaped(Expr::Binary {
            op: BinaryOp::Gt,
            left: name(),
            right: lit(Literal::Int(50)),
        }));
        // Null and json constants, arithmetic and column-column: no shape.
        assert!(!shaped(Expr::Binary {
            op: BinaryOp::Gt,
            left: name(),
            right: lit(Literal::Null),
        }));
        assert!(!shaped(Expr::Binary {
            op: BinaryOp::Eq,
            left: name(),
            right: lit(Literal::Array(vec![Literal::Int(1)])),
        }));
        assert!(!shaped(Expr::Binary {
            op: BinaryOp::Add,
            left: name(),
            right: lit(Literal::Int(1)),
        }));
        assert!(!shaped(Expr::Binary {
            op: BinaryOp::Lt,
            left: name(),
            right: name(),
        }));
        // A short row reads the missing column as null: the test is null.
        let e = Expr::Binary {
            op: BinaryOp::NotEq,
            left: name(),
            right: lit(Literal::Int(1)),
        };
        let f = compile(&e, &b).expect("compiles");
        let mut stored = Vec::new();
        crate::row::encode_row(&[], &mut stored);
        let mut reader = crate::row::RowReader::new(&stored).expect("a valid row");
        let cmp = f.column_cmp().expect("shaped");
        assert_eq!(cmp.test(reader.get(0).expect("null")), None);
    }

    #[test]
    fn three_valued_logic() {
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        let n = Value::Null;
        assert_eq!(and(&n, &f), f);
        assert_eq!(and(&n, &t), n);
        assert_eq!(or(&n, &t), t);
        assert_eq!(or(&n, &f), n);
        assert_eq!(not(&n), n);
        assert_eq!(compare(BinaryOp::Eq, &n, &n), n);
    }

    #[test]
    fn arithmetic_follows_sqlite() {
        assert_eq!(
            arith(BinaryOp::Div, &Value::Int(7), &Value::Int(2)).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            arith(BinaryOp::Div, &Value::Int(7), &Value::Int(0)).unwrap(),
            Value::Null
        );
        assert_eq!(
            arith(BinaryOp::Add, &Value::Int(1), &Value::Float(0.5)).unwrap(),
            Value::Float(1.5)
        );
        assert_eq!(
            arith(BinaryOp::Add, &Value::Int(i64::MAX), &Value::Int(1))
                .unwrap_err()
                .code(),
            ErrorCode::NumericOverflow
        );
    }
}

//! `hash aggregate`: one output row per distinct group key (exactly one
//! row when there are no keys), the keys then the aggregates.
//!
//! Each input chunk has its keys evaluated as vectors and hashed a vector
//! at a time into group ids; the aggregates' states live per group in flat
//! arrays (one array per aggregate) updated an aggregate at a time over
//! the whole chunk, with typed loops for int and float arguments.
//!
//! Semantics are row-at-a-time ones: a group is a distinct order-preserving
//! key encoding ([`keys::encode_ordered`]: `1` and `1.0` are two groups,
//! nulls form one group), groups come out in the order of that encoding,
//! each showing the key values its first row had. `count` counts non-null
//! values, `sum` stays an int until a float arrives and fails on int
//! overflow, `avg` is a float, `min`/`max` use the `order by` order across
//! types, and `sum`/`avg` of a non-number fail. The first error is the one
//! met first going row by row and aggregate by aggregate.
//!
//! A parallel input (a full scan split into parts, see
//! [`super::partitions`]) is aggregated one part per rayon task and the
//! partial tables merged in key-range order.

use std::cmp::Ordering;
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{BoxOp, ExecCtx, Kernel, Node, Operator, Part, build, parallel_parts};
use crate::ast::AggFunc;
use crate::error::{Error, ErrorCode, Result};
use crate::expr::as_f64;
use crate::keys;
use crate::limits::{Limits, Meter, row_bytes};
use crate::plan::bound::BoundExpr;
use crate::plan::logical::AggCall;
use crate::plan::physical::Physical;
use crate::value::Value;
use crate::vector::{Chunk, Data, VECTOR_SIZE, Vector, VectorBuilder};

/// Makes the input pipeline of part `i` (inside that part's task).
pub(crate) type MakePart<'a> = Box<dyn Fn(usize) -> Result<BoxOp<'a>> + Sync + 'a>;

/// Where an aggregate's rows come from.
pub(crate) enum Input<'a> {
    /// One pipeline, run on the caller's thread.
    One(BoxOp<'a>),
    /// This many parts, each a pipeline of its own run in a rayon task;
    /// the partial aggregates are merged in part order.
    Parts(usize, MakePart<'a>),
}

/// The operator of the hash aggregate at `node`.
pub(crate) fn operator<'a>(
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    part: Option<Part>,
) -> Result<BoxOp<'a>> {
    let Physical::HashAggregate { keys, aggs, .. } = node.plan else {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: not a hash aggregate",
        ));
    };
    Ok(Box::new(HashAggregate::new(
        input(node, ctx, part)?,
        keys,
        aggs,
        ctx.limits,
    )?))
}

/// The input of the aggregate at `node`: split into parts when its input
/// chain ends in a parallel full scan and the aggregate is not itself
/// inside a part.
pub(crate) fn input<'a>(
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    part: Option<Part>,
) -> Result<Input<'a>> {
    let child = node.child(0).ok_or_else(|| {
        Error::query(
            ErrorCode::Unsupported,
            "internal: a plan node without its input",
        )
    })?;
    if part.is_none()
        && let Some(parts) = parallel_parts(child, ctx)?
    {
        let n = parts.len();
        return Ok(Input::Parts(
            n,
            Box::new(move |i| {
                let p = parts.get(i).copied().ok_or_else(|| {
                    Error::query(ErrorCode::Unsupported, "internal: no such part")
                })?;
                build(child, ctx, Some(p))
            }),
        ));
    }
    Ok(Input::One(build(child, ctx, part)?))
}

/// The compiled keys and aggregates, shared by every part.
struct Spec {
    /// The group keys, as written and compiled.
    keys: Vec<(BoundExpr, Kernel)>,
    /// The aggregates and their arguments, as written and compiled
    /// (`None`: `count(*)`).
    aggs: Vec<(AggFunc, Option<(BoundExpr, Kernel)>)>,
    /// Per aggregate: `f(distinct e)`.
    distinct: Vec<bool>,
    /// Input columns any key or argument reads (for the row-by-row path).
    reads: Vec<usize>,
}

/// The hash aggregate operator.
pub(crate) struct HashAggregate<'a> {
    /// The input, until it has been consumed.
    input: Option<Input<'a>>,
    /// What to compute.
    spec: Spec,
    /// The statement's limits.
    limits: &'a Limits,
    /// The result, once computed.
    out: std::vec::IntoIter<Chunk>,
}

impl<'a> HashAggregate<'a> {
    /// Aggregates `input` by `keys` into `aggs`.
    pub(crate) fn new(
        input: Input<'a>,
        keys: &[BoundExpr],
        aggs: &[AggCall],
        limits: &'a Limits,
    ) -> Result<HashAggregate<'a>> {
        let mut reads = Vec::new();
        for k in keys {
            k.columns(&mut reads);
        }
        for a in aggs {
            if let Some(arg) = &a.arg {
                arg.columns(&mut reads);
            }
        }
        reads.sort_unstable();
        reads.dedup();
        let spec = Spec {
            keys: keys
                .iter()
                .map(|k| Ok((k.clone(), Kernel::compile(k)?)))
                .collect::<Result<_>>()?,
            aggs: aggs
                .iter()
                .map(|a| {
                    let arg = match &a.arg {
                        Some(e) => Some((e.clone(), Kernel::compile(e)?)),
                        None => None,
                    };
                    Ok((a.func, arg))
                })
                .collect::<Result<_>>()?,
            distinct: aggs.iter().map(|a| a.distinct).collect(),
            reads,
        };
        Ok(HashAggregate {
            input: Some(input),
            spec,
            limits,
            out: Vec::new().into_iter(),
        })
    }

    /// Consumes the whole input into one table of groups.
    fn aggregate(&self, input: Input<'a>) -> Result<Groups<'a>> {
        let spec = &self.spec;
        let limits = self.limits;
        let run = |mut op: BoxOp<'a>| -> Result<Groups<'a>> {
            let mut g = Groups::new(spec, limits);
            while let Some(chunk) = op.next()? {
                limits.check()?;
                g.consume(spec, &chunk)?;
            }
            Ok(g)
        };
        match input {
            Input::One(op) => run(op),
            Input::Parts(n, make) => {
                let parts: Vec<Groups<'a>> = (0..n)
                    .into_par_iter()
                    .map(|i| run(make(i)?))
                    .collect::<Result<_>>()?;
                let mut it = parts.into_iter();
                let mut first = it.next().unwrap_or_else(|| Groups::new(spec, limits));
                for other in it {
                    limits.check()?;
                    first.merge(other)?;
                }
                Ok(first)
            }
        }
    }
}

impl Operator for HashAggregate<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        if let Some(input) = self.input.take() {
            let groups = self.aggregate(input)?;
            self.out = groups.finish()?.into_iter();
        }
        self.limits.check()?;
        Ok(self.out.next())
    }
}

/// A `sum`'s running state: an int until a float arrives.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    /// The sum while every value was an int.
    int: i64,
    /// The sum since the first float.
    float: f64,
    /// Whether any non-null value arrived (else the sum is null).
    any: bool,
    /// Whether a float arrived (the sum is `float` from then on).
    is_float: bool,
}

impl Sum {
    /// Adds an int: exact (failing on overflow) until a float arrived.
    #[inline]
    fn add_int(&mut self, x: i64) -> Result<()> {
        self.any = true;
        if self.is_float {
            self.float += x as f64;
        } else {
            self.int = self.int.checked_add(x).ok_or_else(overflow)?;
        }
        Ok(())
    }

    /// Adds a float: the sum is a float from now on.
    #[inline]
    fn add_float(&mut self, x: f64) {
        self.any = true;
        if !self.is_float {
            self.is_float = true;
            self.float = self.int as f64;
        }
        self.float += x;
    }

    /// Adds another part's sum.
    fn merge(&mut self, o: &Sum) -> Result<()> {
        self.any |= o.any;
        if !self.is_float && !o.is_float {
            self.int = self.int.checked_add(o.int).ok_or_else(overflow)?;
        } else {
            let mine = if self.is_float {
                self.float
            } else {
                self.int as f64
            };
            let theirs = if o.is_float { o.float } else { o.int as f64 };
            self.float = mine + theirs;
            self.is_float = true;
        }
        Ok(())
    }

    /// The sum: null when no value arrived.
    fn result(&self) -> Value {
        match self {
            Sum { any: false, .. } => Value::Null,
            Sum {
                is_float: true,
                float,
                ..
            } => Value::Float(*float),
            Sum { int, .. } => Value::Int(*int),
        }
    }
}

/// The error of an int sum past the int range.
fn overflow() -> Error {
    Error::query(ErrorCode::NumericOverflow, "integer overflow in sum")
}

/// The error of `sum` or `avg` (`f`) of a value that is not a number.
fn not_number(f: &str, v: &Value) -> Error {
    Error::query(
        ErrorCode::TypeMismatch,
        format!("{f} needs numbers, got {}", v.type_name()),
    )
}

/// One aggregate's states, one per group, by group id.
#[derive(Debug)]
enum States {
    /// `count(*)`.
    CountRows(Vec<i64>),
    /// `count(e)`: non-null values.
    Count(Vec<i64>),
    /// `sum(e)`.
    Sum(Vec<Sum>),
    /// Sum and count of the values.
    Avg(Vec<(f64, i64)>),
    /// `min(e)`: null until a value arrives.
    Min(Vec<Value>),
    /// `max(e)`: null until a value arrives.
    Max(Vec<Value>),
    /// `count`, `sum` or `avg` of `distinct e`.
    Distinct(Box<Distinct>),
}

/// Bytes counted per distinct value held, besides its encoding and heap
/// (the set entry, the group id, the kept copy).
const DISTINCT_VALUE_BYTES: usize = 64;

/// The states of `f(distinct e)`: each group's distinct non-null values
/// (by their order-preserving encoding, as groups are told apart), and
/// `f`'s states over them.
#[derive(Debug)]
struct Distinct {
    /// `f`'s states, fed each group's values once.
    inner: States,
    /// (group, encoded value) pairs seen.
    seen: FxHashSet<(u32, Vec<u8>)>,
    /// Per group, its distinct values in arrival order (for merging).
    values: Vec<Vec<Value>>,
    /// Roughly the bytes `seen` and `values` hold, for the memory limit.
    bytes: usize,
}

impl Distinct {
    /// Adds `v` to group `g` unless null or already there.
    fn add(&mut self, g: usize, v: &Value) -> Result<()> {
        if v.is_null() {
            return Ok(());
        }
        let mut enc = Vec::new();
        keys::encode_ordered(v, &mut enc);
        let held = enc.len() + crate::limits::value_heap(v) + DISTINCT_VALUE_BYTES;
        if self.seen.insert((g as u32, enc)) {
            self.bytes += held;
            self.inner.add(g, v)?;
            if let Some(vals) = self.values.get_mut(g) {
                vals.push(v.clone());
            }
        }
        Ok(())
    }
}

impl States {
    /// No groups yet, for aggregate `f` (`star`: `count(*)`; `distinct`:
    /// over distinct values, which changes nothing for `min` and `max`).
    fn new(f: AggFunc, star: bool, distinct: bool) -> States {
        if distinct && !star && matches!(f, AggFunc::Count | AggFunc::Sum | AggFunc::Avg) {
            return States::Distinct(Box::new(Distinct {
                inner: States::new(f, false, false),
                seen: FxHashSet::default(),
                values: Vec::new(),
                bytes: 0,
            }));
        }
        match f {
            AggFunc::Count if star => States::CountRows(Vec::new()),
            AggFunc::Count => States::Count(Vec::new()),
            AggFunc::Sum => States::Sum(Vec::new()),
            AggFunc::Avg => States::Avg(Vec::new()),
            AggFunc::Min => States::Min(Vec::new()),
            AggFunc::Max => States::Max(Vec::new()),
        }
    }

    /// Adds a group's initial state.
    fn push_group(&mut self) {
        match self {
            States::CountRows(v) | States::Count(v) => v.push(0),
            States::Sum(v) => v.push(Sum::default()),
            States::Avg(v) => v.push((0.0, 0)),
            States::Min(v) | States::Max(v) => v.push(Value::Null),
            States::Distinct(d) => {
                d.inner.push_group();
                d.values.push(Vec::new());
            }
        }
    }

    /// Adds group `og` of `other` (the same aggregate) as a new group.
    fn push_copy(&mut self, other: &States, og: usize) {
        match (self, other) {
            (States::CountRows(v), States::CountRows(o)) | (States::Count(v), States::Count(o)) => {
                v.push(o[og])
            }
            (States::Sum(v), States::Sum(o)) => v.push(o[og]),
            (States::Avg(v), States::Avg(o)) => v.push(o[og]),
            (States::Min(v), States::Min(o)) | (States::Max(v), States::Max(o)) => {
                v.push(o[og].clone())
            }
            (States::Distinct(d), States::Distinct(o)) => {
                d.inner.push_copy(&o.inner, og);
                let g = d.values.len() as u32;
                let vals = o.values.get(og).cloned().unwrap_or_default();
                for v in &vals {
                    let mut enc = Vec::new();
                    keys::encode_ordered(v, &mut enc);
                    d.bytes += enc.len() + crate::limits::value_heap(v) + DISTINCT_VALUE_BYTES;
                    d.seen.insert((g, enc));
                }
                d.values.push(vals);
            }
            (me, _) => me.push_group(),
        }
    }

    /// Adds one value (the argument at one row) to group `g`: the
    /// reference semantics every typed loop below agrees with.
    fn add(&mut self, g: usize, v: &Value) -> Result<()> {
        match self {
            States::CountRows(c) => c[g] += 1,
            _ if v.is_null() => {}
            States::Distinct(d) => d.add(g, v)?,
            States::Count(c) => c[g] += 1,
            States::Sum(s) => match v {
                Value::Int(x) => s[g].add_int(*x)?,
                v => s[g].add_float(as_f64(v).ok_or_else(|| not_number("sum", v))?),
            },
            States::Avg(a) => {
                a[g].0 += as_f64(v).ok_or_else(|| not_number("avg", v))?;
                a[g].1 += 1;
            }
            States::Min(m) => {
                if m[g].is_null() || v.sort_cmp(&m[g]) == Ordering::Less {
                    m[g] = v.clone();
                }
            }
            States::Max(m) => {
                if m[g].is_null() || v.sort_cmp(&m[g]) == Ordering::Greater {
                    m[g] = v.clone();
                }
            }
        }
        Ok(())
    }

    /// Adds the argument `arg` at every row in play of `chunk` (row `i`
    /// to group `gids[i]`); `None` for `count(*)`. On failure, the index
    /// (among the rows in play) of the row that failed, and why.
    fn add_column(
        &mut self,
        arg: Option<&Vector>,
        chunk: &Chunk,
        gids: &[u32],
    ) -> std::result::Result<(), (usize, Error)> {
        let Some(v) = arg else {
            if let States::CountRows(c) = self {
                for &g in gids {
                    c[g as usize] += 1;
                }
            }
            return Ok(());
        };
        let rows = chunk.positions().zip(gids);
        match (&mut *self, v.data()) {
            (States::CountRows(c), _) => {
                for &g in gids {
                    c[g as usize] += 1;
                }
            }
            (States::Count(c), _) => {
                if v.validity().is_none() && !matches!(v.data(), Data::Any(_)) {
                    for &g in gids {
                        c[g as usize] += 1;
                    }
                } else {
                    for (p, &g) in rows {
                        if !v.is_null(p) {
                            c[g as usize] += 1;
                        }
                    }
                }
            }
            (States::Sum(s), Data::Int(xs)) => {
                let mut failed = None;
                typed_rows(v, chunk, gids, |i, p, g| {
                    if failed.is_none()
                        && let Err(e) = s[g as usize].add_int(xs[p])
                    {
                        failed = Some((i, e));
                    }
                });
                if let Some(f) = failed {
                    return Err(f);
                }
            }
            (States::Sum(s), Data::Float(xs)) => {
                typed_rows(v, chunk, gids, |_, p, g| s[g as usize].add_float(xs[p]));
            }
            (States::Avg(a), Data::Int(xs)) => {
                typed_rows(v, chunk, gids, |_, p, g| {
                    let a = &mut a[g as usize];
                    a.0 += xs[p] as f64;
                    a.1 += 1;
                });
            }
            (States::Avg(a), Data::Float(xs)) => {
                typed_rows(v, chunk, gids, |_, p, g| {
                    let a = &mut a[g as usize];
                    a.0 += xs[p];
                    a.1 += 1;
                });
            }
            (States::Min(m), Data::Int(xs)) => {
                for (p, &g) in rows {
                    if v.is_null(p) {
                        continue;
                    }
                    let m = &mut m[g as usize];
                    match m {
                        Value::Int(cur) => *cur = (*cur).min(xs[p]),
                        Value::Null => *m = Value::Int(xs[p]),
                        _ => {
                            let x = Value::Int(xs[p]);
                            if x.sort_cmp(m) == Ordering::Less {
                                *m = x;
                            }
                        }
                    }
                }
            }
            (States::Max(m), Data::Int(xs)) => {
                for (p, &g) in rows {
                    if v.is_null(p) {
                        continue;
                    }
                    let m = &mut m[g as usize];
                    match m {
                        Value::Int(cur) => *cur = (*cur).max(xs[p]),
                        Value::Null => *m = Value::Int(xs[p]),
                        _ => {
                            let x = Value::Int(xs[p]);
                            if x.sort_cmp(m) == Ordering::Greater {
                                *m = x;
                            }
                        }
                    }
                }
            }
            (me, _) => {
                for (i, (p, &g)) in rows.enumerate() {
                    if v.is_null(p) {
                        continue;
                    }
                    let x = v.value(p).map_err(|e| (i, e))?;
                    me.add(g as usize, &x).map_err(|e| (i, e))?;
                }
            }
        }
        Ok(())
    }

    /// Merges group `og` of `other` (the same aggregate, another part)
    /// into group `g`.
    fn merge(&mut self, g: usize, other: &States, og: usize) -> Result<()> {
        match (self, other) {
            (States::CountRows(v), States::CountRows(o)) | (States::Count(v), States::Count(o)) => {
                v[g] += o[og]
            }
            (States::Sum(v), States::Sum(o)) => v[g].merge(&o[og])?,
            (States::Avg(v), States::Avg(o)) => {
                v[g].0 += o[og].0;
                v[g].1 += o[og].1;
            }
            (me @ States::Min(_), States::Min(o)) | (me @ States::Max(_), States::Max(o)) => {
                me.add(g, &o[og])?
            }
            (States::Distinct(d), States::Distinct(o)) => {
                for v in o.values.get(og).into_iter().flatten() {
                    d.add(g, v)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The bytes a distinct aggregate's values hold (0 for the others).
    fn held_bytes(&self) -> usize {
        match self {
            States::Distinct(d) => d.bytes,
            _ => 0,
        }
    }

    /// Group `g`'s result.
    fn result(&self, g: usize) -> Value {
        match self {
            States::CountRows(c) | States::Count(c) => Value::Int(c[g]),
            States::Sum(s) => s[g].result(),
            States::Avg(a) if a[g].1 == 0 => Value::Null,
            States::Avg(a) => Value::Float(a[g].0 / a[g].1 as f64),
            States::Min(m) | States::Max(m) => m[g].clone(),
            States::Distinct(d) => d.inner.result(g),
        }
    }
}

/// Calls `f(i, p, g)` for each row in play of `chunk` whose value in
/// the typed (int or float) vector `v` is not null: `i` its index among
/// the rows in play, `p` its position, `g` its group `gids[i]`. The
/// common case (no selection, no nulls) is a plain loop the compiler
/// can keep tight.
#[inline(always)]
fn typed_rows(v: &Vector, chunk: &Chunk, gids: &[u32], mut f: impl FnMut(usize, usize, u32)) {
    match (v.validity(), &chunk.sel) {
        (None, None) => {
            for (p, &g) in gids.iter().enumerate() {
                f(p, p, g);
            }
        }
        (None, Some(sel)) => {
            for (i, (&p, &g)) in sel.iter().zip(gids).enumerate() {
                f(i, p as usize, g);
            }
        }
        (Some(valid), _) => {
            for (i, (p, &g)) in chunk.positions().zip(gids).enumerate() {
                if valid.get(p) {
                    f(i, p, g);
                }
            }
        }
    }
}

/// Bytes a group holds besides its key values and states: its map entry
/// (roughly).
const GROUP_BYTES: usize = 48;
/// Bytes of one aggregate's state of one group (roughly).
const STATE_BYTES: usize = 32;

/// Most slots of a [`Dense`] table (256 KiB of group ids): keys spread
/// wider than this are hashed.
const DENSE_MAX: usize = 1 << 16;

/// No group yet, in a [`Dense`] slot.
const NO_GROUP: u32 = u32::MAX;

/// Group ids of int keys `base..base + slots.len()`, by offset.
#[derive(Debug, Default)]
struct Dense {
    /// The first key.
    base: i64,
    /// Per key: its group, or [`NO_GROUP`].
    slots: Vec<u32>,
}

/// A table of groups: one part's partial aggregate, or the whole.
struct Groups<'l> {
    /// Keys per group.
    nkeys: usize,
    /// `nkeys` values per group: the key values of its first row.
    keys: Vec<Value>,
    /// Groups of one int key, by the int.
    ints: FxHashMap<i64, u32>,
    /// Groups of one string key, by the string's bytes (found straight
    /// from a string vector's bytes, no value built per row).
    strs: FxHashMap<Box<[u8]>, u32>,
    /// Every other group, by the encoding of its keys.
    encoded: FxHashMap<Box<[u8]>, u32>,
    /// One per aggregate.
    states: Vec<States>,
    /// Number of groups.
    len: usize,
    /// The memory the groups hold.
    meter: Meter<'l>,
    /// Groups of one int key in a small range, by offset from the range's
    /// start: a cache in front of `ints` (which still has every group).
    dense: Dense,
    /// Scratch: an encoded key, group ids of a chunk, key values of a row.
    buf: Vec<u8>,
    gids: Vec<u32>,
    row_keys: Vec<Value>,
}

impl<'l> Groups<'l> {
    /// An empty table (one group already when there are no keys).
    fn new(spec: &Spec, limits: &'l Limits) -> Groups<'l> {
        let mut g = Groups {
            nkeys: spec.keys.len(),
            keys: Vec::new(),
            ints: FxHashMap::default(),
            strs: FxHashMap::default(),
            encoded: FxHashMap::default(),
            states: spec
                .aggs
                .iter()
                .zip(&spec.distinct)
                .map(|((f, arg), &d)| States::new(*f, arg.is_none(), d))
                .collect(),
            len: 0,
            meter: Meter::new(limits),
            dense: Dense::default(),
            buf: Vec::new(),
            gids: Vec::new(),
            row_keys: Vec::new(),
        };
        if g.nkeys == 0 {
            // Without keys there is one group, input or not.
            g.add_group(&[]);
        }
        g
    }

    /// Appends a group of key values `vals`; returns its id.
    fn add_group(&mut self, vals: &[Value]) -> u32 {
        let g = self.len as u32;
        self.keys.extend_from_slice(vals);
        for s in &mut self.states {
            s.push_group();
        }
        self.len += 1;
        g
    }

    /// The group of a null single key, found once per chunk: `memo`
    /// holds it after the first null.
    fn null_group(&mut self, memo: &mut Option<u32>) -> Result<u32> {
        match *memo {
            Some(g) => Ok(g),
            None => Ok(*memo.insert(self.group(&[Value::Null])?)),
        }
    }

    /// The id of the group of key values `vals`, added (and its memory
    /// counted) when new.
    fn group(&mut self, vals: &[Value]) -> Result<u32> {
        if let [Value::Int(x)] = vals {
            if let Some(&g) = self.ints.get(x) {
                return Ok(g);
            }
            let g = self.add_group(vals);
            self.ints.insert(*x, g);
            self.meter
                .tick_holding(GROUP_BYTES + 16 + self.states.len() * STATE_BYTES)?;
            return Ok(g);
        }
        if let [Value::String(x)] = vals {
            if let Some(&g) = self.strs.get(x.as_bytes()) {
                return Ok(g);
            }
            let g = self.add_group(vals);
            self.strs.insert(x.as_bytes().into(), g);
            let bytes = GROUP_BYTES + x.len() + row_bytes(vals);
            self.meter
                .tick_holding(bytes + self.states.len() * STATE_BYTES)?;
            return Ok(g);
        }
        self.buf.clear();
        for v in vals {
            keys::encode_ordered(v, &mut self.buf);
        }
        if let Some(&g) = self.encoded.get(self.buf.as_slice()) {
            return Ok(g);
        }
        let g = self.add_group(vals);
        self.encoded.insert(self.buf.as_slice().into(), g);
        let bytes = GROUP_BYTES + self.buf.len() + row_bytes(vals);
        self.meter
            .tick_holding(bytes + self.states.len() * STATE_BYTES)?;
        Ok(g)
    }

    /// Whether the dense table covers every non-null key in play of
    /// `chunk` (int key vector `k` with values `xs`), after growing it if
    /// the keys seen so far and these fit in [`DENSE_MAX`] slots.
    fn dense_fits(&mut self, chunk: &Chunk, k: &Vector, xs: &[i64]) -> Result<bool> {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        match k.validity() {
            None => match &chunk.sel {
                None => {
                    for &x in &xs[..chunk.len] {
                        lo = lo.min(x);
                        hi = hi.max(x);
                    }
                }
                Some(sel) => {
                    for &p in sel.iter() {
                        lo = lo.min(xs[p as usize]);
                        hi = hi.max(xs[p as usize]);
                    }
                }
            },
            Some(valid) => {
                for p in chunk.positions() {
                    if valid.get(p) {
                        lo = lo.min(xs[p]);
                        hi = hi.max(xs[p]);
                    }
                }
            }
        }
        if lo > hi {
            // Nulls only.
            return Ok(true);
        }
        let d = &self.dense;
        let (base, end) = if d.slots.is_empty() {
            (lo, hi)
        } else {
            let end = d.base.saturating_add(d.slots.len() as i64 - 1);
            (d.base.min(lo), end.max(hi))
        };
        let span = i128::from(end) - i128::from(base) + 1;
        if span > DENSE_MAX as i128 {
            return Ok(false);
        }
        if d.slots.is_empty() || base != d.base || span as usize != d.slots.len() {
            let mut slots = vec![NO_GROUP; span as usize];
            let shift = (d.base.wrapping_sub(base)) as usize;
            if !d.slots.is_empty() {
                slots[shift..shift + d.slots.len()].copy_from_slice(&d.slots);
            }
            let grown = (slots.len() - d.slots.len()) * 4;
            self.dense = Dense { base, slots };
            self.meter.tick_holding(grown)?;
        }
        Ok(true)
    }

    /// Fills `self.gids` with the group of each row in play of `chunk`,
    /// given its key vectors.
    fn group_ids(&mut self, chunk: &Chunk, keys: &[Arc<Vector>]) -> Result<()> {
        let mut gids = std::mem::take(&mut self.gids);
        gids.clear();
        match keys {
            [] => gids.resize(chunk.count(), 0),
            [k] if matches!(k.data(), Data::Int(_)) => {
                let Data::Int(xs) = k.data() else {
                    return Err(Error::query(
                        ErrorCode::Unsupported,
                        "internal: key vector type changed",
                    ));
                };
                if self.dense_fits(chunk, k, xs)? {
                    let Dense { base, slots } = std::mem::take(&mut self.dense);
                    let mut slots = slots;
                    if k.validity().is_none() {
                        // No nulls: one slot look-up a row, a new group
                        // only on a slot's first key.
                        for p in chunk.positions() {
                            // In range: `dense_fits` saw every key.
                            let slot = &mut slots[xs[p].wrapping_sub(base) as usize];
                            if *slot == NO_GROUP {
                                *slot = self.group(&[Value::Int(xs[p])])?;
                            }
                            gids.push(*slot);
                        }
                        self.dense = Dense { base, slots };
                        self.gids = gids;
                        return Ok(());
                    }
                    let mut null_group = None;
                    for p in chunk.positions() {
                        let g = if k.is_null(p) {
                            self.null_group(&mut null_group)?
                        } else {
                            // In range: `dense_fits` saw every key.
                            let slot = &mut slots[xs[p].wrapping_sub(base) as usize];
                            if *slot == NO_GROUP {
                                *slot = self.group(&[Value::Int(xs[p])])?;
                            }
                            *slot
                        };
                        gids.push(g);
                    }
                    self.dense = Dense { base, slots };
                } else {
                    for p in chunk.positions() {
                        let g = if k.is_null(p) {
                            self.group(&[Value::Null])?
                        } else {
                            match self.ints.get(&xs[p]) {
                                Some(&g) => g,
                                None => self.group(&[Value::Int(xs[p])])?,
                            }
                        };
                        gids.push(g);
                    }
                }
            }
            [k] if matches!(k.data(), Data::Str(_)) => {
                let Data::Str(text) = k.data() else {
                    return Err(Error::query(
                        ErrorCode::Unsupported,
                        "internal: key vector type changed",
                    ));
                };
                // Looked up by the vector's bytes; a value is built for a
                // new group only.
                let mut null_group = None;
                for p in chunk.positions() {
                    let g = if k.is_null(p) {
                        self.null_group(&mut null_group)?
                    } else {
                        match self.strs.get(text.bytes(p)) {
                            Some(&g) => g,
                            None => self.group(&[Value::String(text.str(p).to_owned())])?,
                        }
                    };
                    gids.push(g);
                }
            }
            _ => {
                let mut vals = std::mem::take(&mut self.row_keys);
                for p in chunk.positions() {
                    vals.clear();
                    for k in keys {
                        vals.push(k.value(p)?);
                    }
                    gids.push(self.group(&vals)?);
                }
                self.row_keys = vals;
            }
        }
        self.gids = gids;
        Ok(())
    }

    /// Adds the rows in play of `chunk`, counting what distinct
    /// aggregates keep of it against the memory limit.
    fn consume(&mut self, spec: &Spec, chunk: &Chunk) -> Result<()> {
        if !spec.distinct.contains(&true) {
            return self.consume_chunk(spec, chunk);
        }
        let held = |g: &Groups<'_>| g.states.iter().map(States::held_bytes).sum::<usize>();
        let before = held(self);
        let out = self.consume_chunk(spec, chunk);
        let grown = held(self).saturating_sub(before);
        if grown > 0 {
            self.meter.tick_holding(grown)?;
        }
        out
    }

    /// Adds the rows in play of `chunk`.
    fn consume_chunk(&mut self, spec: &Spec, chunk: &Chunk) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.nkeys == 0 && spec.aggs.iter().all(|(_, arg)| arg.is_none()) {
            // `count(*)` alone: count the rows in play, read nothing.
            let n = chunk.count() as i64;
            for s in &mut self.states {
                if let States::CountRows(c) = s
                    && let Some(c) = c.first_mut()
                {
                    *c += n;
                }
            }
            return Ok(());
        }
        // Every key and argument first: an expression that fails somewhere
        // in the chunk sends the chunk down the row-by-row path, which
        // meets the errors in row order.
        let evaluated = (|| -> Result<_> {
            let keys = spec
                .keys
                .iter()
                .map(|(_, k)| k.eval(chunk))
                .collect::<Result<Vec<_>>>()?;
            let args = spec
                .aggs
                .iter()
                .map(|(_, a)| a.as_ref().map(|(_, k)| k.eval(chunk)).transpose())
                .collect::<Result<Vec<_>>>()?;
            Ok((keys, args))
        })();
        let Ok((keys, args)) = evaluated else {
            return self.consume_rows(spec, chunk);
        };
        self.group_ids(chunk, &keys)?;
        // Each aggregate's state depends on its own earlier values only,
        // so its first failing row is the same column by column as row by
        // row; the error met first row by row is the one at the
        // lowest row (then the lowest aggregate).
        let mut first: Option<(usize, Error)> = None;
        for (state, arg) in self.states.iter_mut().zip(&args) {
            if let Err((i, e)) = state.add_column(arg.as_deref(), chunk, &self.gids)
                && first.as_ref().is_none_or(|(f, _)| i < *f)
            {
                first = Some((i, e));
            }
        }
        match first {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// Adds the rows in play of `chunk` one at a time, keys then each
    /// aggregate, in row order.
    fn consume_rows(&mut self, spec: &Spec, chunk: &Chunk) -> Result<()> {
        let mut row = vec![Value::Null; chunk.columns.len()];
        let mut vals = Vec::with_capacity(self.nkeys);
        for p in chunk.positions() {
            for &c in &spec.reads {
                if let (Some(v), Some(slot)) = (chunk.columns.get(c), row.get_mut(c)) {
                    *slot = v.value(p)?;
                }
            }
            vals.clear();
            for (k, _) in &spec.keys {
                vals.push(k.eval_row(&row)?);
            }
            let g = self.group(&vals)? as usize;
            for ((_, arg), state) in spec.aggs.iter().zip(&mut self.states) {
                match arg {
                    None => state.add(g, &Value::Null)?,
                    Some((e, _)) => state.add(g, &e.eval_row(&row)?)?,
                }
            }
        }
        Ok(())
    }

    /// Merges another part's groups into these (which come first in key
    /// order: a group seen by both keeps these key values).
    fn merge(&mut self, mut other: Groups<'l>) -> Result<()> {
        let m = std::mem::replace(&mut other.meter, Meter::new(self.meter.limits()));
        self.meter.absorb(m)?;
        let n = other.nkeys;
        for og in 0..other.len {
            let vals = &other.keys[og * n..(og + 1) * n];
            let found = if n == 0 {
                Some(0)
            } else if let [Value::Int(x)] = vals {
                self.ints.get(x).copied()
            } else if let [Value::String(x)] = vals {
                self.strs.get(x.as_bytes()).copied()
            } else {
                self.buf.clear();
                for v in vals {
                    keys::encode_ordered(v, &mut self.buf);
                }
                self.encoded.get(self.buf.as_slice()).copied()
            };
            match found {
                Some(g) => {
                    for (s, o) in self.states.iter_mut().zip(&other.states) {
                        s.merge(g as usize, o, og)?;
                    }
                }
                None => {
                    // Counted by the other part's meter, taken over above.
                    let g = self.len as u32;
                    self.keys.extend_from_slice(vals);
                    for (s, o) in self.states.iter_mut().zip(&other.states) {
                        s.push_copy(o, og);
                    }
                    self.len += 1;
                    match vals {
                        [Value::Int(x)] => {
                            self.ints.insert(*x, g);
                        }
                        [Value::String(x)] => {
                            self.strs.insert(x.as_bytes().into(), g);
                        }
                        _ => {
                            self.encoded.insert(self.buf.as_slice().into(), g);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The result rows, in key-encoding order, as chunks.
    fn finish(mut self) -> Result<Vec<Chunk>> {
        self.meter.release_all()?;
        let n = self.nkeys;
        let order: Vec<u32> = if n == 0 {
            vec![0]
        } else {
            let mut enc: Vec<(Vec<u8>, u32)> = (0..self.len)
                .map(|g| {
                    let mut b = Vec::new();
                    for v in &self.keys[g * n..(g + 1) * n] {
                        keys::encode_ordered(v, &mut b);
                    }
                    (b, g as u32)
                })
                .collect();
            enc.sort_unstable();
            enc.into_iter().map(|(_, g)| g).collect()
        };
        let mut out = Vec::with_capacity(order.len().div_ceil(VECTOR_SIZE));
        for part in order.chunks(VECTOR_SIZE) {
            let mut columns = Vec::with_capacity(n + self.states.len());
            for k in 0..n {
                let mut b = VectorBuilder::with_capacity(part.len());
                for &g in part {
                    b.push(&self.keys[g as usize * n + k]);
                }
                columns.push(Arc::new(b.finish()));
            }
            for s in &self.states {
                let mut b = VectorBuilder::with_capacity(part.len());
                for &g in part {
                    b.push(&s.result(g as usize));
                }
                columns.push(Arc::new(b.finish()));
            }
            out.push(Chunk {
                columns,
                len: part.len(),
                sel: None,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

//! The abstract syntax tree of the fasty language (docs/language.md): what the
//! parser produces and the planner consumes. Names are not resolved here:
//! a dotted name such as `users.name` or `metadata.level` stays a list of
//! parts until the planner knows which tables are in scope.
//!
//! `Display` prints a statement back as fasty text that parses to the same
//! tree (the parser's round-trip property); it is also how result columns
//! get their names (`count(*)`, `avg(age)`).

use std::fmt;

/// One statement: one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `create table [if not exists] NAME { col: type, ... }`
    CreateTable {
        /// Table name.
        name: String,
        /// Columns in declaration order.
        columns: Vec<ColumnDef>,
        /// `if not exists`: a table of that name already there is not an
        /// error (and is left as it is).
        if_not_exists: bool,
    },
    /// `drop table [if exists] NAME`
    DropTable {
        /// Table name.
        name: String,
        /// `if exists`: no table of that name is not an error.
        if_exists: bool,
    },
    /// `create index [if not exists] NAME on TABLE (COLUMN)`
    CreateIndex {
        /// Index name (unique in the database).
        name: String,
        /// The indexed table.
        table: String,
        /// The indexed column.
        column: String,
        /// `if not exists`: an index of that name already there is not an
        /// error (and is left as it is).
        if_not_exists: bool,
        /// `create unique index`: no two rows may hold the same non-null
        /// value in the column (`duplicate_key`).
        unique: bool,
    },
    /// `drop index [if exists] NAME`
    DropIndex {
        /// Index name.
        name: String,
        /// `if exists`: no index of that name is not an error.
        if_exists: bool,
    },
    /// `insert TABLE {..}` / `insert TABLE [{..}, ..]`, or `upsert` the same.
    Insert {
        /// Target table.
        table: String,
        /// The rows, each a list of `column: value` fields as written.
        rows: Vec<Vec<(String, Literal)>>,
        /// `upsert`: replace an existing row instead of failing.
        upsert: bool,
    },
    /// `select ...` or `find TABLE [where ...] ...`
    Select(Box<Select>),
    /// `update TABLE set col = expr, ... [where ...]`
    Update {
        /// Target table.
        table: String,
        /// `column = expression` pairs, in order.
        assignments: Vec<(String, Expr)>,
        /// Which rows; all when absent.
        filter: Option<Expr>,
    },
    /// `delete [from] TABLE [where ...]`
    Delete {
        /// Target table.
        table: String,
        /// Which rows; all when absent.
        filter: Option<Expr>,
    },
    /// `explain STATEMENT`: the plan, not the rows.
    Explain(Box<Statement>),
    /// `explain analyze STATEMENT`: runs a query (or the row-finding of an
    /// `update` or `delete`, changing nothing) and returns its plan with
    /// the rows and time of each node.
    ExplainAnalyze(Box<Statement>),
    /// `begin` or `begin read only`: opens a transaction in a session.
    Begin {
        /// `read only`: the transaction refuses writes.
        read_only: bool,
    },
    /// `commit`: makes the session's transaction's writes durable and
    /// visible, all of them or (on a conflict) none.
    Commit,
    /// `rollback`: drops the session's transaction's writes.
    Rollback,
    /// `alter table NAME ACTION`: changes a table's definition.
    AlterTable {
        /// The table.
        table: String,
        /// What changes.
        action: AlterAction,
    },
}

/// What an `alter table` changes.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterAction {
    /// `add [column] COLDEF`: a new last column; existing rows read its
    /// default (or null).
    AddColumn(ColumnDef),
    /// `drop [column] NAME`: removes a column (never the primary key) and
    /// any index on it.
    DropColumn(String),
    /// `rename [column] OLD to NEW`.
    RenameColumn {
        /// The current name.
        from: String,
        /// The new name.
        to: String,
    },
    /// `rename to NEW`: renames the table.
    RenameTable(String),
}

/// A column in `create table` (or `alter table .. add column`), with its
/// constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// Declared type.
    pub ty: ColumnType,
    /// `primary key`: this column is the table's key (int only). A table
    /// declaring none has the column `id` as its key.
    pub primary_key: bool,
    /// `not null`: writes of null are refused (`not_null_violation`).
    pub not_null: bool,
    /// `unique`: a unique index on the column is created with the table.
    pub unique: bool,
    /// `default LITERAL`: the value an insert that omits the column
    /// stores (null without one).
    pub default: Option<Literal>,
}

impl ColumnDef {
    /// A column without constraints.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            ty,
            primary_key: false,
            not_null: false,
            unique: false,
            default: None,
        }
    }
}

impl fmt::Display for ColumnDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.ty.name())?;
        if self.primary_key {
            f.write_str(" primary key")?;
        }
        if self.not_null {
            f.write_str(" not null")?;
        }
        if self.unique {
            f.write_str(" unique")?;
        }
        if let Some(d) = &self.default {
            write!(f, " default {d}")?;
        }
        Ok(())
    }
}

/// The column types (docs/language.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// UTF-8 text.
    String,
    /// `true` / `false`.
    Bool,
    /// A JSON object or array.
    Json,
}

impl ColumnType {
    /// The keyword naming this type.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::String => "string",
            ColumnType::Bool => "bool",
            ColumnType::Json => "json",
        }
    }
}

/// A `select` (or `find`, which is `select *`).
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// What to return; empty means `*` (every column).
    pub items: Vec<SelectItem>,
    /// The first table.
    pub from: String,
    /// `join TABLE on a = b`, in order.
    pub joins: Vec<Join>,
    /// `where`.
    pub filter: Option<Expr>,
    /// `group by` expressions.
    pub group_by: Vec<Expr>,
    /// `order by` keys.
    pub order_by: Vec<OrderBy>,
    /// `limit N`.
    pub limit: Option<u64>,
    /// `offset N`.
    pub offset: Option<u64>,
    /// `select distinct`: duplicate output rows dropped (nulls equal).
    pub distinct: bool,
    /// `having`: a predicate over the groups, after `group by`.
    pub having: Option<Expr>,
    /// `from TABLE [as] ALIAS`: the name the first table goes by in the
    /// statement (instead of its own).
    pub from_alias: Option<String>,
}

/// One output expression of a `select`, optionally renamed.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// The expression.
    pub expr: Expr,
    /// `as NAME`.
    pub alias: Option<String>,
}

impl SelectItem {
    /// The output column's name: the alias, or the expression as text.
    pub fn name(&self) -> String {
        match &self.alias {
            Some(a) => a.clone(),
            None => self.expr.to_string(),
        }
    }
}

/// `[inner | left [outer]] join TABLE [[as] ALIAS] on EXPR` (the planner
/// requires an equality of two columns, optionally `and` conditions on
/// the joined table alone).
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// The joined table.
    pub table: String,
    /// The join condition.
    pub on: Expr,
    /// Inner or left outer.
    pub kind: JoinKind,
    /// The name the joined table goes by in the statement.
    pub alias: Option<String>,
}

/// The kind of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JoinKind {
    /// `join` / `inner join`: the pairs of rows that match.
    #[default]
    Inner,
    /// `left join` / `left outer join`: every row before, with nulls for
    /// the joined table's columns when nothing matches.
    Left,
}

/// One `order by` key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// The sort expression.
    pub expr: Expr,
    /// `desc` (default ascending).
    pub desc: bool,
}

/// An expression in `where`, `set`, `select`, `order by`, `group by`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Literal),
    /// A possibly dotted name: `age`, `users.age`, `metadata.level`,
    /// `users.metadata.level`. Resolved by the planner.
    Name(Vec<String>),
    /// `not e`, `-e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `a op b`: arithmetic, comparison, `and`, `or`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `e [not] like pattern` (`%` any run, `_` one character).
    Like {
        /// The tested value.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// `not like`.
        negated: bool,
    },
    /// `e is [not] null`.
    IsNull {
        /// The tested value.
        expr: Box<Expr>,
        /// `is not null`.
        negated: bool,
    },
    /// `e [not] in (a, b, ...)`.
    InList {
        /// The tested value.
        expr: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
    },
    /// `e [not] between low and high`.
    Between {
        /// The tested value.
        expr: Box<Expr>,
        /// Lower bound, inclusive.
        low: Box<Expr>,
        /// Upper bound, inclusive.
        high: Box<Expr>,
        /// `not between`.
        negated: bool,
    },
    /// `count(*)`, `count(e)`, `sum(e)`, `avg(e)`, `min(e)`, `max(e)`,
    /// and `f(distinct e)`.
    Aggregate {
        /// Which aggregate.
        func: AggFunc,
        /// The argument; `None` only for `count(*)`.
        arg: Option<Box<Expr>>,
        /// `f(distinct e)`: over the distinct non-null values of `e`.
        distinct: bool,
    },
    /// A scalar function call: `lower(name)`, `coalesce(a, b, 0)`. The
    /// name is kept as written (lower case from the parser); binding
    /// resolves it (`unsupported` for an unknown name).
    Function {
        /// The function's name.
        name: String,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// `case [operand] when c then r … [else e] end`. Without an operand
    /// each `c` is a condition; with one, `operand = c` is.
    Case {
        /// The value compared with each `when` (simple form).
        operand: Option<Box<Expr>>,
        /// `when` / `then` pairs, in order (at least one).
        whens: Vec<(Expr, Expr)>,
        /// `else`; `null` when absent.
        else_result: Option<Box<Expr>>,
    },
    /// `cast(e as TYPE)` or `e::TYPE`.
    Cast {
        /// The converted value.
        expr: Box<Expr>,
        /// The target type.
        ty: ColumnType,
    },
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// Binary operators, loosest first within each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`: remainder, with the sign of the dividend.
    Mod,
    /// `||`: string concatenation (null if either side is null).
    Concat,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "||",
        }
    }

    /// Binding strength: higher binds tighter. `or` 1, `and` 2, (`not` 3),
    /// comparisons 4, `||` 5, `+ -` 6, `* / %` 7 (as PostgreSQL: `||`
    /// looser than arithmetic, tighter than comparisons).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => 4,
            BinaryOp::Concat => 5,
            BinaryOp::Add | BinaryOp::Sub => 6,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 7,
        }
    }
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `count`
    Count,
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
}

impl AggFunc {
    /// The function's name as printed.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// A constant as written. Objects and arrays are JSON values (for `json`
/// columns); their keys are identifiers or strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits i64 (`-12`; a leading minus directly before a
    /// number is part of the literal).
    Int(i64),
    /// A number with a fraction or exponent (`3.5`, `1e6`), or an integer
    /// too large for i64.
    Float(f64),
    /// A quoted string, escapes resolved.
    String(String),
    /// `[a, b, ...]`
    Array(Vec<Literal>),
    /// `{ key: value, ... }`
    Object(Vec<(String, Literal)>),
    /// `?`: the parameter of a prepared statement with this index (from 0,
    /// in order of appearance), replaced by a value before it runs.
    Param(u32),
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateTable {
                name,
                columns,
                if_not_exists,
            } => {
                let guard = if *if_not_exists { "if not exists " } else { "" };
                write!(f, "create table {guard}{name} {{ ")?;
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str(" }")
            }
            Statement::DropTable { name, if_exists } => {
                let guard = if *if_exists { "if exists " } else { "" };
                write!(f, "drop table {guard}{name}")
            }
            Statement::CreateIndex {
                name,
                table,
                column,
                if_not_exists,
                unique,
            } => {
                let guard = if *if_not_exists { "if not exists " } else { "" };
                let unique = if *unique { "unique " } else { "" };
                write!(
                    f,
                    "create {unique}index {guard}{name} on {table} ({column})"
                )
            }
            Statement::DropIndex { name, if_exists } => {
                let guard = if *if_exists { "if exists " } else { "" };
                write!(f, "drop index {guard}{name}")
            }
            Statement::Insert {
                table,
                rows,
                upsert,
            } => {
                let verb = if *upsert { "upsert" } else { "insert" };
                write!(f, "{verb} {table} ")?;
                if rows.len() == 1 {
                    write_object(f, &rows[0])
                } else {
                    f.write_str("[")?;
                    for (i, row) in rows.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write_object(f, row)?;
                    }
                    f.write_str("]")
                }
            }
            Statement::Select(s) => write!(f, "{s}"),
            Statement::Update {
                table,
                assignments,
                filter,
            } => {
                write!(f, "update {table} set ")?;
                for (i, (col, e)) in assignments.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{col} = {e}")?;
                }
                if let Some(w) = filter {
                    write!(f, " where {w}")?;
                }
                Ok(())
            }
            Statement::Delete { table, filter } => {
                write!(f, "delete from {table}")?;
                if let Some(w) = filter {
                    write!(f, " where {w}")?;
                }
                Ok(())
            }
            Statement::Explain(s) => write!(f, "explain {s}"),
            Statement::ExplainAnalyze(s) => write!(f, "explain analyze {s}"),
            Statement::Begin { read_only: false } => f.write_str("begin"),
            Statement::Begin { read_only: true } => f.write_str("begin read only"),
            Statement::Commit => f.write_str("commit"),
            Statement::Rollback => f.write_str("rollback"),
            Statement::AlterTable { table, action } => {
                write!(f, "alter table {table} ")?;
                match action {
                    AlterAction::AddColumn(c) => write!(f, "add column {c}"),
                    AlterAction::DropColumn(c) => write!(f, "drop column {c}"),
                    AlterAction::RenameColumn { from, to } => {
                        write!(f, "rename column {from} to {to}")
                    }
                    AlterAction::RenameTable(to) => write!(f, "rename to {to}"),
                }
            }
        }
    }
}

fn write_object(f: &mut fmt::Formatter<'_>, fields: &[(String, Literal)]) -> fmt::Result {
    if fields.is_empty() {
        return f.write_str("{}");
    }
    f.write_str("{ ")?;
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if is_identifier(k) {
            write!(f, "{k}: {v}")?;
        } else {
            write_string(f, k)?;
            write!(f, ": {v}")?;
        }
    }
    f.write_str(" }")
}

/// Writes a call, `name(a, b, ...)`: a function of the syntax tree or of
/// a bound expression.
pub(crate) fn write_call<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    args: &[T],
) -> fmt::Result {
    write!(f, "{name}(")?;
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{a}")?;
    }
    f.write_str(")")
}

/// Writes the arms of a `case` after its operand: ` when c then r ...
/// [else e] end`.
pub(crate) fn write_case_arms<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    whens: &[(T, T)],
    else_result: Option<&T>,
) -> fmt::Result {
    for (c, r) in whens {
        write!(f, " when {c} then {r}")?;
    }
    if let Some(e) = else_result {
        write!(f, " else {e}")?;
    }
    f.write_str(" end")
}

/// Whether `s` can be written bare: `[A-Za-z_][A-Za-z0-9_]*`. (Keywords
/// are the parser's concern; see `parser::is_keyword`.)
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Writes `s` as a double-quoted fasty string literal.
pub fn write_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("select ")?;
        if self.distinct {
            f.write_str("distinct ")?;
        }
        if self.items.is_empty() {
            f.write_str("*")?;
        } else {
            for (i, item) in self.items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", item.expr)?;
                if let Some(a) = &item.alias {
                    write!(f, " as {a}")?;
                }
            }
        }
        write!(f, " from {}", self.from)?;
        if let Some(a) = &self.from_alias {
            write!(f, " as {a}")?;
        }
        for j in &self.joins {
            let kind = match j.kind {
                JoinKind::Inner => "",
                JoinKind::Left => " left",
            };
            write!(f, "{kind} join {}", j.table)?;
            if let Some(a) = &j.alias {
                write!(f, " as {a}")?;
            }
            write!(f, " on {}", j.on)?;
        }
        if let Some(w) = &self.filter {
            write!(f, " where {w}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" group by ")?;
            for (i, e) in self.group_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{e}")?;
            }
        }
        if let Some(h) = &self.having {
            write!(f, " having {h}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" order by ")?;
            for (i, o) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", o.expr)?;
                if o.desc {
                    f.write_str(" desc")?;
                }
            }
        }
        if let Some(n) = self.limit {
            write!(f, " limit {n}")?;
        }
        if let Some(n) = self.offset {
            write!(f, " offset {n}")?;
        }
        Ok(())
    }
}

impl Expr {
    /// Binding strength of the expression's top operator (higher binds
    /// tighter); atoms bind tightest.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary { op, .. } => op.precedence(),
            Expr::Unary {
                op: UnaryOp::Not, ..
            } => 3,
            Expr::Like { .. }
            | Expr::IsNull { .. }
            | Expr::InList { .. }
            | Expr::Between { .. } => 4,
            Expr::Unary {
                op: UnaryOp::Neg, ..
            } => 8,
            Expr::Literal(_)
            | Expr::Name(_)
            | Expr::Aggregate { .. }
            | Expr::Function { .. }
            | Expr::Case { .. }
            | Expr::Cast { .. } => 9,
        }
    }

    /// Writes `e`, parenthesised when it binds looser than `min`.
    fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
        if e.precedence() < min {
            write!(f, "({e})")
        } else {
            write!(f, "{e}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(l) => write!(f, "{l}"),
            Expr::Name(parts) => f.write_str(&parts.join(".")),
            Expr::Unary { op, expr } => match op {
                UnaryOp::Not => {
                    f.write_str("not ")?;
                    Expr::write_operand(f, expr, 3)
                }
                UnaryOp::Neg => {
                    // `-(1)` keeps a negated literal apart from a negative
                    // literal; `- -x` would read as a comment.
                    f.write_str("-(")?;
                    write!(f, "{expr}")?;
                    f.write_str(")")
                }
            },
            Expr::Binary { op, left, right } => {
                let p = op.precedence();
                // Left-associative: the left operand may be at the same
                // level, the right one must bind tighter. Comparisons do
                // not chain, so both their sides must bind tighter.
                let left_min = if p == 4 { p + 1 } else { p };
                Expr::write_operand(f, left, left_min)?;
                write!(f, " {} ", op.symbol())?;
                Expr::write_operand(f, right, p + 1)
            }
            Expr::Like {
                expr,
                pattern,
                negated,
            } => {
                Expr::write_operand(f, expr, 5)?;
                f.write_str(if *negated { " not like " } else { " like " })?;
                Expr::write_operand(f, pattern, 5)
            }
            Expr::IsNull { expr, negated } => {
                Expr::write_operand(f, expr, 5)?;
                f.write_str(if *negated { " is not null" } else { " is null" })
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                Expr::write_operand(f, expr, 5)?;
                f.write_str(if *negated { " not in (" } else { " in (" })?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                Expr::write_operand(f, expr, 5)?;
                f.write_str(if *negated {
                    " not between "
                } else {
                    " between "
                })?;
                Expr::write_operand(f, low, 5)?;
                f.write_str(" and ")?;
                Expr::write_operand(f, high, 5)
            }
            Expr::Aggregate {
                func,
                arg,
                distinct,
            } => match arg {
                None => write!(f, "{}(*)", func.name()),
                Some(a) if *distinct => write!(f, "{}(distinct {a})", func.name()),
                Some(a) => write!(f, "{}({a})", func.name()),
            },
            Expr::Function { .. } | Expr::Case { .. } => self.fmt_scalar(f),
            Expr::Cast { expr, ty } => write!(f, "cast({expr} as {})", ty.name()),
        }
    }
}

impl Expr {
    /// Prints a function call or `case` (apart so that the recursive
    /// `fmt`'s frame stays small).
    #[inline(never)]
    fn fmt_scalar(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Function { name, args } => write_call(f, name, args),
            Expr::Case {
                operand,
                whens,
                else_result,
            } => {
                f.write_str("case")?;
                if let Some(o) = operand {
                    // An operand that starts with a column named `when`
                    // would read as the searched form.
                    let text = o.to_string();
                    let first = text.split(|c: char| !is_word_char(c)).next();
                    if first.is_some_and(|w| w.eq_ignore_ascii_case("when")) {
                        write!(f, " ({text})")?;
                    } else {
                        write!(f, " {text}")?;
                    }
                }
                write_case_arms(f, whens, else_result.as_deref())
            }
            _ => Ok(()),
        }
    }
}

impl Literal {
    /// The literal as a JSON value (`?` as null): how a column's default
    /// is shown outside the language.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Literal::Null | Literal::Param(_) => J::Null,
            Literal::Bool(b) => J::Bool(*b),
            Literal::Int(i) => J::from(*i),
            Literal::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Literal::String(s) => J::String(s.clone()),
            Literal::Array(items) => J::Array(items.iter().map(Literal::to_json).collect()),
            Literal::Object(fields) => J::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => {
                // `{:?}` prints the shortest text that reads back as the
                // same f64 and always marks it as a float (`1.0`, `1e300`).
                write!(f, "{x:?}")
            }
            Literal::String(s) => write_string(f, s),
            Literal::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Literal::Object(fields) => write_object(f, fields),
            Literal::Param(_) => f.write_str("?"),
        }
    }
}

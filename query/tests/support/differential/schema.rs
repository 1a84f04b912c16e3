//! The schema both systems hold: three tables with a column of every
//! kind the comparison covers, non-unique join keys, and the values each
//! column draws from.
//!
//! The domains are chosen so that joins multiply rows without exploding:
//! `users.email` and `visits.email` share 800 addresses (about 2.5 users
//! per address), `orders.day` and `visits.day` share 1000 days,
//! `users.age` (0..90) meets `visits.day`. Floats are quarters, exact in
//! binary, so that sums of them are exact in any order.

use fasty_query::ast::Literal;
use rand::Rng;
use rand::rngs::StdRng;

/// How values of a column are made and compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Int,
    Float,
    Str,
    Bool,
}

/// A column of the test schema.
#[derive(Debug)]
pub struct Col {
    pub table: &'static str,
    pub name: &'static str,
    pub kind: Kind,
}

impl Col {
    pub fn numeric(&self) -> bool {
        matches!(self.kind, Kind::Int | Kind::Float)
    }
}

const fn col(table: &'static str, name: &'static str, kind: Kind) -> Col {
    Col { table, name, kind }
}

pub const USERS: &[Col] = &[
    col("users", "id", Kind::Int),
    col("users", "name", Kind::Str),
    col("users", "email", Kind::Str),
    col("users", "age", Kind::Int),
    col("users", "balance", Kind::Float),
    col("users", "active", Kind::Bool),
    col("users", "city", Kind::Str),
];

pub const ORDERS: &[Col] = &[
    col("orders", "id", Kind::Int),
    col("orders", "user_id", Kind::Int),
    col("orders", "amount", Kind::Float),
    col("orders", "status", Kind::Str),
    col("orders", "qty", Kind::Int),
    col("orders", "day", Kind::Int),
];

pub const VISITS: &[Col] = &[
    col("visits", "id", Kind::Int),
    col("visits", "user_id", Kind::Int),
    col("visits", "email", Kind::Str),
    col("visits", "day", Kind::Int),
    col("visits", "spent", Kind::Float),
    col("visits", "paid", Kind::Bool),
];

/// A table: its columns, how many rows it is loaded with, and the gap
/// between consecutive ids (ids are `i * stride + r`, `r < stride - 1`
/// random, so there are free ids between rows for later inserts).
pub struct Table {
    pub name: &'static str,
    pub cols: &'static [Col],
    pub rows: i64,
    pub stride: i64,
}

impl Table {
    /// Ids of newly inserted rows stay below this; rows moved by an
    /// update of `id` go to `MOVED` and above.
    pub fn id_limit(&self) -> i64 {
        self.rows * self.stride + 100
    }
}

pub const USER_ROWS: i64 = 2000;
pub const TABLES: [Table; 3] = [
    Table {
        name: "users",
        cols: USERS,
        rows: USER_ROWS,
        stride: 1,
    },
    Table {
        name: "orders",
        cols: ORDERS,
        rows: 3000,
        stride: 3,
    },
    Table {
        name: "visits",
        cols: VISITS,
        rows: 1500,
        stride: 2,
    },
];

/// The first id a moved row may take (see [`Table::id_limit`]).
pub const MOVED: i64 = 1_000_000;

pub fn table(name: &str) -> &'static Table {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

/// The fasty and SQLite definitions of the tables.
pub const FASTY_DDL: &[&str] = &[
    "create table users { id: int, name: string, email: string, age: int, balance: float, active: bool, city: string }",
    "create table orders { id: int, user_id: int, amount: float, status: string, qty: int, day: int }",
    "create table visits { id: int, user_id: int, email: string, day: int, spent: float, paid: bool }",
];
pub const SQLITE_DDL: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, balance REAL, active INTEGER, city TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL, status TEXT, qty INTEGER, day INTEGER);
    CREATE TABLE visits (id INTEGER PRIMARY KEY, user_id INTEGER, email TEXT, day INTEGER, spent REAL, paid INTEGER);";

/// Secondary indexes (name, table, column) of the indexed runs: on join
/// keys (unique and not), a bool, strings and floats.
pub const INDEXES: &[(&str, &str, &str)] = &[
    ("ix_age", "users", "age"),
    ("ix_email", "users", "email"),
    ("ix_city", "users", "city"),
    ("ix_active", "users", "active"),
    ("ix_user", "orders", "user_id"),
    ("ix_amount", "orders", "amount"),
    ("ix_oday", "orders", "day"),
    ("ix_vuser", "visits", "user_id"),
    ("ix_vemail", "visits", "email"),
    ("ix_vday", "visits", "day"),
];

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "Alfred", "al_x", "b%b",
];
const CITIES: &[&str] = &["NYC", "LA", "SF", "Berlin", "Paris"];
const STATUSES: &[&str] = &["new", "paid", "shipped"];
pub const EMAILS: u32 = 800;
pub const DAYS: i64 = 1000;

fn pick(rng: &mut StdRng, from: &[&str]) -> Literal {
    Literal::String(from[rng.random_range(0..from.len())].into())
}

/// A quarter in `lo/4 .. hi/4`.
pub fn quarter(rng: &mut StdRng, lo: i32, hi: i32) -> Literal {
    Literal::Float(f64::from(rng.random_range(lo..hi)) / 4.0)
}

/// A random value for `col` (null with some chance when `allow_null`).
pub fn rand_value(rng: &mut StdRng, col: &Col, allow_null: bool) -> Literal {
    if allow_null && rng.random_bool(0.12) {
        return Literal::Null;
    }
    match (col.table, col.name) {
        (t, "id") => Literal::Int(rng.random_range(-5..table(t).id_limit())),
        ("users", "name") => pick(rng, NAMES),
        (_, "email") => Literal::String(format!("u{}@x.io", rng.random_range(0..EMAILS))),
        ("users", "city") => pick(rng, CITIES),
        ("orders", "status") => pick(rng, STATUSES),
        ("users", "age") => Literal::Int(rng.random_range(0..90)),
        (_, "user_id") => Literal::Int(rng.random_range(0..USER_ROWS + 20)),
        ("orders", "qty") => Literal::Int(rng.random_range(0..20)),
        (_, "day") => Literal::Int(rng.random_range(0..DAYS)),
        _ => match col.kind {
            Kind::Int => Literal::Int(rng.random_range(-50..500)),
            Kind::Float => quarter(rng, -400, 4000),
            Kind::Bool => Literal::Bool(rng.random_bool(0.5)),
            Kind::Str => pick(rng, NAMES),
        },
    }
}

/// A literal to compare `col` with: mostly a value of its own domain,
/// sometimes one outside it (below or above every stored value, which
/// lets a zone map skip everything) or of the other numeric type (an int
/// column against a float and the other way round).
pub fn rand_operand(rng: &mut StdRng, col: &Col) -> Literal {
    match col.kind {
        Kind::Int | Kind::Float if rng.random_bool(0.08) => {
            if rng.random_bool(0.5) {
                Literal::Int(rng.random_range(-2000..-500))
            } else {
                Literal::Int(rng.random_range(2_000_000..3_000_000))
            }
        }
        Kind::Int if rng.random_bool(0.15) => match rand_value(rng, col, false) {
            Literal::Int(i) => Literal::Float(i as f64 + [0.5, 0.25, -0.5][rng.random_range(0..3)]),
            other => other,
        },
        Kind::Float if rng.random_bool(0.15) => Literal::Int(rng.random_range(-100..1000)),
        _ => rand_value(rng, col, false),
    }
}

/// The SQLite text of a literal (booleans as 1 and 0: SQLite has none).
pub fn sql_literal(l: &Literal) -> String {
    match l {
        Literal::Null => "NULL".into(),
        Literal::Bool(b) => (if *b { "1" } else { "0" }).into(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(x) => format!("{x:?}"),
        Literal::String(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Array(_) | Literal::Object(_) | Literal::Param(_) => {
            unreachable!("no json or placeholders in the differential schema")
        }
    }
}

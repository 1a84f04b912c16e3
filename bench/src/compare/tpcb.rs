//! The TPC-B-like workload's shared pieces: the tables' shape and size,
//! each transaction's random values, fasty's statement text for them and
//! how an answer to a `{"transaction": [...]}` request reads.
//!
//! The transaction is pgbench's default ("tpcb-like") script: add a random
//! delta to a random account, read the account's balance back, add the
//! delta to a random teller and a random branch, and append a history row.
//! The tables hold 10 000 accounts per branch, a tenth of pgbench's
//! 100 000, so that every run loads fresh tables in about a second.

use super::system::Result;

/// Branches of every run's tables (pgbench's scale factor).
pub const SCALE: i64 = 16;
/// Tellers per branch, as in pgbench.
pub const TELLERS_PER_BRANCH: i64 = 10;
/// Accounts per branch: a tenth of pgbench's 100 000.
pub const ACCOUNTS_PER_BRANCH: i64 = 10_000;
/// The largest delta a transaction adds (or, negated, subtracts).
pub const MAX_DELTA: i64 = 5000;
/// Attempts at one transaction before the harness gives up on it: a
/// conflict loop this long means something is wrong, not busy.
pub const MAX_TRIES: u32 = 10_000;
/// History ids each client draws from: client `c` uses `c * 2^32 + i`.
const HISTORY_IDS_PER_CLIENT: i64 = 1 << 32;

/// One transaction's values. A conflicted transaction is retried with the
/// same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpcbTx {
    /// The account, `1..=SCALE * ACCOUNTS_PER_BRANCH`.
    pub aid: i64,
    /// The teller, `1..=SCALE * TELLERS_PER_BRANCH`.
    pub tid: i64,
    /// The branch, `1..=SCALE`.
    pub bid: i64,
    /// Added to the three balances, `-MAX_DELTA..=MAX_DELTA`.
    pub delta: i64,
    /// The history row's id (fasty tables need an int primary key), unique
    /// per client and transaction.
    pub hid: i64,
    /// The history row's time, microseconds since the Unix epoch.
    pub mtime: i64,
}

impl TpcbTx {
    /// Transaction `i` of client `client`: aid, tid, bid and delta drawn
    /// independently and uniformly (as pgbench draws them) from a hash of
    /// the two, so every system gets the same sequence.
    pub fn generate(client: usize, i: u64, mtime: i64) -> TpcbTx {
        let mut state = (client as u64) << 40 ^ i ^ 0x7470_6362;
        let mut draw = |n: i64| (splitmix64(&mut state) % n as u64) as i64;
        TpcbTx {
            aid: 1 + draw(SCALE * ACCOUNTS_PER_BRANCH),
            tid: 1 + draw(SCALE * TELLERS_PER_BRANCH),
            bid: 1 + draw(SCALE),
            delta: draw(2 * MAX_DELTA + 1) - MAX_DELTA,
            hid: client as i64 * HISTORY_IDS_PER_CLIENT + i as i64,
            mtime,
        }
    }
}

/// A 64-bit mixer (splitmix64): the next value of the sequence `state`.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How one attempt at a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TpcbOutcome {
    /// Committed; the account's balance the SELECT read (after the
    /// update).
    Committed(i64),
    /// The commit failed with a serialization failure (or a deadlock) and
    /// wrote nothing: the harness runs it again.
    Conflict,
}

/// Sums over a run's tables after the clock stopped: every committed
/// transaction added its delta to each balance table and one history row,
/// so all four sums agree and the history holds one row per commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TpcbTotals {
    pub accounts: i64,
    pub tellers: i64,
    pub branches: i64,
    pub history: i64,
    pub history_rows: i64,
}

impl TpcbTotals {
    /// An error unless the totals are those of `commits` transactions
    /// whose deltas sum to `deltas`.
    pub fn check(&self, commits: u64, deltas: i64) -> Result<()> {
        let want = TpcbTotals {
            accounts: deltas,
            tellers: deltas,
            branches: deltas,
            history: deltas,
            history_rows: commits as i64,
        };
        if *self == want {
            Ok(())
        } else {
            Err(format!(
                "after {commits} committed transactions the tables hold {self:?}, expected {want:?}"
            ))
        }
    }
}

/// The names of one run's tables: `PREFIX_branches`, `PREFIX_tellers`,
/// `PREFIX_accounts`, `PREFIX_history`.
pub struct Tables {
    pub branches: String,
    pub tellers: String,
    pub accounts: String,
    pub history: String,
}

impl Tables {
    pub fn new(prefix: &str) -> Tables {
        Tables {
            branches: format!("{prefix}_branches"),
            tellers: format!("{prefix}_tellers"),
            accounts: format!("{prefix}_accounts"),
            history: format!("{prefix}_history"),
        }
    }

    /// Every table, history first (the order they are dropped in).
    pub fn all(&self) -> [&str; 4] {
        [&self.history, &self.accounts, &self.tellers, &self.branches]
    }
}

/// fasty's `create table` statements for one run's tables.
pub fn fasty_schema(t: &Tables) -> [String; 4] {
    [
        format!("create table {} {{ id: int, bbalance: int }}", t.branches),
        format!(
            "create table {} {{ id: int, bid: int, tbalance: int }}",
            t.tellers
        ),
        format!(
            "create table {} {{ id: int, bid: int, abalance: int }}",
            t.accounts
        ),
        format!(
            "create table {} {{ id: int, tid: int, bid: int, aid: int, delta: int, mtime: int }}",
            t.history
        ),
    ]
}

/// One table's initial rows: its name, its columns and the rows' values
/// in that order.
pub struct Fill<'a> {
    pub table: &'a str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<i64>>,
}

/// Every branch, teller and account with a zero balance, tellers and
/// accounts numbered within their branches as pgbench numbers them
/// (fasty's column names: the key is `id`).
pub fn initial_rows(t: &Tables) -> [Fill<'_>; 3] {
    let within = |per: i64| move |id: i64| vec![id, (id - 1) / per + 1, 0];
    [
        Fill {
            table: &t.branches,
            columns: &["id", "bbalance"],
            rows: (1..=SCALE).map(|id| vec![id, 0]).collect(),
        },
        Fill {
            table: &t.tellers,
            columns: &["id", "bid", "tbalance"],
            rows: (1..=SCALE * TELLERS_PER_BRANCH)
                .map(within(TELLERS_PER_BRANCH))
                .collect(),
        },
        Fill {
            table: &t.accounts,
            columns: &["id", "bid", "abalance"],
            rows: (1..=SCALE * ACCOUNTS_PER_BRANCH)
                .map(within(ACCOUNTS_PER_BRANCH))
                .collect(),
        },
    ]
}

/// fasty's queries for [`TpcbTotals`]: the three balance sums, then the
/// history's delta sum and row count.
pub fn fasty_totals_queries(t: &Tables) -> [String; 4] {
    [
        format!("select sum(abalance) from {}", t.accounts),
        format!("select sum(tbalance) from {}", t.tellers),
        format!("select sum(bbalance) from {}", t.branches),
        format!("select sum(delta), count(*) from {}", t.history),
    ]
}

/// The transaction's five statements in fasty's language, values inline.
pub fn fasty_statements(t: &Tables, tx: &TpcbTx) -> [String; 5] {
    let TpcbTx {
        aid,
        tid,
        bid,
        delta,
        hid,
        mtime,
    } = tx;
    [
        format!(
            "update {} set abalance = abalance + {delta} where id = {aid}",
            t.accounts
        ),
        format!("select abalance from {} where id = {aid}", t.accounts),
        format!(
            "update {} set tbalance = tbalance + {delta} where id = {tid}",
            t.tellers
        ),
        format!(
            "update {} set bbalance = bbalance + {delta} where id = {bid}",
            t.branches
        ),
        format!(
            "insert {} {{ id: {hid}, tid: {tid}, bid: {bid}, aid: {aid}, delta: {delta}, mtime: {mtime} }}",
            t.history
        ),
    ]
}

/// The same statements with `?` placeholders, for prepared statements;
/// their parameters in order are given by [`fasty_params`].
pub fn fasty_prepared_text(t: &Tables) -> [String; 5] {
    [
        format!(
            "update {} set abalance = abalance + ? where id = ?",
            t.accounts
        ),
        format!("select abalance from {} where id = ?", t.accounts),
        format!(
            "update {} set tbalance = tbalance + ? where id = ?",
            t.tellers
        ),
        format!(
            "update {} set bbalance = bbalance + ? where id = ?",
            t.branches
        ),
        format!(
            "insert {} {{ id: ?, tid: ?, bid: ?, aid: ?, delta: ?, mtime: ? }}",
            t.history
        ),
    ]
}

/// The parameters of each of [`fasty_prepared_text`]'s statements.
pub fn fasty_params(tx: &TpcbTx) -> [Vec<i64>; 5] {
    [
        vec![tx.delta, tx.aid],
        vec![tx.aid],
        vec![tx.delta, tx.tid],
        vec![tx.delta, tx.bid],
        vec![tx.hid, tx.tid, tx.bid, tx.aid, tx.delta, tx.mtime],
    ]
}

/// The outcome of a `{"transaction": [...]}` request from its answer:
/// committed with `results[1].data[0].abalance`, a conflict on a
/// `serialization_failure` error, anything else an error. Each update and
/// the insert must have changed exactly one row.
pub fn http_outcome(answer: &serde_json::Value) -> Result<TpcbOutcome> {
    if answer["success"] != true {
        if answer["error"]["code"] == "serialization_failure" {
            return Ok(TpcbOutcome::Conflict);
        }
        return Err(format!("fasty answered {answer}"));
    }
    let results = answer["results"]
        .as_array()
        .filter(|r| r.len() == 5)
        .ok_or_else(|| format!("fasty's answer has no five results: {answer}"))?;
    for i in [0, 2, 3, 4] {
        if results[i]["affected"] != 1 {
            return Err(format!(
                "statement {i} of the transaction changed {} rows, not 1",
                results[i]["affected"]
            ));
        }
    }
    let rows = results[1]["data"]
        .as_array()
        .ok_or_else(|| format!("the select's answer has no rows: {}", results[1]))?;
    match rows.as_slice() {
        [row] => row["abalance"]
            .as_i64()
            .map(TpcbOutcome::Committed)
            .ok_or_else(|| format!("the select gave balance {}, not an int", row["abalance"])),
        _ => Err(format!("the select gave {} rows, not 1", rows.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_range_deterministic_and_spread() {
        let mut deltas = std::collections::BTreeSet::new();
        let mut branches = std::collections::BTreeSet::new();
        for client in 0..16 {
            for i in 0..2000 {
                let tx = TpcbTx::generate(client, i, 7);
                assert!(
                    (1..=SCALE * ACCOUNTS_PER_BRANCH).contains(&tx.aid),
                    "{tx:?}"
                );
                assert!((1..=SCALE * TELLERS_PER_BRANCH).contains(&tx.tid), "{tx:?}");
                assert!((1..=SCALE).contains(&tx.bid), "{tx:?}");
                assert!((-MAX_DELTA..=MAX_DELTA).contains(&tx.delta), "{tx:?}");
                assert_eq!(tx, TpcbTx::generate(client, i, 7));
                deltas.insert(tx.delta.signum());
                branches.insert(tx.bid);
            }
        }
        assert_eq!(deltas.len(), 3, "negative, zero and positive deltas");
        assert_eq!(branches.len(), SCALE as usize, "every branch drawn");
        // History ids never collide between clients.
        assert_ne!(
            TpcbTx::generate(0, 1 << 32, 0).hid,
            TpcbTx::generate(1, 0, 0).hid + 1
        );
        assert_eq!(TpcbTx::generate(3, 5, 0).hid, 3 * (1 << 32) + 5);
    }

    #[test]
    fn statements_carry_the_values_into_the_runs_tables() {
        let t = Tables::new("tpcb16_2");
        let tx = TpcbTx {
            aid: 12,
            tid: 34,
            bid: 5,
            delta: -77,
            hid: 9,
            mtime: 1000,
        };
        assert_eq!(
            fasty_statements(&t, &tx),
            [
                "update tpcb16_2_accounts set abalance = abalance + -77 where id = 12",
                "select abalance from tpcb16_2_accounts where id = 12",
                "update tpcb16_2_tellers set tbalance = tbalance + -77 where id = 34",
                "update tpcb16_2_branches set bbalance = bbalance + -77 where id = 5",
                "insert tpcb16_2_history { id: 9, tid: 34, bid: 5, aid: 12, delta: -77, mtime: 1000 }",
            ]
        );
        let texts = fasty_prepared_text(&t);
        for (text, params) in texts.iter().zip(fasty_params(&tx)) {
            assert_eq!(text.matches('?').count(), params.len(), "{text}");
        }
        assert_eq!(fasty_params(&tx)[4], [9, 34, 5, 12, -77, 1000]);
    }

    #[test]
    fn every_statement_parses_in_fastys_language() {
        let t = Tables::new("tpcb1_1");
        let tx = TpcbTx::generate(0, 0, 1);
        // (The prepared forms run in fasty.rs's tests.)
        for text in fasty_statements(&t, &tx)
            .iter()
            .chain(&fasty_schema(&t))
            .chain(&fasty_totals_queries(&t))
        {
            fasty_query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn initial_rows_number_tellers_and_accounts_within_branches() {
        let t = Tables::new("p");
        let [branches, tellers, accounts] = initial_rows(&t);
        assert_eq!(branches.table, "p_branches");
        assert_eq!(branches.rows.len(), 16);
        assert_eq!(branches.rows[3], [4, 0]);
        assert_eq!(tellers.rows.len(), 160);
        assert_eq!(tellers.rows[9], [10, 1, 0]);
        assert_eq!(tellers.rows[10], [11, 2, 0]);
        assert_eq!(accounts.rows.len(), 160_000);
        assert_eq!(accounts.rows[159_999], [160_000, 16, 0]);
        for fill in [&branches, &tellers, &accounts] {
            assert!(fill.rows.iter().all(|r| r.len() == fill.columns.len()));
        }
    }

    #[test]
    fn an_answer_is_a_commit_with_the_balance_a_conflict_or_an_error() {
        let committed = serde_json::json!({"success": true, "results": [
            {"affected": 1},
            {"data": [{"abalance": -4200}], "rows": 1},
            {"affected": 1},
            {"affected": 1},
            {"affected": 1},
        ]});
        assert_eq!(http_outcome(&committed), Ok(TpcbOutcome::Committed(-4200)));
        let conflict = serde_json::json!({"success": false, "error": {
            "code": "serialization_failure",
            "message": "could not serialize access: a row was written since the transaction began"
        }});
        assert_eq!(http_outcome(&conflict), Ok(TpcbOutcome::Conflict));
        let failed = serde_json::json!({"success": false, "error": {
            "code": "unknown_table", "message": "no table x", "statement": 0
        }});
        assert!(http_outcome(&failed).unwrap_err().contains("unknown_table"));
        let mut float = committed.clone();
        float["results"][1]["data"][0]["abalance"] = serde_json::json!(1.5);
        assert!(http_outcome(&float).unwrap_err().contains("not an int"));
        let mut missing = committed.clone();
        missing["results"][1]["data"] = serde_json::json!([]);
        assert!(http_outcome(&missing).unwrap_err().contains("0 rows"));
        let mut untouched = committed.clone();
        untouched["results"][2]["affected"] = serde_json::json!(0);
        assert!(
            http_outcome(&untouched)
                .unwrap_err()
                .contains("statement 2")
        );
        let short = serde_json::json!({"success": true, "results": [{"affected": 1}]});
        assert!(http_outcome(&short).is_err());
    }

    #[test]
    fn totals_must_be_those_of_the_committed_transactions() {
        let t = TpcbTotals {
            accounts: -5,
            tellers: -5,
            branches: -5,
            history: -5,
            history_rows: 3,
        };
        assert_eq!(t.check(3, -5), Ok(()));
        assert!(t.check(4, -5).is_err());
        let lost = TpcbTotals { tellers: 0, ..t };
        assert!(lost.check(3, -5).unwrap_err().contains("expected"));
    }
}

//! The rows every system loads and the keys every system looks up, all
//! derived from one seed, plus the answers the queries must give, computed
//! here from the rows themselves so that each system is checked against
//! the data and not only against the other.
//!
//! `users`: ids `1..=N`, a name from a small list of first and last names,
//! a unique email (`first.last.ID@domain`, so email order is not id
//! order), age 18–80, balance 0.00–99 999.99, active true or false.
//! `orders`: ids `1..=M`, `user_id` uniformly random in `1..=N`, amount
//! 1.00–1 000.99. Every order's user exists, so the join yields M rows.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor", "wendy",
];
const LAST: &[&str] = &[
    "smith", "jones", "taylor", "brown", "wilson", "evans", "thomas", "roberts", "johnson",
    "walker", "wright", "green", "hall", "wood", "clarke", "baker",
];
const DOMAINS: &[&str] = &["example.com", "mail.test", "fasty.dev", "inbox.invalid"];

/// Ages are uniform in `AGE_MIN..=AGE_MAX`.
const AGE_MIN: i64 = 18;
const AGE_MAX: i64 = 80;

/// One row of `users`.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub age: i64,
    pub balance: f64,
    pub active: bool,
}

impl User {
    /// The user with id `id`, its other columns drawn from `rng`.
    pub fn random(rng: &mut impl Rng, id: i64) -> User {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
        User {
            id,
            name: format!("{first} {last}"),
            email: format!("{first}.{last}.{id}@{domain}"),
            age: rng.random_range(AGE_MIN..=AGE_MAX),
            balance: rng.random_range(0..10_000_000i64) as f64 / 100.0,
            active: rng.random(),
        }
    }
}

/// An endless stream of `users` rows with ids `1, 2, 3, …`, the same for
/// the same seed: for benchmarks that do not know up front how many rows
/// they will load (the `http` subcommand).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub struct UserStream {
    rng: StdRng,
    next_id: i64,
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
impl UserStream {
    /// A stream starting at id 1.
    pub fn new(seed: u64) -> UserStream {
        UserStream {
            rng: StdRng::seed_from_u64(seed),
            next_id: 1,
        }
    }

    /// The next `n` users.
    pub fn take(&mut self, n: usize) -> Vec<User> {
        (0..n)
            .map(|_| {
                let id = self.next_id;
                self.next_id += 1;
                User::random(&mut self.rng, id)
            })
            .collect()
    }
}

/// One row of `orders`.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    pub id: i64,
    pub user_id: i64,
    pub amount: f64,
}

/// The answers the heavy queries must give on this data.
#[derive(Debug, Clone)]
pub struct Truth {
    /// The `TOP_K` largest balances, largest first.
    pub top_balances: Vec<f64>,
    /// Rows of `orders join users on orders.user_id = users.id`.
    pub join_count: i64,
    /// `sum(orders.amount)` over those rows.
    pub join_sum: f64,
    /// Users with `age > AGE_FILTER`.
    pub older_than: i64,
    /// `select age, count(*), avg(balance) from users group by age`, by
    /// age ascending.
    pub by_age: Vec<AgeGroup>,
    /// Users with `id between ID_RANGE.0 and ID_RANGE.1`.
    pub in_id_range: i64,
}

/// One group of the group-by workload.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeGroup {
    pub age: i64,
    pub count: i64,
    pub avg_balance: f64,
}

/// Whether two group-by answers agree: the same ages and counts, and
/// averages equal up to summation order.
pub fn groups_agree(a: &[AgeGroup], b: &[AgeGroup]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.age == y.age && x.count == y.count && sums_agree(x.avg_balance, y.avg_balance)
        })
}

/// The `id between` bounds of the selective range count: the middle 1%
/// of the ids of a table of `users` rows.
pub fn id_range(users: u64) -> (i64, i64) {
    let n = users as i64;
    let width = (n / 100).max(1);
    let lo = n / 2 - width / 2 + 1;
    (lo, lo + width - 1)
}

/// Rows of the top-k query.
pub const TOP_K: usize = 10;
/// The age of `count(*) where age > AGE_FILTER`.
pub const AGE_FILTER: i64 = 50;
/// Rows of the primary-key range query.
pub const RANGE_ROWS: i64 = 100;
/// Lookup keys drawn up front and cycled through by the lookup loops.
const PROBES: usize = 1 << 16;

/// Both tables, the lookup keys and the expected answers.
pub struct Dataset {
    pub users: Vec<User>,
    pub orders: Vec<Order>,
    /// Random user ids for the point lookups, in `1..=N`.
    pub probe_ids: Vec<i64>,
    /// Random range starts in `1..=N-RANGE_ROWS+1` (so every range holds
    /// `RANGE_ROWS` rows).
    pub probe_starts: Vec<i64>,
    pub truth: Truth,
}

impl Dataset {
    /// Generates `users` and `orders` rows from `seed`.
    pub fn new(users: u64, orders: u64, seed: u64) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = users as i64;
        let users: Vec<User> = (1..=n).map(|id| User::random(&mut rng, id)).collect();
        let orders: Vec<Order> = (1..=orders as i64)
            .map(|id| Order {
                id,
                user_id: rng.random_range(1..=n),
                amount: rng.random_range(100..100_100i64) as f64 / 100.0,
            })
            .collect();
        let probe_ids = (0..PROBES).map(|_| rng.random_range(1..=n)).collect();
        let last_start = (n - RANGE_ROWS + 1).max(1);
        let probe_starts = (0..PROBES)
            .map(|_| rng.random_range(1..=last_start))
            .collect();
        let truth = Truth::of(&users, &orders);
        Dataset {
            users,
            orders,
            probe_ids,
            probe_starts,
            truth,
        }
    }

    /// The user with id `id` (ids are `1..=N`).
    pub fn user(&self, id: i64) -> Option<&User> {
        usize::try_from(id - 1).ok().and_then(|i| self.users.get(i))
    }
}

impl Truth {
    fn of(users: &[User], orders: &[Order]) -> Truth {
        let mut balances: Vec<f64> = users.iter().map(|u| u.balance).collect();
        balances.sort_by(|a, b| b.total_cmp(a));
        balances.truncate(TOP_K);
        let joined = orders
            .iter()
            .filter(|o| o.user_id >= 1 && o.user_id <= users.len() as i64);
        let mut groups: std::collections::BTreeMap<i64, (i64, f64)> = Default::default();
        for u in users {
            let g = groups.entry(u.age).or_default();
            g.0 += 1;
            g.1 += u.balance;
        }
        let (lo, hi) = id_range(users.len() as u64);
        Truth {
            by_age: groups
                .into_iter()
                .map(|(age, (count, sum))| AgeGroup {
                    age,
                    count,
                    avg_balance: sum / count as f64,
                })
                .collect(),
            in_id_range: users.iter().filter(|u| u.id >= lo && u.id <= hi).count() as i64,
            top_balances: balances,
            join_count: joined.clone().count() as i64,
            join_sum: joined.map(|o| o.amount).sum(),
            older_than: users.iter().filter(|u| u.age > AGE_FILTER).count() as i64,
        }
    }
}

/// Whether two sums of the same floats (added in different orders) agree.
pub fn sums_agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows_and_truth() {
        let a = Dataset::new(2_000, 3_000, 7);
        let b = Dataset::new(2_000, 3_000, 7);
        assert_eq!(a.users.len(), 2_000);
        assert_eq!(a.orders.len(), 3_000);
        assert_eq!(a.users[1234].email, b.users[1234].email);
        assert_eq!(a.orders[99].user_id, b.orders[99].user_id);
        assert_eq!(a.truth.join_count, 3_000);
        assert!(sums_agree(a.truth.join_sum, b.truth.join_sum));
        assert_eq!(a.truth.top_balances.len(), TOP_K);
        assert!(a.truth.top_balances.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn user_stream_is_deterministic_and_numbered_in_order() {
        let mut a = UserStream::new(3);
        let mut b = UserStream::new(3);
        let (a1, a2) = (a.take(10), a.take(5));
        let b1 = b.take(15);
        assert_eq!(a1.len() + a2.len(), 15);
        assert!(
            a1.iter()
                .chain(&a2)
                .zip(&b1)
                .all(|(x, y)| x.email == y.email)
        );
        assert_eq!(a2[4].id, 15);
        assert_ne!(a1[0].email, UserStream::new(4).take(1)[0].email);
    }

    #[test]
    fn emails_are_unique_and_probes_in_range() {
        let d = Dataset::new(5_000, 10, 1);
        let mut emails: Vec<&str> = d.users.iter().map(|u| u.email.as_str()).collect();
        emails.sort_unstable();
        emails.dedup();
        assert_eq!(emails.len(), 5_000);
        assert!(d.probe_ids.iter().all(|&id| d.user(id).is_some()));
        assert!(
            d.probe_starts
                .iter()
                .all(|&s| s >= 1 && s + RANGE_ROWS - 1 <= 5_000)
        );
    }
}

//! CPU time of this process's threads by role, from
//! `/proc/self/task/*/stat`: the load generator's runtime
//! (`fasty-bench-load` threads), the in-process server's runtime and
//! blocking pool (`fasty-server` threads) and everything else (the
//! database's background threads: log writer, flushes, compactions).
//! Server and generator share the machine's cores, so a section's split
//! says whether the generator, not the server, could have been the limit.

use std::time::Duration;

/// Thread-name prefixes (`comm` is cut at 15 bytes).
const CLIENT: &str = "fasty-bench-loa";
const SERVER: &str = "fasty-server";
/// Linux reports `utime`/`stime` in USER_HZ ticks, 100 per second on
/// every architecture Rust targets.
const TICKS_PER_SEC: f64 = 100.0;

/// CPU ticks by role since the threads started.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    client: u64,
    server: u64,
    other: u64,
}

/// Cores used on average over a section, by role.
#[derive(Clone, Copy, Debug)]
pub struct Split {
    /// The load generator.
    pub client: f64,
    /// The server's async workers and blocking pool.
    pub server: f64,
    /// The rest of the process (the database's background threads).
    pub other: f64,
}

impl Usage {
    /// The ticks of every live thread now (threads that ended are lost:
    /// their time is missing, never double counted). `None` without
    /// `/proc`.
    pub fn now() -> Option<Usage> {
        let mut u = Usage::default();
        for entry in std::fs::read_dir("/proc/self/task").ok()? {
            let Ok(entry) = entry else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some((comm, ticks)) = parse_stat(&stat) else {
                continue;
            };
            if comm.starts_with(CLIENT) {
                u.client += ticks;
            } else if comm.starts_with(SERVER) {
                u.server += ticks;
            } else {
                u.other += ticks;
            }
        }
        Some(u)
    }

    /// Average cores used by each role between `self` and `later`, over
    /// `wall`.
    pub fn split_until(&self, later: &Usage, wall: Duration) -> Split {
        let secs = wall.as_secs_f64().max(1e-9) * TICKS_PER_SEC;
        let d = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
        Split {
            client: d(self.client, later.client),
            server: d(self.server, later.server),
            other: d(self.other, later.other),
        }
    }
}

/// `(comm, utime + stime)` of one `stat` line.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    // After the comm: state is field 3; utime and stime are fields 14, 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((comm, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let line = "123 (fasty-server) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(("fasty-server", 280)));
        let odd = "9 (a) b (c)) R 1 2 3 4 5 6 7 8 9 10 1 2 0";
        assert_eq!(parse_stat(odd), Some(("a) b (c)", 3)));
        assert_eq!(parse_stat("garbage"), None);
        assert!(Usage::now().is_some());
    }
}

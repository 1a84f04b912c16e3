//! A real crash: a child process (`src/bin/wal-crash-child.rs`) writes in
//! durable mode from several threads and reports each acknowledgement over
//! a pipe; it is killed with SIGKILL at a random moment, the database is
//! reopened here, and every acknowledged batch must be there, whole, with
//! nothing half-applied — over many rounds on the same directory.
//!
//! `WAL_KILL_SEED=<n>` replays a run's kill timings.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::ops::Bound;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fasty_wal::{Db, Durability, Options};

const ROUNDS: u64 = 24;
const THREADS: u64 = 4;

fn options() -> Options {
    Options::default()
        .with_durability(Durability::Durable)
        .with_segment_size(64 << 10)
        .with_storage(fasty_storage::Options::default().with_memtable_budget(256 << 10))
}

struct XorShift(u64);
impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// (thread, batch) → the keys and values the child wrote for it.
fn batch_keys(round: u64, t: u64, i: u64) -> Vec<(String, String)> {
    (0..1 + i % 7)
        .map(|j| {
            (
                format!("b/{round:03}/{t}/{i:08}/{j}"),
                format!("{round}-{t}-{i}-{j}"),
            )
        })
        .collect()
}

#[test]
fn kill_9_never_loses_an_acknowledged_batch() {
    let seed = std::env::var("WAL_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("WAL_KILL_SEED={seed}");
    let mut rng = XorShift(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_wal-crash-child");
    // Every batch acknowledged in any round so far.
    let mut all_acked: BTreeSet<(u64, u64, u64)> = BTreeSet::new();
    let mut rounds_with_acks = 0;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut child = Command::new(exe)
            .arg(dir.path())
            .arg(THREADS.to_string())
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let f: Vec<&str> = line.split_whitespace().collect();
                if let ["ack", t, i, s] = f[..] {
                    acks.push((
                        t.parse::<u64>().unwrap(),
                        i.parse::<u64>().unwrap(),
                        s.parse::<u64>().unwrap(),
                    ));
                }
            }
            acks
        });
        std::thread::sleep(Duration::from_millis(20 + rng.below(180)));
        child.kill().expect("SIGKILL the child");
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed, not finished");
        let acks = reader.join().unwrap();
        if !acks.is_empty() {
            rounds_with_acks += 1;
        }
        for &(t, i, _) in &acks {
            all_acked.insert((round, t, i));
        }
        // Acknowledged seqnos are unique.
        let seqnos: BTreeSet<u64> = acks.iter().map(|a| a.2).collect();
        assert_eq!(seqnos.len(), acks.len());

        let db = Db::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("round {round}: recovery failed: {e}"));
        // Every acknowledged batch of every round so far is there, whole.
        for &(r, t, i) in &all_acked {
            for (k, v) in batch_keys(r, t, i) {
                assert_eq!(
                    db.get(k.as_bytes()).unwrap().as_deref(),
                    Some(v.as_bytes()),
                    "round {round}: acknowledged batch {r}/{t}/{i} lost key {k}"
                );
            }
        }
        // Whatever of this round is there is whole batches only, and each
        // thread's batches form a prefix that ends at its `last` key.
        let mut present: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let prefix = format!("b/{round:03}/");
        let mut upper = prefix.clone().into_bytes();
        upper.push(0xff);
        for pair in db.scan((
            Bound::Included(prefix.as_bytes()),
            Bound::Excluded(upper.as_slice()),
        )) {
            let (k, _) = pair.unwrap();
            let k = String::from_utf8(k.to_vec()).unwrap();
            let f: Vec<&str> = k.split('/').collect();
            let (t, i) = (f[2].parse().unwrap(), f[3].parse().unwrap());
            *present.entry((t, i)).or_default() += 1;
        }
        for (&(t, i), &n) in &present {
            assert_eq!(
                n as u64,
                1 + i % 7,
                "round {round}: batch {t}/{i} is partial"
            );
        }
        for t in 0..THREADS {
            let mine: Vec<u64> = present.keys().filter(|k| k.0 == t).map(|k| k.1).collect();
            assert!(
                mine.iter().enumerate().all(|(n, &i)| n as u64 == i),
                "round {round}: thread {t} has gaps"
            );
            let last = db
                .get(format!("last/{round:03}/{t}").as_bytes())
                .unwrap()
                .map(|v| {
                    String::from_utf8(v.to_vec())
                        .unwrap()
                        .parse::<u64>()
                        .unwrap()
                });
            assert_eq!(last, mine.last().copied(), "round {round}: thread {t}");
        }
        db.close().unwrap();
    }
    eprintln!(
        "{ROUNDS} kills, {rounds_with_acks} with acknowledged writes, {} batches acknowledged, {:.1} s",
        all_acked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "most kills should land while the child writes ({rounds_with_acks} of {ROUNDS})"
    );
}

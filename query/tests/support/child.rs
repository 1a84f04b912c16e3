//! The kill -9 tests' child processes: this test binary run again as one
//! of its own tests, with the environment that makes that test the child,
//! killed with SIGKILL after a while.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs the test `test` of this binary with `env` set, kills it with
/// SIGKILL after `after`, and returns the lines it completed (a line the
/// kill cut short, without its newline, is left out: it never was).
pub fn run_and_kill(test: &str, env: &[(&str, String)], after: Duration) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    std::thread::sleep(after);
    // SIGKILL: no destructor, no sync, no clean close.
    child.kill().unwrap();
    child.wait().unwrap();
    let all = reader.join().unwrap();
    let text = String::from_utf8_lossy(&all);
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete.lines().map(str::to_string).collect()
}

/// The number in environment variable `name`, or `default` when it is
/// unset or not a number.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed in environment variable `name`, or one drawn from the clock.
pub fn seed_from_env(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

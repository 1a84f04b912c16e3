//! Where and when a benchmark ran: cores, memory, kernel, CPU model, date
//! and the file system holding the data. Read from `/proc`; anything that
//! cannot be read is reported as unknown rather than guessed.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// A description of the machine, printed with every result.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Cores this process may use (`std::thread::available_parallelism`).
    pub cores: usize,
    /// `MemTotal` from `/proc/meminfo`, in bytes.
    pub memory_bytes: Option<u64>,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
    /// The first `model name` in `/proc/cpuinfo`.
    pub cpu: Option<String>,
}

impl Machine {
    /// Reads the description of the machine this process runs on.
    pub fn current() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: mem_total(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            cpu: cpu_model(),
        }
    }

    /// One line for humans: `2 cores, 23.4 GiB memory, Linux 6.18.0, <cpu>`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} cores", self.cores);
        match self.memory_bytes {
            Some(b) => s += &format!(", {:.1} GiB memory", b as f64 / (1u64 << 30) as f64),
            None => s += ", memory unknown",
        }
        match &self.kernel {
            Some(k) => s += &format!(", Linux {k}"),
            None => s += ", kernel unknown",
        }
        if let Some(cpu) = &self.cpu {
            s += &format!(", {cpu}");
        }
        s
    }
}

fn mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = cpuinfo.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// The 1-minute load average from `/proc/loadavg`: how busy the machine
/// was with other work around a measurement.
pub fn load_average() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub fn today_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The type of the file system that holds `path` (`ext4`, `tmpfs`, …), from
/// the longest matching mount point in `/proc/mounts`.
pub fn fs_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mnt, fstype) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mnt)
                .then(|| (mnt.len(), fstype.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }
}

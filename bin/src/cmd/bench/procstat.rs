//! What a process costs, read from the kernel: CPU seconds (user + system) and resident
//! memory of any process by pid (`/proc/<pid>/stat`, `/proc/<pid>/status`), of this
//! process (`getrusage`), and the machine's load average, so a figure measured on a
//! shared machine says how busy the machine was.

use std::path::Path;

use anyhow::{anyhow, Context as _};
use serde::Serialize;

/// CPU time and memory of one process at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcSample {
    /// User + system CPU seconds since the process started.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// Reads `pid`'s CPU seconds and RSS.
pub fn sample(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(ProcSample {
        cpu_seconds: cpu_seconds_from_stat(&stat)?,
        rss_bytes: status_kib(&status, "VmRSS:")? * 1024,
    })
}

/// This process's CPU seconds (all threads) and RSS.
pub fn sample_self() -> anyhow::Result<ProcSample> {
    sample(std::process::id())
}

/// `pid`'s peak resident set size so far (`VmHWM`), bytes.
pub fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(status_kib(&status, "VmHWM:")? * 1024)
}

/// utime + stime from a `/proc/<pid>/stat` line, in seconds. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its closing `)`.
fn cpu_seconds_from_stat(stat: &str) -> anyhow::Result<f64> {
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| anyhow!("no command name in /proc stat line {stat:?}"))?;
    // After the name: state is field 3, utime field 14, stime field 15.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .ok_or_else(|| anyhow!("/proc stat line has no field {n}: {stat:?}"))?
            .parse::<u64>()
            .with_context(|| format!("field {n} of /proc stat line {stat:?}"))
    };
    let ticks = field(14)? + field(15)?;
    Ok(ticks as f64 / clock_ticks_per_sec())
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf reads a constant; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The kibibytes on the `key` line of a `/proc/<pid>/status` text.
fn status_kib(status: &str, key: &str) -> anyhow::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .ok_or_else(|| anyhow!("no {key} line in /proc status"))?
        .parse::<u64>()
        .with_context(|| format!("{key} in /proc status"))
}

/// The 1, 5 and 15 minute load averages.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

impl LoadAvg {
    /// The machine's load now (zeros if `/proc/loadavg` cannot be read).
    pub fn now() -> Self {
        std::fs::read_to_string(Path::new("/proc/loadavg"))
            .ok()
            .and_then(|s| Self::parse(&s))
            .unwrap_or_default()
    }

    fn parse(s: &str) -> Option<Self> {
        let mut it = s.split_whitespace().map(|f| f.parse::<f64>().ok());
        Some(LoadAvg {
            one: it.next()??,
            five: it.next()??,
            fifteen: it.next()??,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let line = "42 (a (weird) name) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0";
        let secs = cpu_seconds_from_stat(line).unwrap();
        assert!(
            (secs - 300.0 / clock_ticks_per_sec()).abs() < 1e-9,
            "{secs}"
        );
        assert!(cpu_seconds_from_stat("42 no name").is_err());
        assert!(cpu_seconds_from_stat("42 (x) S 1").is_err());
    }

    /// This process has a resident set and has used CPU; a busy loop adds CPU time.
    #[test]
    fn this_process_is_sampled_and_its_cpu_time_grows_with_work() {
        let before = sample_self().unwrap();
        assert!(before.rss_bytes > 1 << 20, "{before:?}");
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(200) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = sample_self().unwrap();
        assert!(
            after.cpu_seconds > before.cpu_seconds,
            "{before:?} {after:?}"
        );
        assert!(peak_rss(std::process::id()).unwrap() >= after.rss_bytes / 2);
        assert!(sample(u32::MAX).is_err());
    }

    #[test]
    fn load_average_parses_its_three_figures_and_rejects_garbage() {
        assert_eq!(
            LoadAvg::parse("1.50 0.75 0.25 2/300 1234\n"),
            Some(LoadAvg {
                one: 1.5,
                five: 0.75,
                fifteen: 0.25
            })
        );
        assert_eq!(LoadAvg::parse("x y z"), None);
    }
}

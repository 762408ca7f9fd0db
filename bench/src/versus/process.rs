//! A server process's resource use, read from `/proc`: resident memory now and at its peak
//! (the peak is reset between workloads through `clear_refs`), and CPU time across all threads;
//! and the machine's CPU time stolen by the hypervisor, which says how noisy a run was.

use std::fs;

use anyhow::Context as _;

/// Kernel clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// A running process, measured through `/proc/<pid>`.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pid: u32,
}

impl Process {
    /// The process with this id.
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// Resets the peak resident set size to the current one, so the next [`Process::peak_rss`]
    /// covers only what follows.
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        fs::write(format!("/proc/{}/clear_refs", self.pid), "5")
            .with_context(|| format!("resetting the peak RSS of process {}", self.pid))
    }

    /// The peak resident set size in bytes since start or the last reset (`VmHWM`).
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        self.status_kib("VmHWM").map(|kib| kib * 1024)
    }

    /// The resident set size in bytes now (`VmRSS`).
    pub fn rss(&self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS").map(|kib| kib * 1024)
    }

    /// User plus system CPU seconds used so far, by every thread.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // The command name may hold spaces; the fields after its closing parenthesis are fixed.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("a /proc stat line has the command in parentheses")?
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
        let ticks = |index: usize| -> anyhow::Result<f64> { Ok(fields[index].parse::<f64>()?) };
        Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
    }

    fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .with_context(|| format!("/proc/{}/status has no {field}", self.pid))?;
        Ok(line.trim().trim_end_matches("kB").trim().parse()?)
    }
}

/// The machine's CPU time so far, from the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub struct MachineTime {
    /// Ticks of every kind, summed over all cores.
    pub total: u64,
    /// Ticks a virtual CPU was ready to run but the hypervisor ran something else.
    pub steal: u64,
}

impl MachineTime {
    /// Reads the counters now.
    pub fn now() -> anyhow::Result<Self> {
        let stat = fs::read_to_string("/proc/stat")?;
        let ticks: Vec<u64> = stat
            .lines()
            .find_map(|line| line.strip_prefix("cpu "))
            .context("/proc/stat has no cpu line")?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // already counted in user and nice.
        Ok(Self {
            total: ticks.iter().take(8).sum(),
            steal: ticks.get(7).copied().unwrap_or(0),
        })
    }

    /// The share of the machine's CPU time stolen between `earlier` and `self`.
    pub fn steal_since(&self, earlier: &Self) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        self.steal.saturating_sub(earlier.steal) as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = Process::new(std::process::id());
        let rss = me.rss().unwrap();
        assert!(rss > 1 << 20, "{rss}");
        me.reset_peak().unwrap();
        assert!(me.peak_rss().unwrap() >= me.rss().unwrap() / 2);
        // Spin until a clock tick of CPU shows, however busy or stolen-from the machine is.
        let spin = std::time::Instant::now();
        while me.cpu_seconds().unwrap() == 0.0 {
            assert!(spin.elapsed().as_secs() < 10, "no CPU time after 10 s");
            std::hint::black_box(spin.elapsed());
        }
    }

    #[test]
    fn reads_the_machine() {
        let before = MachineTime::now().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let after = MachineTime::now().unwrap();
        assert!(after.total >= before.total && after.steal >= before.steal);
        assert!((0.0..=1.0).contains(&after.steal_since(&before)));
    }
}

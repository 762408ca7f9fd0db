//! A server process's resource use, read from `/proc`: resident memory now and at its peak
//! (the peak is reset between workloads through `clear_refs`), and CPU time across all threads;
//! the CPU time of named threads of the bench itself (the upstream stand-in, the load
//! generator); and the machine's CPU time stolen by the hypervisor, which says how noisy a run
//! was.

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
        let (_, fields) = split_stat(&stat)?;
        Ok(cpu_ticks(&fields)? / TICKS_PER_SECOND)
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

/// Threads of this process whose names start with a prefix (the upstream stand-in's, the load
/// generator's), measured through `/proc/self/task`: their CPU time, as [`Process::cpu_seconds`]
/// counts a whole process's.
#[derive(Debug, Clone, Copy)]
pub struct Threads {
    prefix: &'static str,
}

impl Threads {
    /// The threads named `prefix…` (at most 15 bytes of a name show in `/proc`).
    pub fn named(prefix: &'static str) -> Self {
        Self { prefix }
    }

    /// User plus system CPU seconds the threads alive now have used so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let mut ticks = 0.0;
        for task in fs::read_dir("/proc/self/task")? {
            // A thread may end between the listing and the read.
            let Ok(stat) = fs::read_to_string(task?.path().join("stat")) else {
                continue;
            };
            let (name, fields) = split_stat(&stat)?;
            if name.starts_with(self.prefix) {
                ticks += cpu_ticks(&fields)?;
            }
        }
        Ok(ticks / TICKS_PER_SECOND)
    }
}

/// What a cell's CPU time is read from: a server process, or threads of this one.
#[derive(Debug, Clone, Copy)]
pub enum Meter {
    /// A server in its own process (capstan, argocd-mcp).
    Process(Process),
    /// A server running on threads of the bench itself (the upstream stand-in).
    Threads(Threads),
}

impl Meter {
    /// CPU seconds used so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        match self {
            Self::Process(process) => process.cpu_seconds(),
            Self::Threads(threads) => threads.cpu_seconds(),
        }
    }

    /// Starts a new peak of resident memory (processes only).
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        match self {
            Self::Process(process) => process.reset_peak(),
            Self::Threads(_) => Ok(()),
        }
    }

    /// The peak resident memory since [`Meter::reset_peak`] (processes only).
    pub fn peak_rss(&self) -> anyhow::Result<Option<u64>> {
        match self {
            Self::Process(process) => process.peak_rss().map(Some),
            Self::Threads(_) => Ok(None),
        }
    }
}

/// A `/proc` stat line's command name and the fields after it.
fn split_stat(stat: &str) -> anyhow::Result<(&str, Vec<&str>)> {
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let (head, rest) = stat
        .rsplit_once(')')
        .context("a /proc stat line has the command in parentheses")?;
    let name = head.split_once('(').map_or("", |(_, name)| name);
    Ok((name, rest.split_whitespace().collect()))
}

/// utime plus stime, fields 14 and 15 of a stat line (12 and 13 after the command).
fn cpu_ticks(fields: &[&str]) -> anyhow::Result<f64> {
    let field = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("a /proc stat line too short")?
            .parse::<f64>()?)
    };
    Ok(field(11)? + field(12)?)
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
    fn reads_named_threads() {
        let spinner = std::thread::Builder::new()
            .name("bench-spin".into())
            .spawn(|| {
                let threads = Threads::named("bench-spin");
                let spin = std::time::Instant::now();
                while threads.cpu_seconds().unwrap() == 0.0 {
                    assert!(spin.elapsed().as_secs() < 10, "no CPU time after 10 s");
                }
            })
            .unwrap();
        spinner.join().unwrap();
        assert_eq!(Threads::named("no-such-thread").cpu_seconds().unwrap(), 0.0);
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

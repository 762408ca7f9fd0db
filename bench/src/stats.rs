//! Latency samples: medians and percentiles.

use std::time::Duration;

/// Durations of repeated runs of one measurement.
#[derive(Default)]
pub struct Sample {
    values: Vec<Duration>,
}

impl Sample {
    /// Records one run.
    pub fn push(&mut self, value: Duration) {
        self.values.push(value);
    }

    /// The median.
    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The largest.
    pub fn max(&self) -> Duration {
        self.percentile(100.0)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.values.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank]
    }
}

/// A duration in the unit that reads best.
pub fn show(value: Duration) -> String {
    let micros = value.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.1} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

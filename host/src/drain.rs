//! Graceful drain: what a replica does between SIGTERM and its exit.
//!
//! On SIGTERM `serve` calls [`Drain::start`]: `/readyz` turns 503 at once, so a load balancer
//! (or Kubernetes' endpoints) stops sending new work. For `drain_delay` the replica keeps
//! serving as before (the balancer may take that long to notice); then it refuses what would
//! start something new: an `/mcp` request without an `Mcp-Session-Id` (a new session or a
//! 2026-07-28 call) gets 503 with `Retry-After`, which a balancer retries on another replica,
//! while requests of sessions already here (a follow-up call, the answer to a confirmation)
//! still run. Calls in flight finish, up to `drain_grace` after the signal; then open streams
//! are ended and the process exits 0.
//!
//! ```toml
//! [drain]
//! delay = "0s"     # keep serving this long after SIGTERM (readiness already off)
//! grace = "25s"    # then wait at most this long (from the signal) for calls in flight
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;

use crate::units;

/// The default longest wait for calls in flight, inside Kubernetes' default 30 s
/// `terminationGracePeriodSeconds`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(25);

/// The `[drain]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainFile {
    delay: Option<String>,
    grace: Option<String>,
}

/// Drain settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct DrainOverrides {
    /// After SIGTERM, keep serving new requests this long with readiness already off, so the
    /// load balancer notices first (e.g. 5s).
    #[arg(long, env = "CAPSTAN_DRAIN_DELAY", value_name = "DURATION")]
    pub drain_delay: Option<String>,
    /// After SIGTERM, wait at most this long for calls in flight before ending open streams
    /// and exiting (default 25s).
    #[arg(long, env = "CAPSTAN_DRAIN_GRACE", value_name = "DURATION")]
    pub drain_grace: Option<String>,
}

/// The resolved drain settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrainSettings {
    /// How long new requests are still served after the signal.
    pub delay: Duration,
    /// The longest wait, from the signal, for calls in flight.
    pub grace: Duration,
}

impl Default for DrainSettings {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            grace: DEFAULT_GRACE,
        }
    }
}

impl DrainSettings {
    /// Flags and variables win over the file; errors name the setting.
    pub fn resolve(overrides: DrainOverrides, file: Option<DrainFile>) -> anyhow::Result<Self> {
        let file = file.unwrap_or_default();
        let duration = |name: &str, text: Option<String>, default: Duration| match text {
            None => Ok(default),
            Some(text) => units::parse_duration(&text).map_err(|error| {
                anyhow::anyhow!("`drain_{name}`: {error}; write e.g. \"5s\" or \"500ms\"")
            }),
        };
        let settings = Self {
            delay: duration(
                "delay",
                overrides.drain_delay.or(file.delay),
                Duration::ZERO,
            )?,
            grace: duration("grace", overrides.drain_grace.or(file.grace), DEFAULT_GRACE)?,
        };
        if settings.delay > settings.grace {
            anyhow::bail!(
                "`drain_delay` ({}) is longer than `drain_grace` ({}); the grace counts from the signal and must cover the delay",
                humantime::format_duration(settings.delay),
                humantime::format_duration(settings.grace)
            );
        }
        Ok(settings)
    }
}

/// The drain state shared by the HTTP face, the MCP handler and `serve`.
#[derive(Debug, Default)]
pub struct Drain {
    draining: AtomicBool,
    refusing: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// A call in flight; dropping it ends the call.
#[derive(Debug)]
pub struct InFlight(Arc<Drain>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// Counts a call as in flight until the returned guard drops.
    pub fn call(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The signal came: readiness is off from now on.
    pub fn start(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether a drain has started (`/readyz` answers 503).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// The delay is over: requests that would start new work are refused from now on.
    pub fn refuse_new_work(&self) {
        self.refusing.store(true, Ordering::Release);
    }

    /// Whether requests that would start new work are refused.
    pub fn refuses_new_work(&self) -> bool {
        self.refusing.load(Ordering::Acquire)
    }

    /// Waits until no call is in flight or `limit` has passed; returns the calls still in
    /// flight (0 when all finished).
    pub async fn settled(&self, limit: Duration) -> usize {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.in_flight()
    }

    /// The whole drain after the signal: readiness off, `delay` of normal serving, then new
    /// work refused until the calls in flight finish or `grace` (from the signal) runs out.
    /// Returns the calls cut off by the grace.
    pub async fn run(&self, settings: DrainSettings) -> usize {
        self.start();
        tracing::info!(
            in_flight = self.in_flight(),
            delay_ms = settings.delay.as_millis() as u64,
            grace_ms = settings.grace.as_millis() as u64,
            "draining: readiness is off"
        );
        tokio::time::sleep(settings.delay).await;
        self.refuse_new_work();
        let left = self.settled(settings.grace - settings.delay).await;
        match left {
            0 => tracing::info!("drained: no call in flight"),
            n => tracing::warn!(
                cut_off = n,
                "the drain grace ran out with calls in flight; they are cut off"
            ),
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_and_the_grace_must_cover_the_delay() {
        let file: DrainFile = toml::from_str("delay = \"2s\"\ngrace = \"10s\"").unwrap();
        let settings = DrainSettings::resolve(
            DrainOverrides {
                drain_grace: Some("20s".into()),
                ..Default::default()
            },
            Some(file),
        )
        .unwrap();
        assert_eq!(settings.delay, Duration::from_secs(2));
        assert_eq!(settings.grace, Duration::from_secs(20));
        assert_eq!(
            DrainSettings::resolve(Default::default(), None).unwrap(),
            DrainSettings::default()
        );
        let error = DrainSettings::resolve(
            DrainOverrides {
                drain_delay: Some("30s".into()),
                ..Default::default()
            },
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("longer than `drain_grace`"), "{error}");
        let error = DrainSettings::resolve(
            DrainOverrides {
                drain_grace: Some("soon".into()),
                ..Default::default()
            },
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`drain_grace`"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_waits_for_calls_in_flight_and_no_longer_than_the_grace() {
        let drain = Arc::new(Drain::default());
        let call = drain.call();
        let finisher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(call);
        });
        let settings = DrainSettings {
            delay: Duration::from_secs(1),
            grace: Duration::from_secs(10),
        };
        let started = tokio::time::Instant::now();
        assert_eq!(drain.run(settings).await, 0);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert!(drain.is_draining() && drain.refuses_new_work());
        finisher.await.unwrap();

        let stuck = Arc::new(Drain::default());
        let _forever = stuck.call();
        let started = tokio::time::Instant::now();
        assert_eq!(stuck.run(settings).await, 1);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}

//! Polling until something is done or a deadline passes: the loop behind every "wait" a tool
//! offers (a rollout reaching Healthy, a reconcile being handled, a sync settling).

use std::time::Duration;

use crate::{Context, ToolError};

/// What one look found.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll<T> {
    /// Done: stop polling.
    Done(T),
    /// Not yet; this is what was seen, answered if the deadline passes.
    Pending(T),
}

/// How a poll ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled<T> {
    /// The last thing seen.
    pub value: T,
    /// Whether it was done (else the deadline passed).
    pub done: bool,
    /// How many looks it took.
    pub polls: u32,
    /// Time from the first look to the last.
    pub elapsed: Duration,
}

impl Context {
    /// Calls `look` (with the time since the first look) until it answers [`Poll::Done`] or
    /// `timeout` has passed, sleeping `interval` between looks (never past the deadline). An
    /// error from `look` ends the poll with that error.
    pub fn poll_until<T>(
        &self,
        timeout: Duration,
        interval: Duration,
        mut look: impl FnMut(Duration) -> Result<Poll<T>, ToolError>,
    ) -> Result<Polled<T>, ToolError> {
        let start = self.monotonic();
        let mut polls = 0;
        loop {
            let elapsed = self.monotonic().saturating_sub(start);
            polls += 1;
            let (value, done) = match look(elapsed)? {
                Poll::Done(value) => (value, true),
                Poll::Pending(value) => (value, false),
            };
            let remaining = timeout.saturating_sub(elapsed);
            if done || remaining.is_zero() {
                return Ok(Polled {
                    value,
                    done,
                    polls,
                    elapsed,
                });
            }
            self.sleep(interval.min(remaining));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::Fixture;

    #[test]
    fn polling_stops_when_done_without_sleeping_past_it() {
        let fixture = Fixture::new();
        let context = fixture.context();
        let polled = context
            .poll_until(Duration::from_secs(10), Duration::from_secs(2), |elapsed| {
                Ok(if elapsed >= Duration::from_secs(4) {
                    Poll::Done("ready")
                } else {
                    Poll::Pending("waiting")
                })
            })
            .unwrap();
        assert_eq!(
            (polled.value, polled.done, polled.polls),
            ("ready", true, 3)
        );
        assert_eq!(fixture.slept(), Duration::from_secs(4));
    }

    #[test]
    fn polling_gives_up_at_the_deadline_with_the_last_value() {
        let fixture = Fixture::new();
        let polled = fixture
            .context()
            .poll_until(Duration::from_secs(5), Duration::from_secs(2), |elapsed| {
                Ok(Poll::<u64>::Pending(elapsed.as_secs()))
            })
            .unwrap();
        assert!(!polled.done);
        assert_eq!(polled.value, 5);
        assert_eq!(fixture.slept(), Duration::from_secs(5));
    }

    #[test]
    fn an_error_ends_the_poll() {
        let context = Fixture::new().context();
        let error = context
            .poll_until(Duration::from_secs(5), Duration::from_secs(1), |_| {
                Err::<Poll<()>, _>(ToolError::new("gone"))
            })
            .unwrap_err();
        assert_eq!(error.message(), "gone");
    }
}

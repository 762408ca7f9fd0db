//! Timestamps as Kubernetes controllers write them: RFC 3339 in UTC, with whole seconds (Go's
//! `time.RFC3339`) or with nanoseconds (`time.RFC3339Nano`, trailing zeros trimmed).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch, `delay` from now.
pub fn since_epoch_after(delay: Duration) -> Duration {
    (SystemTime::now() + delay)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `since_epoch` as RFC 3339 UTC with whole seconds: `2026-08-20T11:42:31Z`.
pub fn rfc3339(since_epoch: Duration) -> String {
    format!("{}Z", date_time(since_epoch.as_secs()))
}

/// `since_epoch` as RFC 3339 UTC with nanoseconds, trailing zeros trimmed as Go does:
/// `2026-11-28T01:02:03.12Z`.
pub fn rfc3339_nano(since_epoch: Duration) -> String {
    let mut text = date_time(since_epoch.as_secs());
    let nanos = since_epoch.subsec_nanos();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// `YYYY-MM-DDTHH:MM:SS` of `seconds` since the epoch.
fn date_time(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 as (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Duration::from_secs(1_787_225_751)),
            "2026-08-20T11:35:51Z"
        );
        assert_eq!(rfc3339_nano(Duration::ZERO), "1970-01-01T00:00:00Z");
        let moment = Duration::new(1_795_824_000 + 3_723, 120_000_000);
        assert_eq!(rfc3339_nano(moment), "2026-11-28T01:02:03.12Z");
        assert_eq!(
            rfc3339_nano(Duration::new(951_782_400, 5)),
            "2000-02-29T00:00:00.000000005Z"
        );
    }
}

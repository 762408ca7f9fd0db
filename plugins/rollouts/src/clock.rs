//! RFC 3339 timestamps in UTC (`2026-08-20T11:42:31Z`), as Go's `time.RFC3339` formats
//! `time.Now().UTC()`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now plus `delay`, formatted as RFC 3339 UTC with whole seconds.
pub(crate) fn rfc3339_after(delay: Duration) -> String {
    let at = SystemTime::now() + delay;
    format(
        at.duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    )
}

/// Seconds since the Unix epoch, formatted.
pub(crate) fn format(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
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
    fn formats_like_go_rfc3339() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_787_225_751), "2026-08-20T11:35:51Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
    }
}

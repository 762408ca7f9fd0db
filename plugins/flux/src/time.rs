//! The timestamp Flux writes for a reconcile request (RFC 3339 with nanoseconds, UTC) and Go-style durations
//! (`30s`, `5m`, `1h30m`) for `since` and `timeout` arguments.

use std::time::Duration;

use capstan_sdk::{Context, time};

/// Now (the call's wall clock), as `flux reconcile` writes `reconcile.fluxcd.io/requestedAt`:
/// RFC 3339 with nanoseconds in UTC.
pub(crate) fn now_rfc3339_nano(ctx: &Context) -> String {
    time::rfc3339_nano(ctx.since_epoch())
}

/// A Go-style duration of hours, minutes and seconds (`90s`, `5m`, `1h30m`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration; write it like `30s`, `5m` or `1h30m`");
    let mut total = 0u64;
    let mut number = String::new();
    for character in text.chars() {
        if character.is_ascii_digit() {
            number.push(character);
            continue;
        }
        let unit = match character {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let value: u64 = number.parse().map_err(|_| invalid())?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }
}

//! Sizes and durations as operators write them in manifests, the config file and flags:
//! `"64MiB"`, `"256KiB"`, `"30s"`, `"500ms"`. Parsed in one place so every setting accepts the
//! same forms and explains them the same way; each caller adds its own range check and example.

use std::time::Duration;

/// A size or duration that does not parse; the message names the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not a size.
    #[error(
        "`{0}` is not a size (a number of bytes, or a number and a unit: KiB, MiB, GiB or kB, MB, GB)"
    )]
    Size(String),
    /// Not a duration.
    #[error("`{0}` is not a duration (a number and a unit: ms, s, m or h)")]
    Duration(String),
}

/// Parses a size such as `64MiB`, `32 MB` or `4096`, in bytes.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| UnitError::Size(text.to_owned()))
}

/// Parses a duration such as `30s`, `500ms` or `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    humantime::parse_duration(text).map_err(|_| UnitError::Duration(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_in_the_usual_forms_parse() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("256KiB"), Ok(256 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn errors_name_the_text_and_the_accepted_forms() {
        let size = parse_size("lots").unwrap_err().to_string();
        assert!(
            size.starts_with("`lots` is not a size") && size.contains("MiB"),
            "{size}"
        );
        let duration = parse_duration("forever").unwrap_err().to_string();
        assert!(
            duration.starts_with("`forever` is not a duration") && duration.contains("ms"),
            "{duration}"
        );
    }
}

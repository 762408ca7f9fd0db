//! Reload settings: the `[reload]` table of the config file, then `CAPSTAN_WATCH` and
//! `CAPSTAN_POLL_INTERVAL`, then `--watch`/`--no-watch` and `--poll-interval`.
//!
//! ```toml
//! [reload]
//! watch = true             # default: on when serving HTTP, off over stdio
//! poll_interval = "2s"     # poll instead of waiting for file-system events (network file systems)
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::watch::WatchMode;
use crate::units;

/// The `[reload]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadFile {
    watch: Option<bool>,
    poll_interval: Option<String>,
}

/// Reload settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ReloadOverrides {
    /// Watch the plugin folders and reload plugins when they change (default when serving
    /// HTTP); `--watch=false` turns it off.
    #[arg(
        long,
        env = "CAPSTAN_WATCH",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub watch: Option<bool>,
    /// Do not watch the plugin folders; reload only on SIGHUP.
    #[arg(long)]
    pub no_watch: bool,
    /// Look for changes at this interval instead of waiting for file-system events (for
    /// network file systems that send none), e.g. 2s.
    #[arg(long, env = "CAPSTAN_POLL_INTERVAL", value_name = "DURATION")]
    pub poll_interval: Option<String>,
}

/// The resolved reload settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadSettings {
    /// Whether to watch; `None` leaves it to the transport's default.
    pub watch: Option<bool>,
    /// Poll at this interval rather than wait for events.
    pub poll_interval: Option<Duration>,
}

impl ReloadSettings {
    /// Layers `overrides` over `file`; `--no-watch` wins over everything.
    pub fn resolve(overrides: ReloadOverrides, file: Option<ReloadFile>) -> anyhow::Result<Self> {
        let file = file.unwrap_or_default();
        let watch = if overrides.no_watch {
            Some(false)
        } else {
            overrides.watch.or(file.watch)
        };
        let poll_interval = overrides
            .poll_interval
            .or(file.poll_interval)
            .map(|text| parse_interval(&text))
            .transpose()?;
        Ok(Self {
            watch,
            poll_interval,
        })
    }

    /// How to watch, if at all, when the transport's default is `default`.
    pub fn watch_mode(&self, default: bool) -> Option<WatchMode> {
        self.watch
            .unwrap_or(default)
            .then_some(match self.poll_interval {
                Some(interval) => WatchMode::Poll(interval),
                None => WatchMode::Events,
            })
    }
}

fn parse_interval(text: &str) -> anyhow::Result<Duration> {
    let interval = units::parse_duration(text).map_err(|error| {
        anyhow::anyhow!("`poll_interval`: {error}; write e.g. \"2s\" or \"500ms\"")
    })?;
    if interval < Duration::from_millis(100) {
        anyhow::bail!(
            "`poll_interval`: {text} is too short; poll at most every 100ms (e.g. \"2s\")"
        );
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Option<ReloadFile> {
        Some(toml::from_str(text).unwrap())
    }

    #[test]
    fn flags_win_over_the_file_and_no_watch_wins_over_all() {
        let from_file = ReloadSettings::resolve(
            Default::default(),
            file("watch = false\npoll_interval = \"2s\""),
        )
        .unwrap();
        assert_eq!(from_file.watch_mode(true), None);
        let flagged = ReloadOverrides {
            watch: Some(true),
            ..Default::default()
        };
        let watching =
            ReloadSettings::resolve(flagged, file("watch = false\npoll_interval = \"2s\""))
                .unwrap();
        assert_eq!(
            watching.watch_mode(false),
            Some(WatchMode::Poll(Duration::from_secs(2)))
        );
        let off = ReloadOverrides {
            watch: Some(true),
            no_watch: true,
            ..Default::default()
        };
        assert_eq!(
            ReloadSettings::resolve(off, None).unwrap().watch_mode(true),
            None
        );
    }

    #[test]
    fn the_default_depends_on_the_transport() {
        let settings = ReloadSettings::resolve(Default::default(), None).unwrap();
        assert_eq!(settings.watch_mode(true), Some(WatchMode::Events));
        assert_eq!(settings.watch_mode(false), None);
    }

    #[test]
    fn bad_intervals_say_what_to_write() {
        for bad in ["soon", "1ms"] {
            let overrides = ReloadOverrides {
                poll_interval: Some(bad.into()),
                ..Default::default()
            };
            let error = ReloadSettings::resolve(overrides, None)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("poll_interval") && error.contains("2s"),
                "{error}"
            );
        }
    }
}

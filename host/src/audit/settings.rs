//! Audit settings: an `[audit]` table in capstan.toml, then `CAPSTAN_AUDIT_*`, then flags.
//!
//! ```toml
//! [audit]
//! file = "/var/log/capstan/calls.jsonl"   # relative to capstan.toml; without it, the log only
//! max_size = "64MiB"                      # rotate when the file would grow past this
//! keep = 5                                # rotated files kept: FILE.1 … FILE.5
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use super::AuditSettings;
use crate::units;

/// The `[audit]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    file: Option<PathBuf>,
    max_size: Option<String>,
    keep: Option<usize>,
}

/// Audit settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct AuditOverrides {
    /// JSON Lines file receiving one record per tool call (besides the log).
    #[arg(long = "audit-file", env = "CAPSTAN_AUDIT_FILE", value_name = "FILE")]
    pub audit_file: Option<PathBuf>,
    /// Size at which the audit file is rotated, e.g. 64MiB.
    #[arg(
        long = "audit-max-size",
        env = "CAPSTAN_AUDIT_MAX_SIZE",
        value_name = "SIZE"
    )]
    pub audit_max_size: Option<String>,
    /// Rotated audit files kept.
    #[arg(long = "audit-keep", env = "CAPSTAN_AUDIT_KEEP", value_name = "N")]
    pub audit_keep: Option<usize>,
}

impl AuditSettings {
    /// Flags win over the file; `relative` resolves the file's paths against its folder.
    pub fn resolve(
        overrides: AuditOverrides,
        file: Option<AuditFile>,
        relative: impl Fn(PathBuf) -> PathBuf,
    ) -> Result<Self, String> {
        let file = file.unwrap_or_default();
        let defaults = Self::default();
        let max_size = match overrides.audit_max_size.or(file.max_size) {
            Some(text) => units::parse_size(&text)
                .map_err(|error| format!("`audit.max_size`: {error}; write e.g. \"64MiB\""))?,
            None => defaults.max_size,
        };
        Ok(Self {
            file: overrides.audit_file.or(file.file.map(relative)),
            max_size,
            keep: overrides.audit_keep.or(file.keep).unwrap_or(defaults.keep),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_and_sizes_are_checked() {
        let file: AuditFile =
            toml::from_str("file = \"calls.jsonl\"\nmax_size = \"1MiB\"\nkeep = 2\n").unwrap();
        let resolved = AuditSettings::resolve(AuditOverrides::default(), Some(file), |p| {
            PathBuf::from("/etc/capstan").join(p)
        })
        .unwrap();
        assert_eq!(
            resolved,
            AuditSettings {
                file: Some("/etc/capstan/calls.jsonl".into()),
                max_size: 1 << 20,
                keep: 2,
            }
        );
        let flagged = AuditSettings::resolve(
            AuditOverrides {
                audit_max_size: Some("lots".into()),
                ..AuditOverrides::default()
            },
            None,
            |p| p,
        )
        .unwrap_err();
        assert!(flagged.contains("audit.max_size"), "{flagged}");
    }
}

//! Policy settings: `policy_file` in capstan.toml, then `CAPSTAN_POLICY_FILE`, then `--policy`.
//!
//! ```toml
//! policy_file = "policy.cedar"   # relative to capstan.toml; without it, no per-caller policy
//! ```

use std::path::PathBuf;

/// Policy settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct PolicyOverrides {
    /// Cedar policy file deciding who may list and call which tool; with one, anything it does
    /// not grant is refused.
    #[arg(long = "policy", env = "CAPSTAN_POLICY_FILE", value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// The policy file to use: the flag (or variable), else the config file's `policy_file`
/// (already made relative to the config file).
pub fn resolve(overrides: PolicyOverrides, file: Option<PathBuf>) -> Option<PathBuf> {
    overrides.policy.or(file)
}

#[cfg(test)]
mod tests {
    use crate::config::{Overrides, Settings};

    #[test]
    fn the_flag_wins_over_the_file_whose_path_is_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capstan.toml");
        std::fs::write(&file, "policy_file = \"policy.cedar\"\n").unwrap();
        let overrides = Overrides {
            config: Some(file),
            ..Default::default()
        };
        let from_file = Settings::resolve(overrides.clone()).unwrap();
        assert_eq!(from_file.policy, Some(dir.path().join("policy.cedar")));
        let mut flagged = overrides;
        flagged.policy.policy = Some("/etc/capstan/policy.cedar".into());
        let from_flag = Settings::resolve(flagged).unwrap();
        assert_eq!(from_flag.policy, Some("/etc/capstan/policy.cedar".into()));
        assert_eq!(
            Settings::resolve(Overrides::default()).unwrap().policy,
            None
        );
    }
}

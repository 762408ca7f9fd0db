//! Non-secret settings from the instance's manifest, read through the call's
//! [`Context`](crate::Context) (`ctx.config()`).
//!
//! The host exposes the manifest's `[config]` table (nested keys joined with `.`), plus the
//! instance's targets: `capstan.targets` is the comma-separated list of target names and
//! `capstan.target.<name>.url` is each target's base URL.

use crate::Context;

/// The settings of the instance a call runs in.
pub struct Config<'a> {
    context: &'a Context,
}

impl<'a> Config<'a> {
    pub(crate) fn new(context: &'a Context) -> Self {
        Self { context }
    }

    /// The value of `key`, or `None` when the manifest does not set it.
    pub fn get(&self, key: &str) -> Option<String> {
        self.context.setting(key)
    }

    /// The names of the targets this instance may call, in manifest order.
    pub fn targets(&self) -> Vec<String> {
        self.get("capstan.targets")
            .map(|names| {
                names
                    .split(',')
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The base URL of the target `name`, or a message that lists the targets that exist.
    pub fn target_url(&self, name: &str) -> Result<String, String> {
        self.get(&format!("capstan.target.{name}.url"))
            .ok_or_else(|| {
                format!(
                    "no target named `{name}`; this instance has: {}",
                    list_or_none(&self.targets())
                )
            })
    }

    /// The target to use when a call names none: `default_target` from `[config]`, else the
    /// only target, else an error that asks for a `target` argument.
    pub fn default_target(&self) -> Result<String, String> {
        if let Some(name) = self.get("default_target") {
            return Ok(name);
        }
        match self.targets().as_slice() {
            [only] => Ok(only.clone()),
            [] => {
                Err("this instance has no targets; add a [[targets]] entry to its manifest".into())
            }
            many => Err(format!(
                "this instance has several targets ({}); pass `target` to choose one",
                many.join(", ")
            )),
        }
    }

    /// The target a call addresses — `name` when given, else [`Config::default_target`] — and
    /// its base URL without a trailing `/`.
    pub fn resolve_target(&self, name: Option<&str>) -> Result<(String, String), String> {
        let name = match name {
            Some(name) => name.to_owned(),
            None => self.default_target()?,
        };
        let base = self.target_url(&name)?.trim_end_matches('/').to_owned();
        Ok((name, base))
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

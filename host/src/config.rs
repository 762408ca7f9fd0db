//! Settings of a `capstan serve`, layered: the config file, then `CAPSTAN_*` environment
//! variables, then command-line flags (each later layer wins), then built-in defaults.
//!
//! ```toml
//! # capstan.toml
//! listen = "127.0.0.1:8931"
//! metrics_listen = "0.0.0.0:9090"       # /metrics on its own address instead of `listen`
//! plugins = ["/etc/capstan/plugins"]   # relative paths are relative to this file
//! cache_dir = "/var/cache/capstan"
//! trusted_keys = ["cosign.pub"]         # oci:// components must be signed by one (cosign)
//! require_signatures = true             # refuse oci:// components to which no key applies
//! stateless = false
//! auth_token_file = "/etc/capstan/token"
//! allow_unauthenticated = false
//! allowed_hosts = ["capstan.tools.svc"]
//! allowed_origins = []
//! result_cap = "256KiB"
//! resource_poll_interval = "30s"       # how often a subscribed resource is read again
//! log_format = "text"                   # or "json"
//! resolve = ["argocd.internal=10.0.4.2"] # pin names to addresses for plugin traffic
//! policy_file = "policy.cedar"          # see `access::settings`
//! request_state_key_file = "/etc/capstan/request-state.key"  # the same on every replica
//!
//! [audit]                               # see `audit::settings`
//! file = "/var/log/capstan/calls.jsonl"
//!
//! api_keys_file = "keys.toml"           # see `identity::settings`
//!
//! [oauth]                               # see `identity::settings`
//! issuer = "https://login.example.com/realms/ops"
//! audience = "https://capstan.example.com/mcp"
//!
//! [drain]                               # see `drain`: after SIGTERM
//! delay = "5s"
//! grace = "25s"
//!
//! [tasks]                               # MCP tasks, see `mcp::tasks`
//! retention = "15m"                     # how long a finished task's result stays readable
//! replica = "capstan-0"                 # first part of task ids; the balancer routes on it
//!
//! [traces]                              # see `telemetry`: OTLP/HTTP export, off without it
//! otlp_endpoint = "http://127.0.0.1:4318"
//!
//! [reload]                              # see `reload::ReloadSettings`
//! watch = true
//! poll_interval = "2s"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::access::{self, settings::PolicyOverrides};
use crate::audit::AuditSettings;
use crate::audit::settings::{AuditFile, AuditOverrides};
use crate::caller::SubjectToken;
use crate::distribution::{self, DistributionOverrides, DistributionSettings, TrustPolicy};
use crate::drain::{DrainFile, DrainOverrides, DrainSettings};
use crate::egress::ResolveOverrides;
use crate::identity::{IdentityFile, IdentityOverrides, IdentitySettings, OAuthFile};
use crate::mcp::tasks::TaskSettings;
use crate::reload::{ReloadFile, ReloadOverrides, ReloadSettings};
use crate::telemetry::{TraceOverrides, TraceSettings, TracesFile};
use crate::units;

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8931";

/// The config file's contents; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    plugins: Option<Vec<PathBuf>>,
    cache_dir: Option<PathBuf>,
    plugin_cache: Option<PathBuf>,
    insecure_registries: Option<Vec<String>>,
    trusted_keys: Option<Vec<PathBuf>>,
    require_signatures: Option<bool>,
    stateless: Option<bool>,
    auth_token_file: Option<PathBuf>,
    allow_unauthenticated: Option<bool>,
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    result_cap: Option<String>,
    resource_poll_interval: Option<String>,
    log_format: Option<LogFormat>,
    resolve: Option<Vec<String>>,
    reload: Option<ReloadFile>,
    drain: Option<DrainFile>,
    policy_file: Option<PathBuf>,
    request_state_key_file: Option<PathBuf>,
    audit: Option<AuditFile>,
    api_keys_file: Option<PathBuf>,
    oauth: Option<OAuthFile>,
    traces: Option<TracesFile>,
    tasks: Option<TasksFile>,
}

/// The `[tasks]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksFile {
    retention: Option<String>,
    replica: Option<String>,
}

/// Task settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct TaskOverrides {
    /// How long the result of a finished MCP task stays readable (default 15m).
    #[arg(long, env = "CAPSTAN_TASK_RETENTION", value_name = "DURATION")]
    pub task_retention: Option<String>,
    /// This replica's name (e.g. the pod name): the first part of every task id, so a load
    /// balancer can send `tasks/*` to the replica that runs the task.
    #[arg(long, env = "CAPSTAN_REPLICA", value_name = "NAME")]
    pub replica: Option<String>,
}

/// How log lines are written (always to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings given on the command line or through `CAPSTAN_*` variables (clap reads both).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Config file (TOML).
    #[arg(long, env = "CAPSTAN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder of plugin manifests; repeat for several.
    #[arg(
        long = "plugins",
        env = "CAPSTAN_PLUGINS",
        value_name = "DIR",
        value_delimiter = ','
    )]
    pub plugins: Vec<PathBuf>,
    /// Address to serve MCP over HTTP on.
    #[arg(long, env = "CAPSTAN_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Serve `/metrics` on this address instead of the MCP one.
    #[arg(long, env = "CAPSTAN_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CAPSTAN_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How `oci://` components are pulled and checked.
    #[command(flatten)]
    pub distribution: DistributionOverrides,
    /// Serve only stateless (2026-07-28) requests: no legacy MCP sessions.
    #[arg(long, env = "CAPSTAN_STATELESS")]
    pub stateless: bool,
    /// File holding the bearer token MCP clients must send (or set CAPSTAN_AUTH_TOKEN).
    #[arg(long, env = "CAPSTAN_AUTH_TOKEN_FILE", value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Allow binding a non-loopback address without an inbound token.
    #[arg(long, env = "CAPSTAN_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// A `Host` header value to accept besides loopback names; repeatable.
    #[arg(
        long = "allowed-host",
        env = "CAPSTAN_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// An `Origin` to accept besides loopback origins; repeatable.
    #[arg(
        long = "allowed-origin",
        env = "CAPSTAN_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Largest tool result sent to a client, e.g. 256KiB.
    #[arg(long, env = "CAPSTAN_RESULT_CAP", value_name = "SIZE")]
    pub result_cap: Option<String>,
    /// How often a subscribed resource (resources/subscribe, or a listen stream's
    /// resourceSubscriptions) is read again to tell its subscriber when it changed, e.g. 30s.
    #[arg(long, env = "CAPSTAN_RESOURCE_POLL_INTERVAL", value_name = "DURATION")]
    pub resource_poll_interval: Option<String>,
    /// Log format.
    #[arg(long, env = "CAPSTAN_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Pin a host name to addresses for plugin traffic, like curl's --resolve but without a
    /// port: HOST=ADDR[,ADDR]; repeatable. The address policy still applies.
    #[arg(
        long = "resolve",
        env = "CAPSTAN_RESOLVE",
        value_name = "HOST=ADDR",
        value_delimiter = ';'
    )]
    pub resolve: Vec<String>,
    /// Hot reload.
    #[command(flatten)]
    pub reload: ReloadOverrides,
    /// Graceful drain after SIGTERM.
    #[command(flatten)]
    pub drain: DrainOverrides,
    /// Per-caller policy.
    #[command(flatten)]
    pub policy: PolicyOverrides,
    /// File with the key (32 bytes or more of random data) that seals confirmation state in
    /// `input_required` results; give every replica behind one balancer the same file. Without
    /// it, a random key per process.
    #[arg(long, env = "CAPSTAN_REQUEST_STATE_KEY_FILE", value_name = "FILE")]
    pub request_state_key_file: Option<PathBuf>,
    /// The audit trail of tool calls.
    #[command(flatten)]
    pub audit: AuditOverrides,
    /// Inbound identity: OAuth tokens and API keys.
    #[command(flatten)]
    pub identity: IdentityOverrides,
    /// Traces exported over OTLP.
    #[command(flatten)]
    pub traces: TraceOverrides,
    /// MCP tasks.
    #[command(flatten)]
    pub tasks: TaskOverrides,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where `/metrics` is served when not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Manifest folders.
    pub plugins: Vec<PathBuf>,
    /// Compile cache folder.
    pub cache_dir: PathBuf,
    /// Pulling `oci://` components: the blob cache and plain-HTTP registries.
    pub distribution: DistributionSettings,
    /// Stateless mode.
    pub stateless: bool,
    /// Inbound bearer token.
    pub auth_token: Option<SubjectToken>,
    /// Serve a non-loopback address without a token.
    pub allow_unauthenticated: bool,
    /// Extra accepted `Host` values.
    pub allowed_hosts: Vec<String>,
    /// Extra accepted `Origin` values.
    pub allowed_origins: Vec<String>,
    /// Tool result cap in bytes.
    pub result_cap: usize,
    /// How often subscribed resources are read again.
    pub resource_poll_interval: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Name → address pins for plugin traffic.
    pub resolve: ResolveOverrides,
    /// Watching the plugin folders.
    pub reload: ReloadSettings,
    /// What happens between SIGTERM and the exit.
    pub drain: DrainSettings,
    /// The Cedar policy file, if any.
    pub policy: Option<PathBuf>,
    /// The file holding the request-state sealing key, if any.
    pub request_state_key_file: Option<PathBuf>,
    /// Where call records go.
    pub audit: AuditSettings,
    /// OAuth tokens and API keys.
    pub identity: IdentitySettings,
    /// Where traces go, if anywhere.
    pub traces: TraceSettings,
    /// MCP tasks: retention and this replica's name.
    pub tasks: TaskSettings,
}

impl Settings {
    /// Resolves the layers; errors name the setting and what to write.
    pub fn resolve(overrides: Overrides) -> anyhow::Result<Self> {
        let (file, base) = match &overrides.config {
            Some(path) => (
                read_file(path)?,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => (FileConfig::default(), PathBuf::new()),
        };
        let relative = |path: PathBuf| {
            if path.is_absolute() {
                path
            } else {
                base.join(path)
            }
        };
        let plugins = if overrides.plugins.is_empty() {
            file.plugins
                .unwrap_or_else(|| vec![PathBuf::from("plugins")])
                .into_iter()
                .map(relative)
                .collect()
        } else {
            overrides.plugins
        };
        let auth_token = auth_token(
            overrides
                .auth_token_file
                .or(file.auth_token_file.map(relative)),
        )?;
        let result_cap = overrides
            .result_cap
            .or(file.result_cap)
            .unwrap_or_else(|| "256KiB".into());
        let settings = Self {
            listen: overrides
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            metrics_listen: overrides.metrics_listen.or(file.metrics_listen),
            plugins,
            cache_dir: overrides
                .cache_dir
                .or(file.cache_dir)
                .unwrap_or_else(default_cache_dir),
            distribution: DistributionSettings {
                cache_dir: overrides
                    .distribution
                    .plugin_cache
                    .or(file.plugin_cache.map(relative))
                    .unwrap_or_else(distribution::default_cache_dir),
                insecure_registries: if overrides.distribution.insecure_registries.is_empty() {
                    file.insecure_registries.unwrap_or_default()
                } else {
                    overrides.distribution.insecure_registries
                },
                trust: TrustPolicy {
                    trusted_keys: if overrides.distribution.trusted_keys.is_empty() {
                        file.trusted_keys
                            .unwrap_or_default()
                            .into_iter()
                            .map(relative)
                            .collect()
                    } else {
                        overrides.distribution.trusted_keys
                    },
                    require_signatures: overrides.distribution.require_signatures
                        || file.require_signatures.unwrap_or(false),
                },
            },
            stateless: overrides.stateless || file.stateless.unwrap_or(false),
            auth_token,
            allow_unauthenticated: overrides.allow_unauthenticated
                || file.allow_unauthenticated.unwrap_or(false),
            allowed_hosts: if overrides.allowed_hosts.is_empty() {
                file.allowed_hosts.unwrap_or_default()
            } else {
                overrides.allowed_hosts
            },
            allowed_origins: if overrides.allowed_origins.is_empty() {
                file.allowed_origins.unwrap_or_default()
            } else {
                overrides.allowed_origins
            },
            result_cap: parse_size("result_cap", &result_cap)?,
            resource_poll_interval: resource_poll_interval(
                overrides
                    .resource_poll_interval
                    .or(file.resource_poll_interval),
            )?,
            log_format: overrides.log_format.or(file.log_format).unwrap_or_default(),
            resolve: resolve_overrides(overrides.resolve, file.resolve)?,
            reload: ReloadSettings::resolve(overrides.reload, file.reload)?,
            drain: DrainSettings::resolve(overrides.drain, file.drain)?,
            policy: access::settings::resolve(overrides.policy, file.policy_file.map(relative)),
            request_state_key_file: overrides
                .request_state_key_file
                .or(file.request_state_key_file.map(relative)),
            audit: AuditSettings::resolve(overrides.audit, file.audit, relative)
                .map_err(anyhow::Error::msg)?,
            identity: IdentitySettings::resolve(
                overrides.identity,
                IdentityFile {
                    api_keys_file: file.api_keys_file,
                    oauth: file.oauth,
                },
                &base,
            )?,
            traces: TraceSettings::resolve(overrides.traces, file.traces)?,
            tasks: task_settings(overrides.tasks, file.tasks)?,
        };
        settings.check_exposure()?;
        Ok(settings)
    }

    /// Whether inbound requests must authenticate (a shared token, API keys or OAuth).
    pub fn authenticates(&self) -> bool {
        self.auth_token.is_some() || self.identity.authenticates()
    }

    /// Binding beyond loopback needs authentication or an explicit opt-out.
    fn check_exposure(&self) -> anyhow::Result<()> {
        if self.listen.ip().is_loopback() || self.authenticates() || self.allow_unauthenticated {
            return Ok(());
        }
        bail!(
            "refusing to serve {} without authentication: anyone who can reach it could run your GitOps tools. Set a token with --auth-token-file (or CAPSTAN_AUTH_TOKEN), accept OAuth tokens with --oauth-issuer and --oauth-audience, named keys with --api-keys-file, or pass --allow-unauthenticated if something in front of capstan authenticates clients",
            self.listen
        )
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text)
        .map_err(|error| anyhow::anyhow!("{}: {}", path.display(), error.to_string().trim_end()))
}

fn auth_token(file: Option<PathBuf>) -> anyhow::Result<Option<SubjectToken>> {
    let token = match file {
        Some(path) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the auth token file {}", path.display()))?,
        None => match std::env::var("CAPSTAN_AUTH_TOKEN") {
            Ok(token) => token,
            Err(_) => return Ok(None),
        },
    };
    let token = token.trim();
    if token.len() < 16 {
        bail!(
            "the inbound auth token is too short; use at least 16 random characters (e.g. `openssl rand -hex 32`)"
        );
    }
    Ok(Some(SubjectToken::new(token)))
}

fn resolve_overrides(
    flags: Vec<String>,
    file: Option<Vec<String>>,
) -> anyhow::Result<ResolveOverrides> {
    let entries = if flags.is_empty() {
        file.unwrap_or_default()
    } else {
        flags
    };
    ResolveOverrides::parse(entries.iter().map(String::as_str))
        .map_err(|error| anyhow::anyhow!("`resolve`: {error}"))
}

/// The resource poll interval: [`crate::mcp::watch::DEFAULT_POLL_INTERVAL`] unless set, never
/// below [`crate::mcp::watch::MIN_POLL_INTERVAL`] (a resource read without pause).
fn resource_poll_interval(text: Option<String>) -> anyhow::Result<Duration> {
    let Some(text) = text else {
        return Ok(crate::mcp::watch::DEFAULT_POLL_INTERVAL);
    };
    let interval = units::parse_duration(&text).map_err(|error| {
        anyhow::anyhow!("resource_poll_interval: {error}; write a duration such as \"30s\"")
    })?;
    if interval < crate::mcp::watch::MIN_POLL_INTERVAL {
        bail!(
            "resource_poll_interval = \"{text}\" is too short; write at least {}",
            humantime::format_duration(crate::mcp::watch::MIN_POLL_INTERVAL)
        );
    }
    Ok(interval)
}

/// Parses a size such as `256KiB` for setting `name`.
pub fn parse_size(name: &str, text: &str) -> anyhow::Result<usize> {
    let size = units::parse_size(text)
        .map_err(|error| anyhow::anyhow!("`{name}`: {error}; write e.g. \"256KiB\""))?;
    Ok(size as usize)
}

/// `$XDG_CACHE_HOME/capstan`, else `$HOME/.cache/capstan`, else `.capstan-cache`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("capstan");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("capstan");
    }
    PathBuf::from(".capstan-cache")
}

/// The `[tasks]` settings: flags and variables win over the file.
fn task_settings(
    overrides: TaskOverrides,
    file: Option<TasksFile>,
) -> anyhow::Result<TaskSettings> {
    let file = file.unwrap_or_default();
    let defaults = TaskSettings::default();
    let retention = match overrides.task_retention.or(file.retention) {
        None => defaults.retention,
        Some(text) => units::parse_duration(&text)
            .ok()
            .filter(|d| *d >= std::time::Duration::from_secs(1))
            .with_context(|| {
                format!("tasks.retention / --task-retention: `{text}` is not a duration of 1s or more; write e.g. \"15m\"")
            })?,
    };
    let replica = overrides.replica.or(file.replica);
    if let Some(name) = &replica {
        let valid = (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            bail!(
                "tasks.replica / --replica / CAPSTAN_REPLICA: `{name}` must be 1 to 63 letters, digits, `-` or `_` (it starts every task id, before a dot)"
            );
        }
    }
    Ok(TaskSettings {
        retention,
        replica,
        ..defaults
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_file_paths_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capstan.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nplugins = [\"p\"]\nresult_cap = \"1KiB\"\n",
        )
        .unwrap();
        let from_file = Settings::resolve(Overrides {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(from_file.listen.port(), 9000);
        assert_eq!(from_file.plugins, vec![dir.path().join("p")]);
        assert_eq!(from_file.result_cap, 1024);
        let flagged = Settings::resolve(Overrides {
            config: Some(file),
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(flagged.listen.port(), 9001);
    }

    #[test]
    fn the_inbound_token_never_shows_in_a_debug_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "inbound-token-4b1d9e2f7a\n").unwrap();
        let settings = Settings::resolve(Overrides {
            auth_token_file: Some(file),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(
            settings.auth_token.as_ref().map(|t| t.expose()),
            Some("inbound-token-4b1d9e2f7a")
        );
        let printed = format!("{settings:?}");
        assert!(!printed.contains("inbound-token-4b1d9e2f7a"), "{printed}");
    }

    #[test]
    fn exposed_listen_requires_a_token_or_explicit_opt_out() {
        let exposed = Overrides {
            listen: Some("0.0.0.0:8931".parse().unwrap()),
            ..Default::default()
        };
        let error = Settings::resolve(exposed.clone()).unwrap_err().to_string();
        assert!(error.contains("--auth-token-file"), "{error}");
        assert!(
            Settings::resolve(Overrides {
                allow_unauthenticated: true,
                ..exposed
            })
            .is_ok()
        );
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capstan.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let error = Settings::resolve(Overrides {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("lisen"), "{error}");
    }

    #[test]
    fn resolve_pins_come_from_flags_or_the_file_and_bad_ones_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capstan.toml");
        std::fs::write(&file, "resolve = [\"argocd.internal=10.0.4.2\"]\n").unwrap();
        let from_file = Settings::resolve(Overrides {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            from_file.resolve,
            ResolveOverrides::parse(["argocd.internal=10.0.4.2"]).unwrap()
        );
        let error = Settings::resolve(Overrides {
            config: Some(file),
            resolve: vec!["argocd.internal:10.0.4.2".into()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("`resolve`") && error.contains("HOST=ADDR"),
            "{error}"
        );
    }
}

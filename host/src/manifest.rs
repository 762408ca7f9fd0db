//! Plugin manifests: one TOML file per running plugin instance.
//!
//! ```toml
//! component = "argocd.wasm"      # path relative to this file, or an oci:// reference (below)
//! sha256    = "…"                # optional: the local file must hash to this
//! prefix    = "argocd"           # tool names become argocd_<tool>; "" keeps the plugin's names
//! read_only = true               # tools not annotated read-only are neither listed nor run
//!
//! [config]                       # non-secret settings, visible to the plugin via wasi:config
//! default_target = "prod"
//!
//! [[targets]]                    # the only endpoints the plugin may call
//! name = "prod"
//! url  = "https://argocd.example.com/argocd"
//! auth = { bearer_env = "ARGOCD_TOKEN" }
//!
//! [limits]
//! memory = "64MiB"
//! timeout = "30s"
//! max_concurrency = 32
//! max_queue = 64
//! max_outbound = 16             # outgoing HTTP requests in flight at once
//! memory_total = "256MiB"       # linear memory of all the instance's calls together
//! request_buffer = "32MiB"      # request bodies and headers held by the host at once
//! max_requests_per_call = 1024  # outgoing requests one call may start
//! task_timeout = "30m"          # how long a call run as an MCP task may take
//! max_tasks = 64                # tasks running at once (they do not count in max_concurrency)
//! max_tasks_per_caller = 8      # tasks one caller runs at once
//! ```
//!
//! A component from an OCI registry is named by digest:
//! `component = "oci://registry.example.com/plugins/argocd:1.2.0@sha256:…"` (what
//! `capstan plugin push` prints). Without the digest the manifest must say
//! `allow_floating_tag = true`, and then runs whatever the tag points at when it loads.
//! Registry credentials never appear in a manifest (see [`crate::distribution`]).
//! A `[signature]` table names the public keys one of which must have signed it (see
//! [`signature`]).
//!
//! Targets (URL grammar, credentials, TLS, per-target limits) are described in [`targets`].
//!
//! Parsing is strict: unknown fields are errors, and every error names the file, the field and
//! what to write instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::distribution::OciReference;
use crate::egress::Target;
use crate::units;

#[cfg(test)]
mod properties;
mod signature;
mod targets;

/// The largest `max_concurrency` a manifest may ask for.
pub const MAX_CONCURRENCY: u32 = 256;

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it was read from.
    pub path: PathBuf,
    /// The instance's name: the file name without `.toml`.
    pub name: String,
    /// Where the component comes from.
    pub component: ComponentSource,
    /// Prefix of the instance's tool and prompt names (may be empty).
    pub prefix: String,
    /// Whether only read-only tools are listed and run.
    pub read_only: bool,
    /// The `[config]` table, flattened to `key.sub = value` strings.
    pub config: BTreeMap<String, String>,
    /// The endpoints the plugin may call.
    pub targets: Vec<Target>,
    /// Files the targets read at load (kubeconfigs, CA bundles, client certificates) and the
    /// signature keys: part of the instance's fingerprint and the reload watch set, so a change
    /// reloads the instance.
    pub files: Vec<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
    /// The public keys (`[signature]`) one of which must have signed an `oci://` component;
    /// empty when the manifest names none (the server's trusted keys then apply).
    pub signature_keys: Vec<PathBuf>,
}

/// Where a manifest's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// A local file, resolved against the manifest's folder.
    File {
        /// The file.
        path: PathBuf,
        /// The `sha256:…` digest it must have, if the manifest pins one.
        sha256: Option<String>,
    },
    /// An artifact in an OCI registry.
    Oci(OciReference),
}

impl ComponentSource {
    /// The local file, if the component is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File { path, .. } => Some(path),
            Self::Oci(_) => None,
        }
    }
}

impl std::fmt::Display for ComponentSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, .. } => write!(f, "{}", path.display()),
            Self::Oci(reference) => write!(f, "{reference}"),
        }
    }
}

/// Per-instance resource limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Cap on linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock limit of one call.
    pub timeout: Duration,
    /// Calls running at once; more wait in the queue.
    pub max_concurrency: u32,
    /// Calls waiting for a slot; more are refused with a "busy" error.
    pub max_queue: u32,
    /// Outgoing HTTP requests in flight at once, across all calls; more wait.
    pub max_outbound: u32,
    /// Cap on the linear memory of all the instance's calls together, in bytes.
    pub memory_total_bytes: usize,
    /// Outgoing request bodies and headers the host holds for the instance at once, in bytes.
    pub request_buffer_bytes: usize,
    /// Outgoing requests one call may start.
    pub max_requests_per_call: u32,
    /// Wall-clock limit of a call run as an MCP task.
    pub task_timeout: Duration,
    /// Tasks running at once.
    pub max_tasks: u32,
    /// Tasks one caller runs at once.
    pub max_tasks_per_caller: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(30),
            max_concurrency: 32,
            max_queue: 64,
            max_outbound: 16,
            memory_total_bytes: 4 * (64 << 20),
            request_buffer_bytes: 32 << 20,
            max_requests_per_call: 1024,
            task_timeout: Duration::from_secs(30 * 60),
            max_tasks: 64,
            max_tasks_per_caller: 8,
        }
    }
}

/// A manifest problem: the file, the field (when one is at fault) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}{message}", path.display(), field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
pub struct ManifestError {
    /// The manifest file.
    pub path: PathBuf,
    /// The field at fault.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ManifestError {
    /// The message without the file name, for reports that show the file separately.
    pub fn message_without_path(&self) -> String {
        match &self.field {
            Some(field) => format!("`{field}`: {}", self.message),
            None => self.message.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    component: String,
    sha256: Option<String>,
    #[serde(default)]
    allow_floating_tag: bool,
    prefix: Option<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    config: toml::Table,
    #[serde(default)]
    targets: Vec<targets::RawTarget>,
    #[serde(default)]
    limits: RawLimits,
    signature: Option<signature::RawSignature>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
    timeout: Option<String>,
    max_concurrency: Option<u32>,
    max_queue: Option<u32>,
    max_outbound: Option<u32>,
    memory_total: Option<String>,
    request_buffer: Option<String>,
    max_requests_per_call: Option<u32>,
    task_timeout: Option<String>,
    max_tasks: Option<u32>,
    max_tasks_per_caller: Option<u32>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`; `max_memory` is the engine's ceiling.
    pub fn load(path: &Path, max_memory: u64) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| problem(path, None, format!("cannot be read: {error}")))?;
        Self::parse(path, &text, max_memory)
    }

    /// Validates manifest text as if read from `path`.
    pub fn parse(path: &Path, text: &str, max_memory: u64) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|error| {
            problem(
                path,
                None,
                format!("is not a valid manifest: {}", error.to_string().trim_end()),
            )
        })?;
        let name = instance_name(path)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let oci = OciReference::is_oci(&raw.component);
        let signature_keys = signature::keys(path, folder, raw.signature.as_ref(), oci)?;
        let mut files = targets::files_read_at_load(folder, &raw.targets);
        files.extend(signature_keys.iter().cloned());
        Ok(Self {
            signature_keys,
            component: component_source(path, folder, &raw)?,
            prefix: prefix(path, raw.prefix, &name)?,
            read_only: raw.read_only,
            config: flatten_config(&raw.config),
            files,
            targets: targets::targets(path, folder, raw.targets, raw.read_only)?,
            limits: limits(path, raw.limits, max_memory)?,
            path: path.to_path_buf(),
            name,
        })
    }

    /// The exposed name of a plugin tool or prompt: `<prefix>_<name>`, or `<name>`.
    pub fn exposed_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}_{name}", self.prefix)
        }
    }
}

fn problem(path: &Path, field: Option<&str>, message: impl Into<String>) -> ManifestError {
    ManifestError {
        path: path.to_path_buf(),
        field: field.map(str::to_owned),
        message: message.into(),
    }
}

fn instance_name(path: &Path) -> Result<String, ManifestError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem.is_empty()
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(problem(
            path,
            None,
            "rename the file: instance names (the file name without .toml) use only letters, digits, `-` and `_`",
        ));
    }
    Ok(stem.to_owned())
}

fn component_source(
    path: &Path,
    folder: &Path,
    raw: &RawManifest,
) -> Result<ComponentSource, ManifestError> {
    if !OciReference::is_oci(&raw.component) {
        if raw.allow_floating_tag {
            return Err(problem(
                path,
                Some("allow_floating_tag"),
                "applies to oci:// components only; remove it",
            ));
        }
        return Ok(ComponentSource::File {
            path: component_path(path, folder, Path::new(&raw.component))?,
            sha256: raw
                .sha256
                .as_deref()
                .map(|d| pinned_sha256(path, d))
                .transpose()?,
        });
    }
    if raw.sha256.is_some() {
        return Err(problem(
            path,
            Some("sha256"),
            "an oci:// component is pinned by the digest in its reference (`…@sha256:…`); remove `sha256`",
        ));
    }
    OciReference::parse(&raw.component, raw.allow_floating_tag)
        .map(ComponentSource::Oci)
        .map_err(|error| problem(path, Some("component"), error.to_string()))
}

/// A `sha256` pin: `sha256:` and 64 lowercase hex digits (the prefix may be left out).
fn pinned_sha256(path: &Path, digest: &str) -> Result<String, ManifestError> {
    let digest = match digest.starts_with("sha256:") {
        true => digest.to_owned(),
        false => format!("sha256:{digest}"),
    };
    crate::distribution::check_digest(&digest).map_err(|_| {
        problem(
            path,
            Some("sha256"),
            "write the component's sha256 as 64 lowercase hex digits (`sha256sum plugin.wasm`)",
        )
    })?;
    Ok(digest)
}

fn component_path(path: &Path, folder: &Path, component: &Path) -> Result<PathBuf, ManifestError> {
    if component.extension().and_then(|e| e.to_str()) != Some("wasm") {
        return Err(problem(
            path,
            Some("component"),
            "must name a WebAssembly component file ending in .wasm",
        ));
    }
    let resolved = folder.join(component);
    if !resolved.is_file() {
        return Err(problem(
            path,
            Some("component"),
            format!(
                "{} does not exist; build the plugin or fix the path (it is relative to the manifest's folder)",
                resolved.display()
            ),
        ));
    }
    Ok(resolved)
}

fn prefix(path: &Path, prefix: Option<String>, name: &str) -> Result<String, ManifestError> {
    let prefix = prefix.unwrap_or_else(|| name.replace('-', "_").to_ascii_lowercase());
    let valid = prefix.len() <= 32
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !prefix.ends_with('_')
        && !prefix.starts_with('_');
    if !valid {
        return Err(problem(
            path,
            Some("prefix"),
            format!(
                "`{prefix}` is not a valid prefix; use up to 32 of a-z, 0-9 and _ (not at either end), or \"\" for none"
            ),
        ));
    }
    Ok(prefix)
}

fn flatten_config(table: &toml::Table) -> BTreeMap<String, String> {
    let mut flat = BTreeMap::new();
    flatten_into(&mut flat, "", table);
    flat
}

fn flatten_into(flat: &mut BTreeMap<String, String>, prefix: &str, table: &toml::Table) {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten_into(flat, &key, inner),
            toml::Value::String(text) => {
                flat.insert(key, text.clone());
            }
            other => {
                flat.insert(key, other.to_string());
            }
        }
    }
}

fn limits(path: &Path, raw: RawLimits, max_memory: u64) -> Result<Limits, ManifestError> {
    let defaults = Limits::default();
    let (task_timeout, max_tasks, max_tasks_per_caller) = task_limits(path, &raw, &defaults)?;
    let memory_bytes = match raw.memory {
        None => defaults.memory_bytes,
        Some(text) => {
            let size = units::parse_size(&text).map_err(|error| {
                problem(
                    path,
                    Some("limits.memory"),
                    format!("{error}; write e.g. \"64MiB\""),
                )
            })?;
            if size < 1 << 20 || size > max_memory {
                return Err(problem(
                    path,
                    Some("limits.memory"),
                    format!(
                        "must be between 1MiB and {} (the engine's ceiling)",
                        bytesize::ByteSize::b(max_memory).display().iec()
                    ),
                ));
            }
            size as usize
        }
    };
    let timeout = match raw.timeout {
        None => defaults.timeout,
        Some(text) => {
            let timeout = units::parse_duration(&text).map_err(|error| {
                problem(
                    path,
                    Some("limits.timeout"),
                    format!("{error}; write e.g. \"30s\" or \"500ms\""),
                )
            })?;
            if timeout < Duration::from_millis(10) || timeout > Duration::from_secs(3600) {
                return Err(problem(
                    path,
                    Some("limits.timeout"),
                    "must be between 10ms and 1h",
                ));
            }
            timeout
        }
    };
    let max_concurrency = raw.max_concurrency.unwrap_or(defaults.max_concurrency);
    if max_concurrency == 0 || max_concurrency > MAX_CONCURRENCY {
        return Err(problem(
            path,
            Some("limits.max_concurrency"),
            format!("must be between 1 and {MAX_CONCURRENCY}"),
        ));
    }
    let max_queue = raw.max_queue.unwrap_or(defaults.max_queue);
    if max_queue > 10_000 {
        return Err(problem(
            path,
            Some("limits.max_queue"),
            "must be at most 10000",
        ));
    }
    let max_outbound = raw.max_outbound.unwrap_or(defaults.max_outbound);
    if max_outbound == 0 || max_outbound > 1024 {
        return Err(problem(
            path,
            Some("limits.max_outbound"),
            "must be between 1 and 1024",
        ));
    }
    let memory_total_bytes = match raw.memory_total {
        // Four calls at the per-call cap, whatever max_concurrency says.
        None => memory_bytes.saturating_mul(4),
        Some(text) => size_at_least(path, "limits.memory_total", &text, memory_bytes as u64)?,
    };
    let request_buffer_bytes = match raw.request_buffer {
        None => defaults.request_buffer_bytes,
        Some(text) => size_at_least(path, "limits.request_buffer", &text, 64 << 10)?,
    };
    let max_requests_per_call = raw
        .max_requests_per_call
        .unwrap_or(defaults.max_requests_per_call);
    if max_requests_per_call == 0 || max_requests_per_call > 100_000 {
        return Err(problem(
            path,
            Some("limits.max_requests_per_call"),
            "must be between 1 and 100000",
        ));
    }
    Ok(Limits {
        memory_bytes,
        timeout,
        max_concurrency,
        max_queue,
        max_outbound,
        memory_total_bytes,
        request_buffer_bytes,
        max_requests_per_call,
        task_timeout,
        max_tasks,
        max_tasks_per_caller,
    })
}

/// The limits of calls run as MCP tasks: their time limit and how many run at once.
fn task_limits(
    path: &Path,
    raw: &RawLimits,
    defaults: &Limits,
) -> Result<(Duration, u32, u32), ManifestError> {
    let task_timeout = match &raw.task_timeout {
        None => defaults.task_timeout,
        Some(text) => {
            let timeout = units::parse_duration(text).map_err(|error| {
                problem(
                    path,
                    Some("limits.task_timeout"),
                    format!("{error}; write e.g. \"30m\" or \"2h\""),
                )
            })?;
            if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(24 * 3600) {
                return Err(problem(
                    path,
                    Some("limits.task_timeout"),
                    "must be between 1s and 24h",
                ));
            }
            timeout
        }
    };
    let max_tasks = raw.max_tasks.unwrap_or(defaults.max_tasks);
    if max_tasks == 0 || max_tasks > 10_000 {
        return Err(problem(
            path,
            Some("limits.max_tasks"),
            "must be between 1 and 10000",
        ));
    }
    let per_caller = raw
        .max_tasks_per_caller
        .unwrap_or(defaults.max_tasks_per_caller.min(max_tasks));
    if per_caller == 0 || per_caller > max_tasks {
        return Err(problem(
            path,
            Some("limits.max_tasks_per_caller"),
            format!("must be between 1 and limits.max_tasks ({max_tasks})"),
        ));
    }
    Ok((task_timeout, max_tasks, per_caller))
}

/// The size `text` in bytes, refused below `least` or above 64 GiB.
fn size_at_least(path: &Path, field: &str, text: &str, least: u64) -> Result<usize, ManifestError> {
    let size = units::parse_size(text)
        .map_err(|error| problem(path, Some(field), format!("{error}; write e.g. \"256MiB\"")))?;
    if size < least || size > 64 << 30 {
        return Err(problem(
            path,
            Some(field),
            format!(
                "must be between {} and 64GiB",
                bytesize::ByteSize::b(least).display().iec()
            ),
        ));
    }
    Ok(size as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.wasm"), b"\0asm").unwrap();
        Manifest::parse(&dir.path().join("demo-one.toml"), text, 256 << 20)
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn an_oci_component_needs_a_digest_or_an_explicit_floating_tag() {
        let pinned = format!("component = \"oci://127.0.0.1:5000/p/echo:v1@{DIGEST}\"");
        let manifest = parse(&pinned).unwrap();
        assert!(
            matches!(&manifest.component, ComponentSource::Oci(r) if r.digest() == Some(DIGEST))
        );
        let floating = "component = \"oci://127.0.0.1:5000/p/echo:v1\"";
        let error = parse(floating).unwrap_err().to_string();
        assert!(
            error.contains("`component`") && error.contains("allow_floating_tag"),
            "{error}"
        );
        assert!(parse(&format!("{floating}\nallow_floating_tag = true")).is_ok());
        let error = parse(&format!("{pinned}\nsha256 = \"{DIGEST}\"")).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("sha256"));
    }

    #[test]
    fn registry_credentials_in_a_manifest_are_refused() {
        let text = format!("component = \"oci://ci:s3cret@registry.test/p/echo@{DIGEST}\"");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("CAPSTAN_REGISTRY_USERNAME"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn a_local_component_may_be_pinned_by_sha256() {
        let manifest = parse(&format!(
            "component = \"p.wasm\"\nsha256 = \"{}\"",
            &DIGEST[7..]
        ))
        .unwrap();
        assert!(
            matches!(&manifest.component, ComponentSource::File { sha256: Some(d), .. } if d == DIGEST)
        );
        let error = parse("component = \"p.wasm\"\nsha256 = \"abc\"").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("sha256"));
    }

    #[test]
    fn minimal_manifest_takes_defaults_from_the_file_name() {
        let manifest = parse("component = \"p.wasm\"").unwrap();
        assert_eq!(manifest.name, "demo-one");
        assert_eq!(manifest.prefix, "demo_one");
        assert!(!manifest.read_only);
        assert_eq!(manifest.limits, Limits::default());
        assert!(manifest.targets.is_empty());
    }

    #[test]
    fn full_manifest_parses() {
        let manifest = parse(
            r#"
            component = "p.wasm"
            prefix = ""
            read_only = true
            [config]
            default_target = "prod"
            nested = { depth = 2 }
            [[targets]]
            name = "prod"
            url = "https://argocd.example.com/argocd"
            auth = { bearer_env = "TOKEN" }
            [limits]
            memory = "32MiB"
            timeout = "5s"
            max_concurrency = 4
            "#,
        )
        .unwrap();
        assert_eq!(manifest.prefix, "");
        assert_eq!(manifest.config["nested.depth"], "2");
        assert_eq!(
            manifest.targets[0].credentials(),
            &crate::egress::Credentials::Bearer(crate::egress::Secret::Env("TOKEN".into()))
        );
        assert_eq!(manifest.limits.memory_bytes, 32 << 20);
        assert_eq!(manifest.exposed_name("x"), "x");
    }

    #[test]
    fn errors_name_the_field_and_the_fix() {
        let cases = [
            ("component = \"p.wasm\"\nprefx = \"a\"", "prefx"),
            ("component = \"missing.wasm\"", "does not exist"),
            (
                "component = \"p.wasm\"\nprefix = \"Bad-Prefix\"",
                "`prefix`",
            ),
            (
                "component = \"p.wasm\"\n[limits]\nmemory = \"lots\"",
                "limits.memory",
            ),
            (
                "component = \"p.wasm\"\n[limits]\nmemory = \"1GiB\"",
                "limits.memory",
            ),
            (
                "component = \"p.wasm\"\n[limits]\ntimeout = \"forever\"",
                "limits.timeout",
            ),
            (
                "component = \"p.wasm\"\n[[targets]]\nname = \"a\"\nurl = \"argocd\"",
                "targets[0].url",
            ),
            (
                "component = \"p.wasm\"\n[[targets]]\nname = \"a\"\nurl = \"http://a\"\nauth = { bearer_env = \"A\", bearer_file = \"b\" }",
                "targets[0].auth",
            ),
            (
                "component = \"p.wasm\"\n[[targets]]\nname = \"a\"\nurl = \"http://a\"\n[[targets]]\nname = \"a\"\nurl = \"http://b\"",
                "targets[1].name",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error}");
            assert!(error.contains("demo-one.toml"), "{error}");
        }
    }
}

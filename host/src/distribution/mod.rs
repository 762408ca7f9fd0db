//! Plugin components from OCI registries: `oci://` references (`reference`), pulling them by
//! digest (`pull`), the content-addressed blob cache that makes a digest already held need no
//! registry (`cache`), the CNCF Wasm artifact layout `wkg` publishes (`layout`), publishing a
//! component in it (`push`), registry credentials from the environment (`credentials`), cosign
//! key files (`keys`), checking a component's cosign signature (`signature`) and signing one or
//! making a key pair (`sign`).
//!
//! The registry is not trusted: every blob is checked against the digest that names it before it
//! is stored and again when it is read, and a manifest names its component by digest unless it
//! says `allow_floating_tag = true`. Signatures are checked in [`pull::verify`], between the
//! pull and the compile.

mod cache;
mod credentials;
mod keys;
mod layout;
mod pull;
mod push;
mod reference;
mod sign;
mod signature;

use std::path::PathBuf;

pub use cache::sha256;
pub use pull::fetch;
pub use push::{PushArgs, push, run as run_push};
pub use reference::{OciReference, check_digest};
pub use sign::{KeygenArgs, SignArgs, run_keygen, run_sign};
pub use signature::{SignatureError, TrustPolicy};

/// Where pulled components are kept and which registries may be reached over plain HTTP.
#[derive(Debug, Clone)]
pub struct DistributionSettings {
    /// The content-addressed blob cache (`blobs/sha256/<hex>` under it).
    pub cache_dir: PathBuf,
    /// Registries (`HOST:PORT`, as written in references) reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Which signatures `oci://` components must carry.
    pub trust: TrustPolicy,
}

impl Default for DistributionSettings {
    fn default() -> Self {
        Self {
            cache_dir: default_cache_dir(),
            insecure_registries: Vec::new(),
            trust: TrustPolicy::default(),
        }
    }
}

/// `$XDG_CACHE_HOME/capstan/plugins`, else `$HOME/.cache/capstan/plugins`, else
/// `.capstan-cache/plugins`.
pub fn default_cache_dir() -> PathBuf {
    let base = match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir).join("capstan"),
        (_, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".cache").join("capstan"),
        _ => PathBuf::from(".capstan-cache"),
    };
    base.join("plugins")
}

/// Distribution settings given on the command line or through `CAPSTAN_*` variables; `serve`
/// layers them over the config file, the inspecting commands (`check`, `tools`, `call`,
/// `skills export`) take them alone.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct DistributionOverrides {
    /// Where components pulled from OCI registries are kept, by digest (default
    /// `$XDG_CACHE_HOME/capstan/plugins`).
    #[arg(long, env = "CAPSTAN_PLUGIN_CACHE", value_name = "DIR")]
    pub plugin_cache: Option<PathBuf>,
    /// A registry (HOST:PORT, as written in `oci://` references) to reach over plain HTTP;
    /// repeatable. Only for registries on a trusted network, such as a local test registry.
    #[arg(
        long = "insecure-registry",
        env = "CAPSTAN_INSECURE_REGISTRIES",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// A public key (cosign PEM) that signs `oci://` components; repeatable. Applies to every
    /// manifest without a `[signature]` table of its own: its component must carry a cosign
    /// signature by one of these keys.
    #[arg(
        long = "trusted-key",
        env = "CAPSTAN_TRUSTED_KEYS",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub trusted_keys: Vec<PathBuf>,
    /// Refuse every `oci://` component to which no signature key applies (neither the
    /// manifest's `[signature]` nor --trusted-key).
    #[arg(long, env = "CAPSTAN_REQUIRE_SIGNATURES")]
    pub require_signatures: bool,
}

impl DistributionOverrides {
    /// The settings these flags give on their own (no config file).
    pub fn settings(self) -> DistributionSettings {
        DistributionSettings {
            cache_dir: self.plugin_cache.unwrap_or_else(default_cache_dir),
            insecure_registries: self.insecure_registries,
            trust: TrustPolicy {
                trusted_keys: self.trusted_keys,
                require_signatures: self.require_signatures,
            },
        }
    }
}

/// Why a component could not be pulled or pushed; the message names the digests involved and
/// what to do, never a credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DistributionError {
    /// The reference is not a valid `oci://` reference.
    #[error("{0}")]
    Reference(String),
    /// The tag now points at other content than the pinned digest.
    #[error(
        "tag `{tag}` now points at {current}, not the pinned {pinned}; someone moved the tag: pin the digest you mean to run (after checking it) or push the intended component again"
    )]
    TagMoved {
        /// The tag.
        tag: String,
        /// The digest the manifest pins.
        pinned: String,
        /// The digest the tag resolves to now.
        current: String,
    },
    /// Content does not hash to the digest that names it.
    #[error(
        "{what} is {actual}, but it should be {expected}; the registry or the cache served content that was changed: do not run it, check the registry and push the component again"
    )]
    DigestMismatch {
        /// Which content.
        what: String,
        /// The digest that names it.
        expected: String,
        /// What it hashes to.
        actual: String,
    },
    /// The artifact is not a Wasm component in the CNCF layout.
    #[error(
        "{0}; publish the component with `capstan plugin push` or `wkg oci push` (config `application/vnd.wasm.config.v0+json`, one `application/wasm` layer)"
    )]
    Layout(String),
    /// Talking to the registry failed.
    #[error(
        "registry {registry}: {message}; check the reference, that the registry is reachable (plain-HTTP registries need --insecure-registry) and the credentials (CAPSTAN_REGISTRY_USERNAME/CAPSTAN_REGISTRY_PASSWORD or a docker config)"
    )]
    Registry {
        /// The registry.
        registry: String,
        /// What went wrong.
        message: String,
    },
    /// The cache folder or a local file cannot be used.
    #[error("{0}")]
    Io(String),
    /// The component's signature is missing or not trusted, or a key cannot be used.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

//! Identity settings: `api_keys_file` and the `[oauth]` table of the config file, then the
//! `CAPSTAN_*` variables and flags (`--oauth-issuer`, `--oauth-audience`,
//! `--oauth-required-scope`, `--oauth-groups-claim`, `--api-keys-file`), flags winning.
//!
//! ```toml
//! api_keys_file = "keys.toml"                  # named API keys; relative to this file
//!
//! [oauth]
//! issuer = "https://login.example.com/realms/ops"
//! audience = "https://capstan.example.com/mcp" # capstan's own resource URI (RFC 8707)
//! required_scopes = ["capstan"]
//! groups_claim = "groups"
//! # name_claim = "preferred_username"         # default: name, then preferred_username, email
//! # client_id_claim = "azp"                   # default: client_id, then azp
//! # jwks_uri = "https://…/certs"              # default: from the issuer's discovery document
//! leeway = "30s"
//! jwks_refresh_interval = "60s"
//! # authorization_servers = ["https://…"]     # default: [issuer]
//! # scopes_supported = ["capstan"]
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use url::Url;

use crate::units;

/// The identity part of the config file: `api_keys_file` and `[oauth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFile {
    /// The named API keys file.
    pub api_keys_file: Option<PathBuf>,
    /// The `[oauth]` table.
    pub oauth: Option<OAuthFile>,
}

/// The `[oauth]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthFile {
    issuer: Option<String>,
    audience: Option<String>,
    required_scopes: Option<Vec<String>>,
    jwks_uri: Option<String>,
    groups_claim: Option<String>,
    name_claim: Option<String>,
    client_id_claim: Option<String>,
    leeway: Option<String>,
    jwks_refresh_interval: Option<String>,
    authorization_servers: Option<Vec<String>>,
    scopes_supported: Option<Vec<String>>,
}

/// Identity settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct IdentityOverrides {
    /// Accept OAuth access tokens (JWT) from this issuer, e.g.
    /// https://login.example.com/realms/ops.
    #[arg(long, env = "CAPSTAN_OAUTH_ISSUER", value_name = "URL")]
    pub oauth_issuer: Option<String>,
    /// capstan's own resource URI, which tokens must name in `aud`, e.g.
    /// https://capstan.example.com/mcp.
    #[arg(long, env = "CAPSTAN_OAUTH_AUDIENCE", value_name = "URI")]
    pub oauth_audience: Option<String>,
    /// A scope every token must grant; repeatable.
    #[arg(
        long = "oauth-required-scope",
        env = "CAPSTAN_OAUTH_REQUIRED_SCOPES",
        value_name = "SCOPE",
        value_delimiter = ','
    )]
    pub oauth_required_scopes: Vec<String>,
    /// The token claim that lists the caller's groups (default: groups).
    #[arg(long, env = "CAPSTAN_OAUTH_GROUPS_CLAIM", value_name = "NAME")]
    pub oauth_groups_claim: Option<String>,
    /// File of named API keys (TOML, `[[key]]` entries with `name` and `sha256`).
    #[arg(long, env = "CAPSTAN_API_KEYS_FILE", value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,
}

/// The resolved identity settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentitySettings {
    /// The named API keys file, if any.
    pub api_keys_file: Option<PathBuf>,
    /// OAuth resource server settings, if tokens are accepted.
    pub oauth: Option<OAuthSettings>,
}

/// How OAuth access tokens are checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthSettings {
    /// The exact `iss` tokens carry.
    pub issuer: String,
    /// capstan's resource URI; tokens' `aud` must contain it.
    pub audience: String,
    /// Scopes every token must grant.
    pub required_scopes: Vec<String>,
    /// Where the signing keys are, when not from discovery.
    pub jwks_uri: Option<String>,
    /// The claim holding groups.
    pub groups_claim: String,
    /// The claim holding a display name; `None`: `name`, `preferred_username`, then `email`.
    pub name_claim: Option<String>,
    /// The claim holding the client id; `None`: `client_id`, then `azp`.
    pub client_id_claim: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The least time between two fetches of the signing keys.
    pub jwks_refresh_interval: Duration,
    /// Authorization servers named in the protected resource metadata.
    pub authorization_servers: Vec<String>,
    /// Scopes named in the protected resource metadata.
    pub scopes_supported: Vec<String>,
}

impl IdentitySettings {
    /// Layers `overrides` over `file`; relative file paths are relative to `base` (the config
    /// file's folder). Errors name the setting and what to write.
    pub fn resolve(
        overrides: IdentityOverrides,
        file: IdentityFile,
        base: &Path,
    ) -> anyhow::Result<Self> {
        let api_keys_file = overrides.api_keys_file.or_else(|| {
            file.api_keys_file.map(|path| match path.is_absolute() {
                true => path,
                false => base.join(path),
            })
        });
        let oauth = OAuthSettings::resolve(
            OAuthOverrides {
                issuer: overrides.oauth_issuer,
                audience: overrides.oauth_audience,
                required_scopes: overrides.oauth_required_scopes,
                groups_claim: overrides.oauth_groups_claim,
            },
            file.oauth.unwrap_or_default(),
        )?;
        Ok(Self {
            api_keys_file,
            oauth,
        })
    }

    /// Whether any identity check is configured (OAuth or API keys).
    pub fn authenticates(&self) -> bool {
        self.api_keys_file.is_some() || self.oauth.is_some()
    }
}

struct OAuthOverrides {
    issuer: Option<String>,
    audience: Option<String>,
    required_scopes: Vec<String>,
    groups_claim: Option<String>,
}

impl OAuthSettings {
    fn resolve(flags: OAuthOverrides, file: OAuthFile) -> anyhow::Result<Option<Self>> {
        let issuer = flags.issuer.or(file.issuer);
        let audience = flags.audience.or(file.audience);
        let (issuer, audience) = match (issuer, audience) {
            (None, None) => return Ok(None),
            (None, Some(_)) => bail!(
                "`oauth.issuer` is missing: an audience is set, so tokens are expected; set the issuer with --oauth-issuer or `issuer = \"https://login.example.com/realms/ops\"` under [oauth]"
            ),
            (Some(_), None) => bail!(
                "`oauth.audience` is missing: set capstan's own resource URI with --oauth-audience or `audience = \"https://capstan.example.com/mcp\"` under [oauth]; tokens must name it in `aud`"
            ),
            (Some(issuer), Some(audience)) => (issuer, audience),
        };
        check_url(
            "oauth.issuer",
            &issuer,
            "https://login.example.com/realms/ops",
        )?;
        check_url(
            "oauth.audience",
            &audience,
            "https://capstan.example.com/mcp",
        )?;
        if let Some(jwks_uri) = &file.jwks_uri {
            check_url(
                "oauth.jwks_uri",
                jwks_uri,
                "https://login.example.com/realms/ops/protocol/openid-connect/certs",
            )?;
        }
        let required_scopes = if flags.required_scopes.is_empty() {
            file.required_scopes.unwrap_or_default()
        } else {
            flags.required_scopes
        };
        let claim = |name: &str, value: Option<String>| -> anyhow::Result<Option<String>> {
            match value {
                Some(value) if value.trim().is_empty() => {
                    bail!("`oauth.{name}` is empty; name a claim, e.g. \"groups\" or \"roles\"")
                }
                other => Ok(other),
            }
        };
        Ok(Some(Self {
            authorization_servers: file
                .authorization_servers
                .unwrap_or_else(|| vec![issuer.clone()]),
            scopes_supported: file
                .scopes_supported
                .unwrap_or_else(|| required_scopes.clone()),
            issuer,
            audience,
            required_scopes,
            jwks_uri: file.jwks_uri,
            groups_claim: claim("groups_claim", flags.groups_claim.or(file.groups_claim))?
                .unwrap_or_else(|| "groups".into()),
            name_claim: claim("name_claim", file.name_claim)?,
            client_id_claim: claim("client_id_claim", file.client_id_claim)?,
            leeway: duration("leeway", file.leeway.as_deref().unwrap_or("30s"))?,
            jwks_refresh_interval: duration(
                "jwks_refresh_interval",
                file.jwks_refresh_interval.as_deref().unwrap_or("60s"),
            )?,
        }))
    }
}

/// An absolute `https` URL (plain `http` only for loopback hosts, for tests and local IdPs).
fn check_url(name: &str, text: &str, example: &str) -> anyhow::Result<()> {
    let Ok(url) = Url::parse(text) else {
        bail!("`{name}`: `{text}` is not an absolute URL; write e.g. \"{example}\"");
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        _ => bail!(
            "`{name}`: `{text}` must be an https URL (http only for loopback); write e.g. \"{example}\""
        ),
    }
    if url.fragment().is_some() {
        bail!("`{name}`: `{text}` must not have a fragment (#…); write e.g. \"{example}\"");
    }
    Ok(())
}

fn duration(name: &str, text: &str) -> anyhow::Result<Duration> {
    units::parse_duration(text)
        .map_err(|error| anyhow::anyhow!("`oauth.{name}`: {error}; write e.g. \"30s\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> IdentityFile {
        toml::from_str(text).unwrap()
    }

    const OAUTH: &str = "[oauth]\nissuer = \"https://idp.example.com/realms/ops\"\naudience = \"https://capstan.example.com/mcp\"\n";

    #[test]
    fn nothing_configured_means_no_identity_checks() {
        let settings =
            IdentitySettings::resolve(Default::default(), file(""), Path::new("/etc")).unwrap();
        assert_eq!(settings, IdentitySettings::default());
        assert!(!settings.authenticates());
    }

    #[test]
    fn defaults_fill_the_oauth_table() {
        let settings =
            IdentitySettings::resolve(Default::default(), file(OAUTH), Path::new("/")).unwrap();
        let oauth = settings.oauth.unwrap();
        assert_eq!(oauth.groups_claim, "groups");
        assert_eq!(oauth.leeway, Duration::from_secs(30));
        assert_eq!(oauth.jwks_refresh_interval, Duration::from_secs(60));
        assert_eq!(
            oauth.authorization_servers,
            ["https://idp.example.com/realms/ops"]
        );
        assert!(oauth.required_scopes.is_empty());
    }

    #[test]
    fn flags_win_and_relative_key_files_follow_the_config_file() {
        let text = format!("api_keys_file = \"keys.toml\"\n{OAUTH}groups_claim = \"roles\"\n");
        let from_file =
            IdentitySettings::resolve(Default::default(), file(&text), Path::new("/etc/capstan"))
                .unwrap();
        assert_eq!(
            from_file.api_keys_file.as_deref(),
            Some(Path::new("/etc/capstan/keys.toml"))
        );
        assert_eq!(from_file.oauth.unwrap().groups_claim, "roles");
        let flags = IdentityOverrides {
            oauth_issuer: Some("https://other.example.com".into()),
            oauth_required_scopes: vec!["capstan".into()],
            oauth_groups_claim: Some("teams".into()),
            api_keys_file: Some("/run/keys.toml".into()),
            ..Default::default()
        };
        let flagged = IdentitySettings::resolve(flags, file(&text), Path::new("/etc")).unwrap();
        assert_eq!(
            flagged.api_keys_file.as_deref(),
            Some(Path::new("/run/keys.toml"))
        );
        let oauth = flagged.oauth.unwrap();
        assert_eq!(oauth.issuer, "https://other.example.com");
        assert_eq!(oauth.required_scopes, ["capstan"]);
        assert_eq!(oauth.groups_claim, "teams");
    }

    #[test]
    fn errors_name_the_setting_and_what_to_write() {
        let error = |text: &str| {
            IdentitySettings::resolve(Default::default(), file(text), Path::new("/"))
                .unwrap_err()
                .to_string()
        };
        let missing = error("[oauth]\nissuer = \"https://idp.example.com\"\n");
        assert!(
            missing.contains("`oauth.audience` is missing") && missing.contains("--oauth-audience"),
            "{missing}"
        );
        let relative =
            error("[oauth]\nissuer = \"idp.example.com\"\naudience = \"https://c/mcp\"\n");
        assert!(
            relative.contains("`oauth.issuer`") && relative.contains("not an absolute URL"),
            "{relative}"
        );
        let plain =
            error("[oauth]\nissuer = \"http://idp.example.com\"\naudience = \"https://c/mcp\"\n");
        assert!(plain.contains("must be an https URL"), "{plain}");
        let leeway = error(&format!("{OAUTH}leeway = \"soon\"\n"));
        assert!(
            leeway.contains("`oauth.leeway`") && leeway.contains("30s"),
            "{leeway}"
        );
        let no_issuer = error("[oauth]\naudience = \"https://c/mcp\"\n");
        assert!(
            no_issuer.contains("`oauth.issuer` is missing"),
            "{no_issuer}"
        );
    }

    #[test]
    fn loopback_issuers_may_use_plain_http() {
        let text = "[oauth]\nissuer = \"http://127.0.0.1:8080\"\naudience = \"http://localhost:8931/mcp\"\n";
        assert!(IdentitySettings::resolve(Default::default(), file(text), Path::new("/")).is_ok());
    }
}

//! Registry credentials, from the environment only: `CAPSTAN_REGISTRY_USERNAME` and
//! `CAPSTAN_REGISTRY_PASSWORD` (for every registry), else the `auths` entry for the registry in
//! a docker config file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; the
//! base64 `auth` field), else anonymous. Credential helpers are not run.

use std::path::PathBuf;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::DistributionError;

/// The user name variable.
pub const USERNAME_VAR: &str = "CAPSTAN_REGISTRY_USERNAME";
/// The password variable.
pub const PASSWORD_VAR: &str = "CAPSTAN_REGISTRY_PASSWORD";

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    auth: Option<String>,
}

/// The credentials to present to `registry` (`HOST[:PORT]`).
pub fn auth_for(registry: &str) -> Result<RegistryAuth, DistributionError> {
    let username = std::env::var(USERNAME_VAR).ok().filter(|v| !v.is_empty());
    let password = std::env::var(PASSWORD_VAR).ok().filter(|v| !v.is_empty());
    match (username, password) {
        (Some(username), Some(password)) => return Ok(RegistryAuth::Basic(username, password)),
        (None, None) => {}
        _ => {
            return Err(DistributionError::Io(format!(
                "set both {USERNAME_VAR} and {PASSWORD_VAR}, or neither"
            )));
        }
    }
    let Some(path) = docker_config_path() else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(RegistryAuth::Anonymous);
        }
        Err(error) => {
            return Err(DistributionError::Io(format!(
                "cannot read the docker config {}: {error}",
                path.display()
            )));
        }
    };
    from_docker_config(&text, registry).map_err(|problem| {
        DistributionError::Io(format!(
            "the docker config {}: {problem}; fix it or set {USERNAME_VAR}/{PASSWORD_VAR}",
            path.display()
        ))
    })
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

/// The credentials for `registry` in a docker config's `auths`; keys may carry a scheme or a
/// path (`https://index.docker.io/v1/`). Problems never quote the file's secrets.
fn from_docker_config(text: &str, registry: &str) -> Result<RegistryAuth, String> {
    let config: DockerConfig =
        serde_json::from_str(text).map_err(|error| format!("is not valid JSON ({error})"))?;
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| registry_of(key) == registry)
        .and_then(|(_, auth)| auth.auth.as_deref());
    let Some(encoded) = entry else {
        return Ok(RegistryAuth::Anonymous);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| format!("the `auth` of {registry} is not base64 of USER:PASSWORD"))?;
    match decoded.split_once(':') {
        Some((user, password)) => Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned())),
        None => Err(format!(
            "the `auth` of {registry} is not base64 of USER:PASSWORD"
        )),
    }
}

fn registry_of(key: &str) -> &str {
    let bare = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    bare.split('/').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auths_are_matched_by_registry() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        let text = format!(
            r#"{{"auths": {{"https://registry.test/v1/": {{"auth": "{auth}"}}, "other.test": {{}}}}}}"#
        );
        match from_docker_config(&text, "registry.test").unwrap() {
            RegistryAuth::Basic(user, password) => {
                assert_eq!((user.as_str(), password.as_str()), ("ci", "s3cret"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            from_docker_config(&text, "other.test").unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn a_malformed_auth_is_an_error_that_does_not_quote_it() {
        let text = r#"{"auths": {"registry.test": {"auth": "bm8tY29sb24="}}}"#;
        let error = from_docker_config(text, "registry.test").unwrap_err();
        assert!(!error.contains("bm8tY29sb24"), "{error}");
    }
}

//! Kubernetes API access for a target: from a kubeconfig context, or from the pod's own
//! service account when capstan runs in the cluster. Either gives the API server's URL, its
//! CA, and the credential (a token, re-read from its file, or a client certificate).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;

use super::credentials::{Credentials, Secret};
use super::tls::{TlsError, TlsSettings};

/// Where a pod's service account is mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// What a target needs to reach one Kubernetes API server.
#[derive(Debug, Clone)]
pub struct KubeAccess {
    /// The API server's URL.
    pub server: String,
    /// How to verify it and, for certificate users, how to authenticate.
    pub tls: TlsSettings,
    /// The token or basic credential, if the user has one.
    pub credentials: Credentials,
}

/// Why Kubernetes access cannot be set up; the message says what to change.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KubeError {
    /// `in_cluster` outside a pod.
    #[error(
        "KUBERNETES_SERVICE_HOST is not set: `in_cluster` works only inside a Kubernetes pod; outside one use `kubeconfig`"
    )]
    NotInCluster,
    /// The service-account token is not mounted.
    #[error(
        "the service-account token {} does not exist; is automountServiceAccountToken off?",
        .0.display()
    )]
    NoToken(PathBuf),
    /// The kubeconfig cannot be read.
    #[error("cannot read the kubeconfig {}: {error}", path.display())]
    Unreadable {
        /// The kubeconfig.
        path: PathBuf,
        /// Why.
        error: Arc<std::io::Error>,
    },
    /// The kubeconfig is not YAML of the expected shape.
    #[error("the kubeconfig {} does not parse: {error}", path.display())]
    Unparsable {
        /// The kubeconfig.
        path: PathBuf,
        /// The parser's message.
        error: String,
    },
    /// No context named and no current one.
    #[error("the kubeconfig has no current-context; name one with `context = \"...\"`")]
    NoCurrentContext,
    /// A context, cluster or user that is not there.
    #[error("the kubeconfig has no {kind} `{name}` (it has: {})", known.join(", "))]
    Missing {
        /// `context`, `cluster` or `user`.
        kind: &'static str,
        /// The name looked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// Half a client identity.
    #[error(
        "the kubeconfig user has a client certificate without a key, or a key without a certificate"
    )]
    HalfIdentity,
    /// A user that needs a program run.
    #[error(
        "the kubeconfig user runs an exec or auth-provider plugin (e.g. a cloud CLI), which capstan does not run; give it a service-account token (`token` or `tokenFile`) or a client certificate"
    )]
    ExecPlugin,
    /// Base64 data that is not.
    #[error("the kubeconfig's `{0}` is not valid base64")]
    Base64(String),
    /// A certificate file that cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Access from the pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the token
/// and CA under `dir` (the standard mount, or `CAPSTAN_SERVICE_ACCOUNT_DIR` when set).
pub fn in_cluster() -> Result<KubeAccess, KubeError> {
    let dir = std::env::var_os("CAPSTAN_SERVICE_ACCOUNT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR));
    let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| KubeError::NotInCluster)?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host,
    };
    let token = dir.join("token");
    if !token.is_file() {
        return Err(KubeError::NoToken(token));
    }
    Ok(KubeAccess {
        server: format!("https://{host}:{port}"),
        tls: TlsSettings {
            ca_pem: Some(TlsSettings::read_pem(
                &dir.join("ca.crt"),
                "service-account CA",
            )?),
            ca_only: true,
            ..TlsSettings::default()
        },
        credentials: Credentials::Bearer(Secret::File(token)),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    item: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<PathBuf>,
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
    client_certificate: Option<PathBuf>,
    client_certificate_data: Option<String>,
    client_key: Option<PathBuf>,
    client_key_data: Option<String>,
    username: Option<String>,
    password: Option<String>,
    exec: Option<serde_norway::Value>,
    auth_provider: Option<serde_norway::Value>,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: Option<String>,
}

/// Access from context `context` (or the current context) of the kubeconfig at `path`.
pub fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<KubeAccess, KubeError> {
    let text = std::fs::read_to_string(path).map_err(|error| KubeError::Unreadable {
        path: path.to_path_buf(),
        error: Arc::new(error),
    })?;
    let config: Kubeconfig =
        serde_norway::from_str(&text).map_err(|error| KubeError::Unparsable {
            path: path.to_path_buf(),
            error: error.to_string(),
        })?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let wanted = context
        .map(str::to_owned)
        .or(config.current_context.clone())
        .ok_or(KubeError::NoCurrentContext)?;
    let context = find(&config.contexts, &wanted, "context")?;
    let cluster = find(&config.clusters, &context.cluster, "cluster")?;
    let user = match &context.user {
        Some(name) => find(&config.users, name, "user")?,
        None => &User::default(),
    };
    let mut tls = cluster_tls(cluster, folder)?;
    tls.identity_pem = client_identity(user, folder)?;
    Ok(KubeAccess {
        server: cluster.server.clone(),
        tls,
        credentials: user_credentials(user, folder)?,
    })
}

fn find<'a, T>(items: &'a [Named<T>], name: &str, kind: &'static str) -> Result<&'a T, KubeError> {
    items
        .iter()
        .find(|item| item.name == name)
        .map(|item| &item.item)
        .ok_or_else(|| KubeError::Missing {
            kind,
            name: name.to_owned(),
            known: items.iter().map(|item| item.name.clone()).collect(),
        })
}

fn cluster_tls(cluster: &Cluster, folder: &Path) -> Result<TlsSettings, KubeError> {
    let ca_pem = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => Some(decode(data, "certificate-authority-data")?),
        (None, Some(file)) => Some(TlsSettings::read_pem(
            &folder.join(file),
            "certificate-authority",
        )?),
        (None, None) => None,
    };
    Ok(TlsSettings {
        ca_only: ca_pem.is_some(),
        ca_pem,
        identity_pem: None,
        insecure_skip_verify: cluster.insecure_skip_tls_verify,
    })
}

fn client_identity(user: &User, folder: &Path) -> Result<Option<Vec<u8>>, KubeError> {
    let certificate = pem_field(
        &user.client_certificate_data,
        &user.client_certificate,
        folder,
        "client-certificate",
    )?;
    let key = pem_field(
        &user.client_key_data,
        &user.client_key,
        folder,
        "client-key",
    )?;
    match (certificate, key) {
        (Some(mut certificate), Some(key)) => {
            certificate.push(b'\n');
            certificate.extend_from_slice(&key);
            Ok(Some(certificate))
        }
        (None, None) => Ok(None),
        _ => Err(KubeError::HalfIdentity),
    }
}

fn pem_field(
    data: &Option<String>,
    file: &Option<PathBuf>,
    folder: &Path,
    what: &str,
) -> Result<Option<Vec<u8>>, KubeError> {
    match (data, file) {
        (Some(data), _) => decode(data, &format!("{what}-data")).map(Some),
        (None, Some(file)) => Ok(Some(TlsSettings::read_pem(&folder.join(file), what)?)),
        (None, None) => Ok(None),
    }
}

fn user_credentials(user: &User, folder: &Path) -> Result<Credentials, KubeError> {
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(KubeError::ExecPlugin);
    }
    Ok(
        match (
            &user.token_file,
            &user.token,
            &user.username,
            &user.password,
        ) {
            (Some(file), _, _, _) => Credentials::Bearer(Secret::File(folder.join(file))),
            (None, Some(token), _, _) => Credentials::Bearer(Secret::Inline(token.clone())),
            (None, None, Some(username), Some(password)) => Credentials::Basic {
                username: username.clone(),
                password: Secret::Inline(password.clone()),
            },
            _ => Credentials::None,
        },
    )
}

fn decode(data: &str, field: &str) -> Result<Vec<u8>, KubeError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| KubeError::Base64(field.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn kubeconfig(user: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), CA).unwrap();
        std::fs::write(dir.path().join("token"), "sa-token\n").unwrap();
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\n\
             clusters:\n- name: prod-cluster\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority: ca.crt\n\
             - name: dev-cluster\n  cluster:\n    server: https://dev.example:6443\n    insecure-skip-tls-verify: true\n\
             contexts:\n- name: prod\n  context:\n    cluster: prod-cluster\n    user: robot\n\
             - name: dev\n  context:\n    cluster: dev-cluster\n    user: robot\n\
             users:\n- name: robot\n  user:\n{user}\n"
        );
        std::fs::write(dir.path().join("config"), text).unwrap();
        dir
    }

    #[test]
    fn the_current_context_gives_server_ca_and_token_file() {
        let dir = kubeconfig("    tokenFile: token");
        let access = from_kubeconfig(&dir.path().join("config"), None).unwrap();
        assert_eq!(access.server, "https://10.0.0.1:6443");
        assert_eq!(access.tls.ca_pem.as_deref(), Some(CA.as_bytes()));
        assert!(access.tls.ca_only);
        assert_eq!(
            access.credentials,
            Credentials::Bearer(Secret::File(dir.path().join("token")))
        );
    }

    #[test]
    fn a_named_context_is_used_when_given() {
        let dir = kubeconfig("    token: inline-token");
        let access = from_kubeconfig(&dir.path().join("config"), Some("dev")).unwrap();
        assert_eq!(access.server, "https://dev.example:6443");
        assert!(access.tls.insecure_skip_verify);
        assert_eq!(
            access.credentials,
            Credentials::Bearer(Secret::Inline("inline-token".into()))
        );
    }

    #[test]
    fn exec_plugins_and_unknown_contexts_are_explained() {
        let dir = kubeconfig("    exec:\n      command: aws");
        let error = from_kubeconfig(&dir.path().join("config"), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("exec"), "{error}");
        let error = from_kubeconfig(&dir.path().join("config"), Some("staging"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("prod, dev"), "{error}");
    }
}

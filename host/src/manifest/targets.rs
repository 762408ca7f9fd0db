//! The `[[targets]]` of a manifest: URL, credentials, TLS and limits of each endpoint.
//!
//! ```toml
//! [[targets]]
//! name = "prod"
//! url  = "https://argocd.example.com/argocd"   # optional with kubeconfig / in_cluster
//! auth = { bearer_env = "ARGOCD_TOKEN" }
//! #    { bearer_file = "/var/run/secrets/argocd/token" }
//! #    { header = "Cf-Access-Token", value_env = "CF_TOKEN" }     (or value_file)
//! #    { username = "admin", password_env = "ARGOCD_PASSWORD" }  (or password_file)
//! #    { kubeconfig = "/etc/capstan/kubeconfig", context = "prod" }
//! #    { in_cluster = true }
//! #    { passthrough = "X-Argocd-Token" }   forwards the MCP client's header (opt-in)
//! #    { token_exchange = { endpoint = "https://idp.example.com/token", audience = "argocd",
//! #        client_id = "capstan", client_secret_env = "CAPSTAN_EXCHANGE_SECRET" } }
//! #      acts as the signed-in caller (RFC 8693); also client_secret_file, resource, scope,
//! #      ca_file (trust anchors for the endpoint)
//! tls = { ca_file = "ca.pem", client_cert = "tls.crt", client_key = "tls.key" }
//! #     insecure_skip_verify = true   (never in production; logged at every load)
//! connect_timeout = "5s"
//! timeout = "30s"
//! max_response = "32MiB"     # the most of a body a plugin reads whole
//! max_streamed = "1GiB"      # the most of a body a plugin reads as a stream (at least max_response)
//! kind = "argocd"            # or "kubernetes" (the default with kubeconfig / in_cluster), "http";
//! #                            left out: the Argo CD and Kubernetes deny lists both apply
//! methods = ["GET", "HEAD"]  # the only methods sent (default: all but TRACE/CONNECT; read-only
//! #                            instances: GET, HEAD, OPTIONS and `read_only_posts`)
//! read_only_posts = ["/apis/authorization.k8s.io/*/selfsubjectaccessreviews"]  # replaces the kind's
//! deny_paths = ["/api/v1/namespaces/*/configmaps"]   # refused whatever the method
//! allow_token_requests = true   # Argo CD token creation, Kubernetes TokenRequest (default false)
//! allow_secrets = true          # Kubernetes Secret objects (default false)
//! allow_impersonation = true    # Impersonate-* headers on Kubernetes targets (default false)
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderName;
use serde::Deserialize;

use super::{ManifestError, problem};
use crate::egress::kube::{self, KubeAccess};
use crate::egress::methods::parse_method;
use crate::egress::{
    Allowances, Credentials, PathPattern, RequestRules, Secret, Target, TargetKind, TargetLimits,
    TlsSettings, TokenExchange,
};
use crate::units;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    name: String,
    url: Option<String>,
    auth: Option<RawAuth>,
    tls: Option<RawTls>,
    connect_timeout: Option<String>,
    timeout: Option<String>,
    max_response: Option<String>,
    max_streamed: Option<String>,
    kind: Option<String>,
    methods: Option<Vec<String>>,
    read_only_posts: Option<Vec<String>>,
    deny_paths: Option<Vec<String>>,
    #[serde(default)]
    allow_token_requests: bool,
    #[serde(default)]
    allow_secrets: bool,
    #[serde(default)]
    allow_impersonation: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    bearer_env: Option<String>,
    bearer_file: Option<PathBuf>,
    header: Option<String>,
    value_env: Option<String>,
    value_file: Option<PathBuf>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    in_cluster: Option<bool>,
    passthrough: Option<String>,
    token_exchange: Option<RawTokenExchange>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawTokenExchange {
    endpoint: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

const AUTH_FORMS: &str = "give exactly one of: { bearer_env = \"VAR\" }, { bearer_file = \"path\" }, \
{ header = \"Name\", value_env = \"VAR\" } (or value_file), { username = \"user\", password_env = \"VAR\" } \
(or password_file), { kubeconfig = \"path\", context = \"name\" }, { in_cluster = true }, \
{ passthrough = \"Header-Name\" }, { token_exchange = { endpoint = \"https://idp/token\", \
audience = \"name\", client_id = \"id\", client_secret_env = \"VAR\" } }";

/// Where one target's fields are, for error messages.
struct Site<'a> {
    path: &'a Path,
    folder: &'a Path,
    field: String,
}

impl Site<'_> {
    fn error(&self, sub: &str, message: impl Into<String>) -> ManifestError {
        problem(self.path, Some(&format!("{}.{sub}", self.field)), message)
    }

    fn file(&self, file: &Path) -> PathBuf {
        self.folder.join(file)
    }
}

/// The files the targets read once, at load (kubeconfigs, CA bundles, client certificates and
/// keys), resolved against the manifest's folder: a change to one must reload the instance.
/// Token and password files are not among them: they are read on every request.
pub(super) fn files_read_at_load(folder: &Path, raw: &[RawTarget]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for target in raw {
        if let Some(auth) = &target.auth {
            files.extend(auth.kubeconfig.iter().cloned());
            let exchange = auth.token_exchange.as_ref();
            files.extend(exchange.and_then(|e| e.ca_file.clone()));
        }
        if let Some(tls) = &target.tls {
            files.extend(
                [&tls.ca_file, &tls.client_cert, &tls.client_key]
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
    }
    files.into_iter().map(|file| folder.join(file)).collect()
}

/// Validates every target; names must be unique. `read_only` is the instance's setting,
/// which limits the methods its targets take.
pub(super) fn targets(
    path: &Path,
    folder: &Path,
    raw: Vec<RawTarget>,
    read_only: bool,
) -> Result<Vec<Target>, ManifestError> {
    let mut targets: Vec<Target> = Vec::with_capacity(raw.len());
    for (index, entry) in raw.into_iter().enumerate() {
        let site = Site {
            path,
            folder,
            field: format!("targets[{index}]"),
        };
        check_name(&site, &entry.name, &targets)?;
        let target = target(&site, entry, read_only)?;
        if target.tls().insecure_skip_verify {
            tracing::warn!(
                manifest = %path.display(),
                target = target.name(),
                "TLS verification is OFF for this target: anyone on the network path can read and change its traffic, credentials included"
            );
        }
        targets.push(target);
    }
    Ok(targets)
}

fn check_name(site: &Site<'_>, name: &str, earlier: &[Target]) -> Result<(), ManifestError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(site.error("name", "use only letters, digits, `-` and `_`"));
    }
    if earlier.iter().any(|t| t.name() == name) {
        return Err(site.error(
            "name",
            format!("`{name}` is used by an earlier target; names must be unique"),
        ));
    }
    Ok(())
}

fn target(site: &Site<'_>, mut entry: RawTarget, read_only: bool) -> Result<Target, ManifestError> {
    let auth = entry.auth.take().unwrap_or_default();
    let kube = kube_access(site, &auth)?;
    let rules = rules(site, &mut entry, kube.is_some(), read_only)?;
    let (credentials, kube_tls, server) = match kube {
        Some(access) => (access.credentials, Some(access.tls), Some(access.server)),
        None => (credentials(site, auth)?, None, None),
    };
    let url = entry.url.or(server).ok_or_else(|| {
        site.error(
            "url",
            "is missing; write the endpoint as scheme://host[:port][/path-prefix]",
        )
    })?;
    let tls = match (kube_tls, entry.tls) {
        (Some(_), Some(_)) => {
            return Err(site.error(
                "tls",
                "the kubeconfig or service account already sets TLS for this target; remove `tls`",
            ));
        }
        (Some(tls), None) => tls,
        (None, raw) => tls(site, raw.unwrap_or_default())?,
    };
    let limits = limits(
        site,
        (entry.connect_timeout, entry.timeout),
        entry.max_response,
        entry.max_streamed,
    )?;
    let target =
        Target::parse(&entry.name, &url).map_err(|error| site.error("url", error.to_string()))?;
    Ok(target
        .with_credentials(credentials)
        .with_tls(tls)
        .with_limits(limits)
        .with_rules(rules))
}

/// The target's method, path and header rules.
fn rules(
    site: &Site<'_>,
    entry: &mut RawTarget,
    kube: bool,
    read_only: bool,
) -> Result<RequestRules, ManifestError> {
    let kind = match entry.kind.take() {
        None if kube => TargetKind::Kubernetes,
        None => TargetKind::Any,
        Some(text) => TargetKind::parse(&text).ok_or_else(|| {
            site.error(
                "kind",
                format!(
                    "`{text}` is not a target kind; write \"argocd\", \"kubernetes\" or \"http\""
                ),
            )
        })?,
    };
    let methods = entry
        .methods
        .take()
        .map(|list| {
            list.iter()
                .map(|text| {
                    parse_method(text).ok_or_else(|| {
                        site.error(
                            "methods",
                            format!("`{text}` is not a method capstan sends; list some of GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let patterns = |field: &str, list: Option<Vec<String>>| {
        list.map(|list| {
            list.iter()
                .map(|text| {
                    PathPattern::parse(text).map_err(|error| site.error(field, error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
    };
    Ok(RequestRules {
        kind,
        read_only,
        methods,
        read_only_posts: patterns("read_only_posts", entry.read_only_posts.take())?,
        deny_paths: patterns("deny_paths", entry.deny_paths.take())?.unwrap_or_default(),
        allow: Allowances {
            token_requests: entry.allow_token_requests,
            secrets: entry.allow_secrets,
            impersonation: entry.allow_impersonation,
        },
    })
}

fn kube_access(site: &Site<'_>, auth: &RawAuth) -> Result<Option<KubeAccess>, ManifestError> {
    let kubeconfig = auth.kubeconfig.as_ref();
    let in_cluster = auth.in_cluster == Some(true);
    if kubeconfig.is_none() && !in_cluster {
        if auth.context.is_some() {
            return Err(site.error("auth.context", "only goes with `kubeconfig`"));
        }
        return Ok(None);
    }
    let others = RawAuth {
        kubeconfig: None,
        context: None,
        in_cluster: None,
        ..auth.clone()
    };
    if (kubeconfig.is_some() && in_cluster) || kinds(&others) > 0 {
        return Err(site.error("auth", AUTH_FORMS));
    }
    let access = match kubeconfig {
        Some(file) => kube::from_kubeconfig(&site.file(file), auth.context.as_deref()),
        None => kube::in_cluster(),
    };
    access
        .map(Some)
        .map_err(|error| site.error("auth", error.to_string()))
}

/// How many of the mutually exclusive kinds of credential are given.
fn kinds(auth: &RawAuth) -> usize {
    [
        auth.bearer_env.is_some(),
        auth.bearer_file.is_some(),
        auth.header.is_some(),
        auth.username.is_some(),
        auth.kubeconfig.is_some(),
        auth.in_cluster.is_some(),
        auth.passthrough.is_some(),
        auth.token_exchange.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count()
}

fn credentials(site: &Site<'_>, auth: RawAuth) -> Result<Credentials, ManifestError> {
    let forms = || site.error("auth", AUTH_FORMS);
    let secret = |env: Option<String>, file: Option<PathBuf>| match (env, file) {
        (Some(var), None) => Ok(Secret::Env(var)),
        (None, Some(file)) => Ok(Secret::File(site.file(&file))),
        _ => Err(forms()),
    };
    if kinds(&auth) > 1 || auth.in_cluster == Some(false) {
        return Err(forms());
    }
    let strays = |a: bool, b: bool| if a || b { Err(forms()) } else { Ok(()) };
    if let Some(exchange) = auth.token_exchange {
        strays(auth.value_env.is_some(), auth.value_file.is_some())?;
        strays(auth.password_env.is_some(), auth.password_file.is_some())?;
        return token_exchange(site, exchange);
    }
    if let Some(name) = auth.header {
        strays(auth.password_env.is_some(), auth.password_file.is_some())?;
        return Ok(Credentials::Header(
            header_name(site, &name)?,
            secret(auth.value_env, auth.value_file)?,
        ));
    }
    strays(auth.value_env.is_some(), auth.value_file.is_some())?;
    if let Some(username) = auth.username {
        return Ok(Credentials::Basic {
            username,
            password: secret(auth.password_env, auth.password_file)?,
        });
    }
    strays(auth.password_env.is_some(), auth.password_file.is_some())?;
    Ok(
        match (auth.bearer_env, auth.bearer_file, auth.passthrough) {
            (Some(var), None, None) => Credentials::Bearer(Secret::Env(var)),
            (None, Some(file), None) => Credentials::Bearer(Secret::File(site.file(&file))),
            (None, None, Some(name)) => Credentials::Passthrough(header_name(site, &name)?),
            (None, None, None) => Credentials::None,
            _ => return Err(forms()),
        },
    )
}

fn token_exchange(site: &Site<'_>, raw: RawTokenExchange) -> Result<Credentials, ManifestError> {
    let field = |name: &str| format!("auth.token_exchange.{name}");
    let given = |name: &str, value: Option<String>| match value {
        Some(text) if text.trim().is_empty() => {
            Err(site.error(&field(name), "is empty; give a value or leave the key out"))
        }
        other => Ok(other),
    };
    let endpoint = given("endpoint", raw.endpoint)?.ok_or_else(|| {
        site.error(
            &field("endpoint"),
            "is missing; give the identity provider's token endpoint, e.g. \"https://idp.example.com/oauth2/token\"",
        )
    })?;
    let endpoint = TokenExchange::endpoint(&endpoint)
        .map_err(|error| site.error(&field("endpoint"), error.to_string()))?;
    let audience = given("audience", raw.audience)?;
    let resource = given("resource", raw.resource)?;
    if audience.is_none() && resource.is_none() {
        return Err(site.error(
            "auth.token_exchange",
            "names no upstream; give `audience` (the upstream's name at the identity provider) or `resource` (its URL), or both",
        ));
    }
    let client_id = given("client_id", raw.client_id)?.ok_or_else(|| {
        site.error(
            &field("client_id"),
            "is missing; give the OAuth client capstan authenticates as at the token endpoint",
        )
    })?;
    let client_secret = match (raw.client_secret_env, raw.client_secret_file) {
        (Some(var), None) => Secret::Env(var),
        (None, Some(file)) => Secret::File(site.file(&file)),
        _ => {
            return Err(site.error(
                "auth.token_exchange",
                "give exactly one of client_secret_env = \"VAR\" or client_secret_file = \"path\" for the client's secret",
            ));
        }
    };
    let ca_pem = raw
        .ca_file
        .map(|file| {
            TlsSettings::read_pem(&site.file(&file), "CA file")
                .map_err(|error| site.error(&field("ca_file"), error.to_string()))
        })
        .transpose()?;
    let tls = TlsSettings {
        ca_pem,
        ..TlsSettings::default()
    };
    let _checked_now_not_at_the_first_call = tls
        .apply(reqwest::Client::builder())
        .map_err(|error| site.error(&field("ca_file"), error.to_string()))?;
    Ok(Credentials::TokenExchange(std::sync::Arc::new(
        TokenExchange {
            endpoint,
            audience,
            resource,
            scope: given("scope", raw.scope)?,
            client_id,
            client_secret,
            tls,
        },
    )))
}

fn header_name(site: &Site<'_>, name: &str) -> Result<HeaderName, ManifestError> {
    let parsed = HeaderName::try_from(name)
        .map_err(|_| site.error("auth", format!("`{name}` is not a valid header name")))?;
    let owned_by_http = [
        http::header::HOST,
        http::header::CONTENT_LENGTH,
        http::header::TRANSFER_ENCODING,
        http::header::CONNECTION,
    ];
    if owned_by_http.contains(&parsed) {
        return Err(site.error(
            "auth",
            format!("`{name}` cannot carry a credential; use Authorization or a custom header"),
        ));
    }
    Ok(parsed)
}

fn tls(site: &Site<'_>, raw: RawTls) -> Result<TlsSettings, ManifestError> {
    let read = |file: &Path, what: &str| {
        TlsSettings::read_pem(&site.file(file), what)
            .map_err(|error| site.error("tls", error.to_string()))
    };
    let ca_pem = raw
        .ca_file
        .as_deref()
        .map(|file| read(file, "CA file"))
        .transpose()?;
    let identity_pem = match (&raw.client_cert, &raw.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert, "client certificate")?;
            pem.push(b'\n');
            pem.extend(read(key, "client key")?);
            Some(pem)
        }
        (None, None) => None,
        _ => {
            return Err(site.error(
                "tls",
                "give both `client_cert` and `client_key`, or neither",
            ));
        }
    };
    let settings = TlsSettings {
        ca_pem,
        ca_only: false,
        identity_pem,
        insecure_skip_verify: raw.insecure_skip_verify,
    };
    let _checked_now_not_at_the_first_call = settings
        .apply(reqwest::Client::builder())
        .map_err(|error| site.error("tls", error.to_string()))?;
    Ok(settings)
}

/// The largest `max_streamed` a target may set.
const MAX_STREAMED_CEILING: u64 = 1 << 40;

fn limits(
    site: &Site<'_>,
    (connect_timeout, timeout): (Option<String>, Option<String>),
    max_response: Option<String>,
    max_streamed: Option<String>,
) -> Result<TargetLimits, ManifestError> {
    let defaults = TargetLimits::default();
    let duration = |field: &str, text: Option<String>, default: Duration| match text {
        None => Ok(default),
        Some(text) => match units::parse_duration(&text) {
            Err(error) => Err(site.error(
                field,
                format!("{error}; write one between 1ms and 1h, e.g. \"10s\""),
            )),
            Ok(d) if d >= Duration::from_millis(1) && d <= Duration::from_secs(3600) => Ok(d),
            Ok(_) => Err(site.error(
                field,
                format!("`{text}` is not a duration between 1ms and 1h; write e.g. \"10s\""),
            )),
        },
    };
    let response_bytes = match max_response {
        None => defaults.response_bytes,
        Some(text) => match units::parse_size(&text) {
            Err(error) => {
                return Err(site.error(
                    "max_response",
                    format!("{error}; write one up to 1GiB, e.g. \"32MiB\""),
                ));
            }
            Ok(size) if (1..=1 << 30).contains(&size) => size as usize,
            Ok(_) => {
                return Err(site.error(
                    "max_response",
                    format!("`{text}` is not a size up to 1GiB; write e.g. \"32MiB\""),
                ));
            }
        },
    };
    let streamed_bytes = streamed_bytes(site, max_streamed, response_bytes)?;
    Ok(TargetLimits {
        connect_timeout: duration("connect_timeout", connect_timeout, defaults.connect_timeout)?,
        timeout: duration("timeout", timeout, defaults.timeout)?,
        response_bytes,
        streamed_bytes,
    })
}

/// `max_streamed`: the most of a body a plugin may read as a stream (1 GiB unless set), at
/// least `max_response` (a body read as a stream may always be as large as one read whole).
fn streamed_bytes(
    site: &Site<'_>,
    max_streamed: Option<String>,
    response_bytes: usize,
) -> Result<usize, ManifestError> {
    let Some(text) = max_streamed else {
        return Ok(crate::egress::DEFAULT_STREAMED_BYTES.max(response_bytes));
    };
    let shown = |bytes: u64| bytesize::ByteSize::b(bytes).display().iec().to_string();
    match units::parse_size(&text) {
        Err(error) => Err(site.error(
            "max_streamed",
            format!("{error}; write the most a plugin may read of a body it reads as a stream, e.g. \"1GiB\""),
        )),
        Ok(size) if size > MAX_STREAMED_CEILING => Err(site.error(
            "max_streamed",
            format!(
                "`{text}` is more than {}; write a smaller size, e.g. \"4GiB\"",
                shown(MAX_STREAMED_CEILING)
            ),
        )),
        Ok(size) if size < response_bytes as u64 => Err(site.error(
            "max_streamed",
            format!(
                "`{text}` is less than this target's max_response ({}): a body read as a stream \
                 may always be as large as one read whole; raise max_streamed, or lower max_response",
                shown(response_bytes as u64)
            ),
        )),
        Ok(size) => Ok(usize::try_from(size).unwrap_or(usize::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Manifest;
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.wasm"), b"\0asm").unwrap();
        dir
    }

    fn parse_in(dir: &Path, targets: &str) -> Result<Vec<Target>, ManifestError> {
        let text = format!("component = \"p.wasm\"\n{targets}");
        Manifest::parse(&dir.join("demo.toml"), &text, 256 << 20).map(|m| m.targets)
    }

    fn parse(targets: &str) -> Result<Vec<Target>, ManifestError> {
        parse_in(folder().path(), targets)
    }

    #[test]
    fn every_credential_kind_parses() {
        let dir = folder();
        let cases = [
            (
                "{ bearer_env = \"T\" }",
                Credentials::Bearer(Secret::Env("T".into())),
            ),
            (
                "{ bearer_file = \"token\" }",
                Credentials::Bearer(Secret::File(dir.path().join("token"))),
            ),
            (
                "{ header = \"Cf-Access-Token\", value_env = \"CF\" }",
                Credentials::Header(
                    HeaderName::from_static("cf-access-token"),
                    Secret::Env("CF".into()),
                ),
            ),
            (
                "{ username = \"admin\", password_file = \"pw\" }",
                Credentials::Basic {
                    username: "admin".into(),
                    password: Secret::File(dir.path().join("pw")),
                },
            ),
            (
                "{ passthrough = \"X-User-Token\" }",
                Credentials::Passthrough(HeaderName::from_static("x-user-token")),
            ),
        ];
        for (auth, expected) in cases {
            let targets = parse_in(
                dir.path(),
                &format!("[[targets]]\nname = \"a\"\nurl = \"https://a.example\"\nauth = {auth}"),
            )
            .unwrap();
            assert_eq!(targets[0].credentials(), &expected, "{auth}");
        }
    }

    #[test]
    fn the_token_exchange_form_parses_with_either_secret() {
        let dir = folder();
        std::fs::write(dir.path().join("idp-ca.pem"), PEM).unwrap();
        let targets = parse_in(
            dir.path(),
            "[[targets]]\nname = \"prod\"\nurl = \"https://argocd.example.com\"\n\
             auth = { token_exchange = { endpoint = \"https://idp.example.com/token\", audience = \"argocd-prod\", \
             client_id = \"capstan\", client_secret_env = \"CAPSTAN_EXCHANGE_SECRET\", scope = \"openid\" } }\n\
             [[targets]]\nname = \"kube\"\nurl = \"https://10.0.0.1:6443\"\n\
             auth = { token_exchange = { endpoint = \"http://127.0.0.1:9000/token\", resource = \"https://10.0.0.1:6443\", \
             client_id = \"capstan\", client_secret_file = \"secret\", ca_file = \"idp-ca.pem\" } }",
        )
        .unwrap();
        let Credentials::TokenExchange(prod) = targets[0].credentials() else {
            panic!("{:?}", targets[0].credentials());
        };
        assert_eq!(prod.endpoint.as_str(), "https://idp.example.com/token");
        assert_eq!(prod.audience.as_deref(), Some("argocd-prod"));
        assert_eq!(prod.resource, None);
        assert_eq!(prod.scope.as_deref(), Some("openid"));
        assert_eq!(prod.client_id, "capstan");
        assert_eq!(
            prod.client_secret,
            Secret::Env("CAPSTAN_EXCHANGE_SECRET".into())
        );
        assert_eq!(prod.tls, TlsSettings::default());
        let Credentials::TokenExchange(kube) = targets[1].credentials() else {
            panic!("{:?}", targets[1].credentials());
        };
        assert_eq!(kube.audience, None);
        assert_eq!(kube.resource.as_deref(), Some("https://10.0.0.1:6443"));
        assert_eq!(kube.client_secret, Secret::File(dir.path().join("secret")));
        assert_eq!(kube.tls.ca_pem.as_deref(), Some(PEM.as_bytes()));
    }

    #[test]
    fn token_exchange_mistakes_name_the_field_and_the_fix() {
        let full = "endpoint = \"https://idp/token\", audience = \"a\", client_id = \"c\", client_secret_env = \"S\"";
        let cases = [
            (
                "audience = \"a\", client_id = \"c\", client_secret_env = \"S\"".to_owned(),
                "targets[0].auth.token_exchange.endpoint",
                "is missing",
            ),
            (
                full.replace("https://idp/token", "http://idp.example.com/token"),
                "targets[0].auth.token_exchange.endpoint",
                "use https",
            ),
            (
                full.replace("audience = \"a\", ", ""),
                "targets[0].auth.token_exchange",
                "`audience`",
            ),
            (
                full.replace("audience = \"a\"", "audience = \" \""),
                "targets[0].auth.token_exchange.audience",
                "is empty",
            ),
            (
                full.replace("client_id = \"c\", ", ""),
                "targets[0].auth.token_exchange.client_id",
                "is missing",
            ),
            (
                full.replace("client_secret_env = \"S\"", "scope = \"x\""),
                "targets[0].auth.token_exchange",
                "client_secret_env",
            ),
            (
                format!("{full}, client_secret_file = \"f\""),
                "targets[0].auth.token_exchange",
                "exactly one of client_secret_env",
            ),
            (
                format!("{full}, ca_file = \"missing.pem\""),
                "targets[0].auth.token_exchange.ca_file",
                "cannot read the CA file",
            ),
            (
                format!("{full}, audiences = \"x\""),
                "unknown field",
                "audiences",
            ),
        ];
        for (exchange, field, hint) in cases {
            let body = format!(
                "[[targets]]\nname = \"a\"\nurl = \"https://a\"\nauth = {{ token_exchange = {{ {exchange} }} }}"
            );
            let error = parse(&body).unwrap_err().to_string();
            assert!(
                error.contains(field) && error.contains(hint),
                "{exchange}: {error}"
            );
        }
        let both = format!(
            "[[targets]]\nname = \"a\"\nurl = \"https://a\"\nauth = {{ bearer_env = \"T\", token_exchange = {{ {full} }} }}"
        );
        let error = parse(&both).unwrap_err().to_string();
        assert!(error.contains("exactly one"), "{error}");
    }

    #[test]
    fn a_kubeconfig_supplies_url_tls_and_token() {
        let dir = folder();
        std::fs::write(dir.path().join("ca.crt"), PEM).unwrap();
        std::fs::write(
            dir.path().join("kubeconfig"),
            "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority: ca.crt\n\
             contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n    tokenFile: token\n",
        )
        .unwrap();
        let targets = parse_in(
            dir.path(),
            "[[targets]]\nname = \"cluster\"\nauth = { kubeconfig = \"kubeconfig\" }",
        )
        .unwrap();
        assert_eq!(targets[0].url(), "https://10.0.0.1:6443");
        assert!(targets[0].tls().ca_only);
        assert_eq!(
            targets[0].credentials(),
            &Credentials::Bearer(Secret::File(dir.path().join("token")))
        );
    }

    #[test]
    fn tls_files_and_limits_are_read_at_load() {
        let dir = folder();
        std::fs::write(dir.path().join("ca.pem"), PEM).unwrap();
        let targets = parse_in(
            dir.path(),
            "[[targets]]\nname = \"a\"\nurl = \"https://a.example\"\ntls = { ca_file = \"ca.pem\" }\n\
             connect_timeout = \"2s\"\ntimeout = \"9s\"\nmax_response = \"1MiB\"\n\
             max_streamed = \"3GiB\"",
        )
        .unwrap();
        assert_eq!(targets[0].tls().ca_pem.as_deref(), Some(PEM.as_bytes()));
        assert_eq!(targets[0].limits().timeout, Duration::from_secs(9));
        assert_eq!(targets[0].limits().connect_timeout, Duration::from_secs(2));
        assert_eq!(targets[0].limits().response_bytes, 1 << 20);
        assert_eq!(targets[0].limits().streamed_bytes, 3 << 30);
        assert_eq!(targets[0].limits().body_cap(false), 1 << 20);
        assert_eq!(targets[0].limits().body_cap(true), 3 << 30);
    }

    #[test]
    fn streamed_bodies_default_to_a_gibibyte_and_never_below_max_response() {
        let limits = |extra: &str| {
            parse(&format!(
                "[[targets]]\nname = \"a\"\nurl = \"https://a\"\n{extra}"
            ))
            .unwrap()[0]
                .limits()
                .clone()
        };
        assert_eq!(limits("").streamed_bytes, 1 << 30);
        assert_eq!(limits("").response_bytes, 32 << 20);
        assert_eq!(limits("max_response = \"1GiB\"").streamed_bytes, 1 << 30);
        assert_eq!(limits("max_streamed = \"32MiB\"").streamed_bytes, 32 << 20);
        assert_eq!(limits("max_streamed = \"1TiB\"").streamed_bytes, 1 << 40);
    }

    #[test]
    fn mistakes_name_the_field_and_the_fix() {
        let cases = [
            (
                "url = \"https://a\"\nauth = { bearer_env = \"A\", bearer_file = \"b\" }",
                "targets[0].auth",
                "exactly one",
            ),
            (
                "url = \"https://a\"\nauth = { header = \"X-A\" }",
                "targets[0].auth",
                "exactly one",
            ),
            (
                "url = \"https://a\"\nauth = { value_env = \"A\" }",
                "targets[0].auth",
                "exactly one",
            ),
            (
                "url = \"https://a\"\nauth = { username = \"u\" }",
                "targets[0].auth",
                "exactly one",
            ),
            (
                "url = \"https://a\"\nauth = { header = \"Host\", value_env = \"A\" }",
                "targets[0].auth",
                "cannot carry",
            ),
            (
                "url = \"https://a\"\nauth = { context = \"c\" }",
                "targets[0].auth.context",
                "kubeconfig",
            ),
            (
                "auth = { bearer_env = \"A\" }",
                "targets[0].url",
                "is missing",
            ),
            (
                "url = \"https://a\"\nauth = { kubeconfig = \"nope\" }",
                "targets[0].auth",
                "cannot read the kubeconfig",
            ),
            (
                "url = \"https://a\"\ntls = { ca_file = \"missing.pem\" }",
                "targets[0].tls",
                "cannot read the CA file",
            ),
            (
                "url = \"https://a\"\ntls = { client_cert = \"c.pem\" }",
                "targets[0].tls",
                "both",
            ),
            (
                "url = \"https://a\"\ntimeout = \"soon\"",
                "targets[0].timeout",
                "not a duration",
            ),
            (
                "url = \"https://a\"\nmax_response = \"2GiB\"",
                "targets[0].max_response",
                "up to 1GiB",
            ),
            (
                "url = \"https://a\"\nmax_streamed = \"plenty\"",
                "targets[0].max_streamed",
                "e.g. \"1GiB\"",
            ),
            (
                "url = \"https://a\"\nmax_streamed = \"16MiB\"",
                "targets[0].max_streamed",
                "less than this target's max_response (32.0 MiB)",
            ),
            (
                "url = \"https://a\"\nmax_response = \"64MiB\"\nmax_streamed = \"48MiB\"",
                "targets[0].max_streamed",
                "raise max_streamed, or lower max_response",
            ),
            (
                "url = \"https://a\"\nmax_streamed = \"2TiB\"",
                "targets[0].max_streamed",
                "more than 1.0 TiB",
            ),
            (
                "url = \"https://a\"\nproxy = true",
                "unknown field",
                "proxy",
            ),
        ];
        for (body, field, hint) in cases {
            let error = parse(&format!("[[targets]]\nname = \"a\"\n{body}"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(field) && error.contains(hint),
                "{body}: {error}"
            );
            assert!(error.contains("demo.toml"), "{error}");
        }
    }
}

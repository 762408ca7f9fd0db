//! What a request may do with a target's credential once its URL is inside the target: the
//! methods, paths and headers the gate lets through.
//!
//! Rules, checked in this order on every request and redirect hop:
//! 1. Only `GET`, `HEAD`, `OPTIONS`, `POST`, `PUT`, `PATCH` and `DELETE` are ever sent; `TRACE`
//!    (an upstream that answers it echoes the injected credential back), `CONNECT` and unknown
//!    methods are refused everywhere.
//! 2. A target's `methods`, when given, are the only methods it takes. Otherwise a read-only
//!    instance sends only `GET`, `HEAD` and `OPTIONS`, plus `POST` to the read-only endpoints
//!    of the target's kind (`read_only_posts`, e.g. Kubernetes `SelfSubjectAccessReview`).
//! 3. On Kubernetes targets, `Impersonate-*` headers (acting as another identity) are refused
//!    unless `allow_impersonation`.
//! 4. Requests that turn the credential into one the plugin can read are refused unless the
//!    target allows them: Argo CD account and project-role token creation and Kubernetes
//!    `TokenRequest` (`allow_token_requests`), Kubernetes `Secret` objects (`allow_secrets`).
//! 5. Paths matching the target's `deny_paths` are refused.
//!
//! The default lists are keyed on the target's [`TargetKind`]; a target of no declared kind
//! (not a kubeconfig, no `kind`) gets the Argo CD and the Kubernetes lists both. Paths are
//! matched fully percent-decoded, below the target's path prefix, segment by segment and
//! ignoring case; `*` stands for one segment, and a pattern covers everything below it.

use std::fmt;

use http::{HeaderMap, Method};

use crate::events::RefusalReason;

/// The methods the gate ever sends.
pub const KNOWN_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The methods of a read-only instance.
const READ_METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::OPTIONS];

const ARGOCD_MINTING: &[&str] = &[
    "/api/v1/account/*/token",
    "/api/v1/projects/*/roles/*/token",
];
const KUBE_MINTING: &[&str] = &["/api/v1/namespaces/*/serviceaccounts/*/token"];
const KUBE_SECRETS: &[&str] = &[
    "/api/v1/secrets",
    "/api/v1/namespaces/*/secrets",
    "/api/v1/watch/secrets",
    "/api/v1/watch/namespaces/*/secrets",
];
const ARGOCD_READ_POSTS: &[&str] = &["/api/v1/applicationsets/generate"];
const KUBE_READ_POSTS: &[&str] = &[
    "/apis/authorization.k8s.io/*/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/*/selfsubjectrulesreviews",
    "/apis/authentication.k8s.io/*/selfsubjectreviews",
];

/// What kind of API a target is, which decides the default deny lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetKind {
    /// Not declared: the Argo CD and the Kubernetes lists both apply.
    #[default]
    Any,
    /// An Argo CD API server (`kind = "argocd"`).
    ArgoCd,
    /// A Kubernetes API server (`kind = "kubernetes"`, or a kubeconfig / in-cluster target).
    Kubernetes,
    /// Any other HTTP API (`kind = "http"`): no API-specific lists.
    Http,
}

impl TargetKind {
    /// The kind written as `text` in a manifest.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "argocd" => Some(Self::ArgoCd),
            "kubernetes" => Some(Self::Kubernetes),
            "http" => Some(Self::Http),
            _ => None,
        }
    }

    fn argocd(self) -> bool {
        matches!(self, Self::Any | Self::ArgoCd)
    }

    fn kubernetes(self) -> bool {
        matches!(self, Self::Any | Self::Kubernetes)
    }

    /// The `POST` endpoints a read-only instance may call on this kind of target by default.
    pub fn read_only_posts(self) -> Vec<PathPattern> {
        let mut list = Vec::new();
        if self.argocd() {
            list.extend(ARGOCD_READ_POSTS);
        }
        if self.kubernetes() {
            list.extend(KUBE_READ_POSTS);
        }
        list.into_iter().map(PathPattern::builtin).collect()
    }
}

/// A path pattern (`/api/v1/namespaces/*/secrets`) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a path pattern; write it like \"/api/v1/namespaces/*/configmaps\" (starting with /, `*` standing for one whole segment, no query)"
)]
pub struct PatternError(String);

/// A path and everything below it; `*` stands for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    written: String,
    segments: Vec<String>,
}

impl PathPattern {
    /// Parses `text`, which starts with `/`.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let bad = || PatternError(text.to_owned());
        if !text.starts_with('/') || text.contains(['?', '#', '%']) {
            return Err(bad());
        }
        let segments: Vec<String> = segments(text).map(str::to_ascii_lowercase).collect();
        let stray_star = segments.iter().any(|s| s.contains('*') && s != "*");
        if segments.is_empty() || stray_star {
            return Err(bad());
        }
        Ok(Self {
            written: text.to_owned(),
            segments,
        })
    }

    fn builtin(text: &'static str) -> Self {
        Self::parse(text).expect("built-in patterns parse")
    }

    /// Whether `path` is this pattern's path or below it.
    pub fn matches(&self, path: &str) -> bool {
        let mut path = segments(path);
        self.segments.iter().all(|expected| {
            path.next()
                .is_some_and(|seen| expected == "*" || seen.eq_ignore_ascii_case(expected))
        })
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// Requests a target's operator lets through that the defaults refuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowances {
    /// Argo CD token creation and Kubernetes `TokenRequest` (`allow_token_requests`).
    pub token_requests: bool,
    /// Kubernetes `Secret` objects (`allow_secrets`).
    pub secrets: bool,
    /// `Impersonate-*` headers on Kubernetes targets (`allow_impersonation`).
    pub impersonation: bool,
}

/// The method, path and header rules of one target.
#[derive(Debug, Clone, Default)]
pub struct RequestRules {
    /// The target's kind.
    pub kind: TargetKind,
    /// Whether the instance is read-only.
    pub read_only: bool,
    /// The operator's `methods`, replacing the defaults.
    pub methods: Option<Vec<Method>>,
    /// The operator's `read_only_posts`, replacing the kind's.
    pub read_only_posts: Option<Vec<PathPattern>>,
    /// The operator's `deny_paths`.
    pub deny_paths: Vec<PathPattern>,
    /// What the operator allows beyond the defaults.
    pub allow: Allowances,
}

/// Why a request was refused by a target's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRefusal {
    /// The kind of refusal.
    pub reason: RefusalReason,
    /// For the agent: what was refused, and what the operator can change.
    pub message: String,
}

/// Parses a method named in a manifest; only the methods the gate ever sends.
pub fn parse_method(text: &str) -> Option<Method> {
    KNOWN_METHODS
        .into_iter()
        .find(|method| method.as_str().eq_ignore_ascii_case(text))
}

impl RequestRules {
    /// Checks `method` to `path` (decoded, below the target's prefix) with `headers` against
    /// the rules of target `target`.
    pub fn check(
        &self,
        target: &str,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), RuleRefusal> {
        self.check_method(target, method, path)?;
        self.check_headers(target, headers)?;
        self.check_path(target, method, path)
    }

    fn check_method(&self, target: &str, method: &Method, path: &str) -> Result<(), RuleRefusal> {
        let refuse = |message: String| {
            Err(RuleRefusal {
                reason: RefusalReason::MethodNotAllowed,
                message,
            })
        };
        if !KNOWN_METHODS.contains(method) {
            return refuse(format!(
                "capstan never sends {method} requests, only GET, HEAD, OPTIONS, POST, PUT, PATCH and DELETE (an upstream answering TRACE would echo the credential back)"
            ));
        }
        if let Some(methods) = &self.methods {
            if methods.contains(method) {
                return Ok(());
            }
            return refuse(format!(
                "target `{target}` takes only {}; the operator can add {method} to `methods` of target `{target}`",
                list(methods)
            ));
        }
        if !self.read_only || READ_METHODS.contains(method) {
            return Ok(());
        }
        let posts = self
            .read_only_posts
            .clone()
            .unwrap_or_else(|| self.kind.read_only_posts());
        if *method == Method::POST && posts.iter().any(|pattern| pattern.matches(path)) {
            return Ok(());
        }
        let posts = match posts.is_empty() {
            true => String::new(),
            false => format!(", and POST to {}", list(&posts)),
        };
        refuse(format!(
            "the plugin instance is read-only: target `{target}` takes only GET, HEAD and OPTIONS{posts}; the operator can allow more with `methods` or `read_only_posts` of target `{target}`, or make the instance writable (read_only = false)"
        ))
    }

    fn check_headers(&self, target: &str, headers: &HeaderMap) -> Result<(), RuleRefusal> {
        if !self.kind.kubernetes() || self.allow.impersonation {
            return Ok(());
        }
        match headers
            .keys()
            .find(|name| name.as_str().starts_with("impersonate-"))
        {
            Some(name) => Err(RuleRefusal {
                reason: RefusalReason::Impersonation,
                message: format!(
                    "the `{name}` header would make target `{target}`'s credential act as another identity; the operator can allow it with `allow_impersonation = true` on target `{target}`"
                ),
            }),
            None => Ok(()),
        }
    }

    fn check_path(&self, target: &str, method: &Method, path: &str) -> Result<(), RuleRefusal> {
        let hit = |patterns: &[&'static str]| {
            patterns
                .iter()
                .any(|pattern| PathPattern::builtin(pattern).matches(path))
        };
        let minting = (self.kind.argocd() && hit(ARGOCD_MINTING))
            || (self.kind.kubernetes() && hit(KUBE_MINTING));
        if minting && !self.allow.token_requests {
            return Err(RuleRefusal {
                reason: RefusalReason::CredentialMinting,
                message: format!(
                    "{method} {path} would mint a token from target `{target}`'s credential that the plugin could read; the operator can allow it with `allow_token_requests = true` on target `{target}`"
                ),
            });
        }
        if self.kind.kubernetes() && hit(KUBE_SECRETS) && !self.allow.secrets {
            return Err(RuleRefusal {
                reason: RefusalReason::SecretAccess,
                message: format!(
                    "{method} {path} would hand the plugin Secret objects readable with target `{target}`'s credential; the operator can allow it with `allow_secrets = true` on target `{target}`"
                ),
            });
        }
        match self.deny_paths.iter().find(|pattern| pattern.matches(path)) {
            Some(pattern) => Err(RuleRefusal {
                reason: RefusalReason::DeniedPath,
                message: format!(
                    "{path} is under `{pattern}` in `deny_paths` of target `{target}`; the operator can remove it there"
                ),
            }),
            None => Ok(()),
        }
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(kind: TargetKind, read_only: bool) -> RequestRules {
        RequestRules {
            kind,
            read_only,
            ..RequestRules::default()
        }
    }

    fn method(text: &str) -> Method {
        Method::from_bytes(text.as_bytes()).unwrap()
    }

    fn refusal(rules: &RequestRules, verb: &str, path: &str) -> Option<RefusalReason> {
        rules
            .check("t", &method(verb), path, &HeaderMap::new())
            .err()
            .map(|refused| refused.reason)
    }

    #[test]
    fn trace_connect_and_unknown_methods_are_refused_everywhere() {
        for kind in [TargetKind::Any, TargetKind::Http, TargetKind::Kubernetes] {
            let writable = rules(kind, false);
            for verb in ["TRACE", "CONNECT", "PROPFIND", "BREW"] {
                assert_eq!(
                    refusal(&writable, verb, "/x"),
                    Some(RefusalReason::MethodNotAllowed),
                    "{verb}"
                );
            }
            for verb in ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"] {
                assert_eq!(refusal(&writable, verb, "/x"), None, "{verb}");
            }
        }
    }

    #[test]
    fn a_read_only_instance_reads_and_posts_only_to_its_kinds_read_only_endpoints() {
        let kube = rules(TargetKind::Kubernetes, true);
        for verb in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(
                refusal(&kube, verb, "/api/v1/namespaces/a/configmaps"),
                Some(RefusalReason::MethodNotAllowed),
                "{verb}"
            );
        }
        assert_eq!(
            refusal(&kube, "GET", "/api/v1/namespaces/a/configmaps"),
            None
        );
        let review = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
        assert_eq!(refusal(&kube, "POST", review), None);
        assert_eq!(
            refusal(&kube, "PUT", review),
            Some(RefusalReason::MethodNotAllowed)
        );
        let argocd = rules(TargetKind::ArgoCd, true);
        assert_eq!(
            refusal(&argocd, "POST", review),
            Some(RefusalReason::MethodNotAllowed)
        );
        assert_eq!(
            refusal(&argocd, "POST", "/api/v1/applicationsets/generate"),
            None
        );
        let http = rules(TargetKind::Http, true);
        assert_eq!(
            refusal(&http, "POST", review),
            Some(RefusalReason::MethodNotAllowed)
        );
        let message = kube
            .check("t", &Method::DELETE, "/x", &HeaderMap::new())
            .unwrap_err()
            .message;
        assert!(
            message.contains("`methods` or `read_only_posts` of target `t`"),
            "{message}"
        );
    }

    #[test]
    fn the_operators_methods_replace_the_defaults() {
        let only_get = RequestRules {
            methods: Some(vec![Method::GET]),
            ..rules(TargetKind::Http, false)
        };
        assert_eq!(refusal(&only_get, "GET", "/x"), None);
        assert_eq!(
            refusal(&only_get, "POST", "/x"),
            Some(RefusalReason::MethodNotAllowed)
        );
        let with_post = RequestRules {
            methods: Some(vec![Method::GET, Method::POST]),
            ..rules(TargetKind::Http, true)
        };
        assert_eq!(refusal(&with_post, "POST", "/x"), None);
        assert_eq!(parse_method("patch"), Some(Method::PATCH));
        assert_eq!(parse_method("TRACE"), None);
    }

    #[test]
    fn credential_minting_is_refused_by_kind_unless_allowed() {
        let argocd = rules(TargetKind::ArgoCd, false);
        for path in [
            "/api/v1/account/admin/token",
            "/api/v1/account/ci/token/abc",
            "/api/v1/projects/default/roles/deployer/token",
            "/API/v1//projects/default/roles/deployer/token",
        ] {
            assert_eq!(
                refusal(&argocd, "POST", path),
                Some(RefusalReason::CredentialMinting),
                "{path}"
            );
        }
        assert_eq!(refusal(&argocd, "GET", "/api/v1/account/admin"), None);
        let kube = rules(TargetKind::Kubernetes, false);
        let token = "/api/v1/namespaces/kube-system/serviceaccounts/admin/token";
        assert_eq!(
            refusal(&kube, "POST", token),
            Some(RefusalReason::CredentialMinting)
        );
        assert_eq!(refusal(&kube, "POST", "/api/v1/account/admin/token"), None);
        let any = rules(TargetKind::Any, false);
        assert_eq!(
            refusal(&any, "POST", token),
            Some(RefusalReason::CredentialMinting)
        );
        assert_eq!(
            refusal(&any, "POST", "/api/v1/account/admin/token"),
            Some(RefusalReason::CredentialMinting)
        );
        assert_eq!(
            refusal(&rules(TargetKind::Http, false), "POST", token),
            None
        );
        let allowed = RequestRules {
            allow: Allowances {
                token_requests: true,
                ..Allowances::default()
            },
            ..kube
        };
        assert_eq!(refusal(&allowed, "POST", token), None);
    }

    #[test]
    fn secrets_are_refused_namespaced_cluster_wide_and_watched_unless_allowed() {
        let kube = rules(TargetKind::Kubernetes, false);
        for path in [
            "/api/v1/secrets",
            "/api/v1/namespaces/prod/secrets",
            "/api/v1/namespaces/prod/secrets/db-password",
            "/api/v1/watch/namespaces/prod/secrets",
            "/api/v1/watch/secrets",
        ] {
            for verb in ["GET", "PATCH", "DELETE"] {
                assert_eq!(
                    refusal(&kube, verb, path),
                    Some(RefusalReason::SecretAccess),
                    "{verb} {path}"
                );
            }
        }
        assert_eq!(
            refusal(&kube, "GET", "/api/v1/namespaces/prod/configmaps"),
            None
        );
        assert_eq!(
            refusal(&kube, "GET", "/apis/apps/v1/namespaces/secrets/deployments"),
            None
        );
        let allowed = RequestRules {
            allow: Allowances {
                secrets: true,
                ..Allowances::default()
            },
            ..kube
        };
        assert_eq!(refusal(&allowed, "GET", "/api/v1/secrets"), None);
    }

    #[test]
    fn impersonation_headers_are_refused_on_kubernetes_targets() {
        let mut headers = HeaderMap::new();
        headers.insert("impersonate-extra-scopes", "x".parse().unwrap());
        let check = |rules: &RequestRules| {
            rules
                .check("t", &Method::GET, "/api/v1/pods", &headers)
                .err()
                .map(|refused| refused.reason)
        };
        for kind in [TargetKind::Kubernetes, TargetKind::Any] {
            assert_eq!(
                check(&rules(kind, false)),
                Some(RefusalReason::Impersonation)
            );
        }
        assert_eq!(check(&rules(TargetKind::ArgoCd, false)), None);
        let allowed = RequestRules {
            allow: Allowances {
                impersonation: true,
                ..Allowances::default()
            },
            ..rules(TargetKind::Kubernetes, false)
        };
        assert_eq!(check(&allowed), None);
    }

    #[test]
    fn deny_paths_cover_the_path_and_below() {
        let rules = RequestRules {
            deny_paths: vec![PathPattern::parse("/api/v1/namespaces/*/configmaps").unwrap()],
            ..rules(TargetKind::Http, false)
        };
        assert_eq!(
            refusal(&rules, "GET", "/api/v1/namespaces/a/configmaps/b"),
            Some(RefusalReason::DeniedPath)
        );
        assert_eq!(refusal(&rules, "GET", "/api/v1/namespaces/a/pods"), None);
        for bad in ["api", "/a?b", "/a*", "/", "/%2e"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }
}

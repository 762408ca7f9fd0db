//! Targets: the endpoints an instance may call, as `scheme://host[:port][/path-prefix]`.

use std::fmt;

use url::Url;

use super::credentials::Credentials;

/// Why a target's `url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host (a lower-cased name, an IPv4 address, or a bracketed IPv6 address).
    Exact(String),
    /// Any host under this suffix (written `*.example.com`; the suffix is `.example.com`).
    Suffix(String),
}

/// One endpoint an instance may call, and the credentials the host adds to requests for it.
#[derive(Debug, Clone)]
pub struct Target {
    name: String,
    written: String,
    scheme: String,
    host: HostPattern,
    port: u16,
    path_prefix: String,
    credentials: Credentials,
}

impl Target {
    /// Parses a target from its manifest entry.
    pub fn parse(name: &str, url: &str, credentials: Credentials) -> Result<Self, TargetError> {
        let (scheme, host, port, path_prefix) = parse_url(url)?;
        Ok(Self {
            name: name.to_owned(),
            written: url.to_owned(),
            scheme,
            host,
            port,
            path_prefix,
            credentials,
        })
    }

    /// The target's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL as the manifest wrote it.
    pub fn url(&self) -> &str {
        &self.written
    }

    /// The credentials added to requests for this target.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The base URL plugins build requests on: scheme, host, port and path prefix.
    pub fn base_url(&self) -> String {
        let host = match &self.host {
            HostPattern::Exact(host) => host.clone(),
            HostPattern::Suffix(suffix) => format!("*{suffix}"),
        };
        format!(
            "{}://{}:{}{}",
            self.scheme, host, self.port, self.path_prefix
        )
    }

    /// Whether the normalised `url` is inside this target.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_matches = match &self.host {
            HostPattern::Exact(expected) => host == expected,
            HostPattern::Suffix(suffix) => {
                host.ends_with(suffix.as_str()) && host.len() > suffix.len()
            }
        };
        url.scheme() == self.scheme
            && host_matches
            && url.port_or_known_default() == Some(self.port)
            && path_within(url.path(), &self.path_prefix)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.written)
    }
}

/// True when `path` is `prefix` or below it, on a segment boundary.
fn path_within(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn parse_url(written: &str) -> Result<(String, HostPattern, u16, String), TargetError> {
    const FORM: &str =
        "write it as scheme://host[:port][/path-prefix], e.g. https://argocd.example.com/argocd";
    let (scheme, rest) = written
        .split_once("://")
        .ok_or_else(|| TargetError(format!("`{written}` has no scheme; {FORM}")))?;
    if scheme != "http" && scheme != "https" {
        return Err(TargetError(format!(
            "`{written}`: scheme `{scheme}` is not supported; use http or https"
        )));
    }
    let wildcard = rest.starts_with("*.");
    let parseable = if wildcard {
        format!("{scheme}://wildcard{}", &rest[1..])
    } else {
        written.to_owned()
    };
    let url = Url::parse(&parseable).map_err(|error| {
        TargetError(format!("`{written}` is not a valid URL ({error}); {FORM}"))
    })?;
    let stray_star = url.host_str().is_some_and(|host| host.contains('*'));
    if (rest.starts_with('*') && !wildcard) || stray_star {
        return Err(TargetError(format!(
            "`{written}`: a wildcard must be a whole leading label, like *.example.com"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError(format!(
            "`{written}` contains credentials; put them in the target's `auth` instead"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(TargetError(format!(
            "`{written}` has a query or fragment; {FORM}"
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| TargetError(format!("`{written}` has no host; {FORM}")))?;
    let host = if wildcard {
        HostPattern::Suffix(host.trim_start_matches("wildcard").to_owned())
    } else {
        HostPattern::Exact(host.to_owned())
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let prefix = url.path().trim_end_matches('/').to_owned();
    Ok((scheme.to_owned(), host, port, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse("t", url, Credentials::None).unwrap()
    }

    fn allows(target_url: &str, request: &str) -> bool {
        target(target_url).matches(&Url::parse(request).unwrap())
    }

    #[test]
    fn path_prefix_matches_on_segment_boundaries() {
        assert!(allows(
            "https://a.example/argocd",
            "https://a.example/argocd/api/v1/applications"
        ));
        assert!(allows(
            "https://a.example/argocd",
            "https://a.example/argocd"
        ));
        assert!(!allows(
            "https://a.example/argocd",
            "https://a.example/argocdx"
        ));
        assert!(!allows(
            "https://a.example/argocd",
            "https://a.example/argocd/../admin"
        ));
        assert!(!allows(
            "https://a.example/argocd",
            "https://a.example/argocd/%2e%2e/admin"
        ));
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        assert!(allows("https://a.example", "https://a.example:443/x"));
        assert!(!allows("https://a.example", "http://a.example/x"));
        assert!(!allows("https://a.example", "https://a.example:8443/x"));
        assert!(!allows("https://a.example", "https://b.example/x"));
        assert!(allows("http://127.0.0.1:8080", "http://127.0.0.1:8080/"));
        assert!(!allows("http://127.0.0.1:8080", "http://localhost:8080/"));
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        assert!(allows(
            "https://*.example.com",
            "https://argocd.example.com/"
        ));
        assert!(!allows("https://*.example.com", "https://example.com/"));
        assert!(!allows("https://*.example.com", "https://evilexample.com/"));
    }

    #[test]
    fn bad_target_urls_say_how_to_write_them() {
        for bad in [
            "argocd.example.com",
            "ftp://a.example",
            "https://u:p@a.example",
            "https://a.example/?q=1",
            "https://*",
            "https://a*.example",
        ] {
            let error = Target::parse("t", bad, Credentials::None).unwrap_err();
            assert!(!error.to_string().is_empty(), "{bad}");
        }
    }
}

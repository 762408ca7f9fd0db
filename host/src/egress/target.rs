//! Targets: the endpoints an instance may call, written `scheme://host[:port][/path-prefix]`.
//!
//! The host is a name (`argocd.example.com`), a wildcard over subdomains (`*.example.com`),
//! an IP address (`10.0.0.7`, `[fd00::7]`) or a CIDR range (`10.0.0.0/8`, `[fd00::/8]`; a
//! single address followed by a numeric first path segment is written with `/32`). Without a
//! port the scheme's default is the only port allowed. The path prefix matches on segment
//! boundaries, both as sent and fully percent-decoded.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use super::address;
use super::credentials::Credentials;
use super::methods::RequestRules;
use super::normalise::{NormalHost, NormalUrl};
use super::tls::TlsSettings;

/// Why a target's `url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(String);

const FORM: &str = "write it as scheme://host[:port][/path-prefix], e.g. https://argocd.example.com/argocd, https://*.example.com, http://10.0.0.0/8:8080";

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host name (lower case, no trailing dot).
    Name(String),
    /// Any host name under this suffix (written `*.example.com`; the suffix is `.example.com`).
    Suffix(String),
    /// Exactly this address.
    Address(IpAddr),
    /// Any address in this range.
    Range(IpNet),
}

/// Timeouts and caps for requests to one target.
///
/// A response body reaches the plugin as a stream either way (the host never holds one); the
/// caps say how much of it the plugin may read. `response_bytes` (`max_response`) bounds a
/// body the plugin reads whole into its memory, the default. `streamed_bytes` (`max_streamed`)
/// bounds a body the plugin declared it reads as a stream, keeping only bounded data (the
/// SDK's `send_streamed` sets the [`STREAM_HEADER`](super::STREAM_HEADER) request header the
/// host removes before sending): a list of ten thousand Argo CD applications runs past 100 MB
/// but becomes a page of rows and some counts. The host cannot see what a plugin keeps; a
/// plugin that declared a stream and holds it anyway runs into its own linear-memory limit,
/// not the host's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLimits {
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for a whole request, from sending to the last byte of the response.
    pub timeout: Duration,
    /// Largest response body a plugin may read whole (buffered).
    pub response_bytes: usize,
    /// Largest response body a plugin may read as a stream.
    pub streamed_bytes: usize,
}

/// The default `max_streamed`.
pub const DEFAULT_STREAMED_BYTES: usize = 1 << 30;

impl Default for TargetLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            response_bytes: 32 << 20,
            streamed_bytes: DEFAULT_STREAMED_BYTES,
        }
    }
}

impl TargetLimits {
    /// The cap on a response body read whole (`streamed` false) or as a stream.
    pub fn body_cap(&self, streamed: bool) -> usize {
        if streamed {
            self.streamed_bytes
        } else {
            self.response_bytes
        }
    }
}

/// One endpoint an instance may call, and how the host talks to it.
#[derive(Debug, Clone)]
pub struct Target {
    name: String,
    written: String,
    scheme: String,
    host: HostPattern,
    port: u16,
    path_prefix: String,
    decoded_prefix: String,
    credentials: Credentials,
    tls: TlsSettings,
    limits: TargetLimits,
    rules: RequestRules,
}

impl Target {
    /// Parses a target from its manifest entry, with no credentials and default settings.
    pub fn parse(name: &str, url: &str) -> Result<Self, TargetError> {
        let parsed = parse_url(url)?;
        let decoded_prefix = NormalUrl::parse(&format!("http://x{}", parsed.prefix))
            .map(|normal| normal.decoded_path().trim_end_matches('/').to_owned())
            .map_err(|error| TargetError(format!("`{url}`: {error}")))?;
        Ok(Self {
            name: name.to_owned(),
            written: url.to_owned(),
            scheme: parsed.scheme,
            host: parsed.host,
            port: parsed.port,
            path_prefix: parsed.prefix,
            decoded_prefix,
            credentials: Credentials::None,
            tls: TlsSettings::default(),
            limits: TargetLimits::default(),
            rules: RequestRules::default(),
        })
    }

    /// This target with `credentials` added to its requests.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// This target with TLS settings of its own.
    pub fn with_tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// This target with its own timeouts and caps.
    pub fn with_limits(mut self, limits: TargetLimits) -> Self {
        self.limits = limits;
        self
    }

    /// This target with its own method, path and header rules.
    pub fn with_rules(mut self, rules: RequestRules) -> Self {
        self.rules = rules;
        self
    }

    /// The method, path and header rules of this target.
    pub fn rules(&self) -> &RequestRules {
        &self.rules
    }

    /// The port every request to this target goes to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The decoded path of `url` below this target's prefix (`url` must match the target).
    pub fn relative_path<'a>(&self, url: &'a NormalUrl) -> &'a str {
        let path = url.decoded_path();
        path.strip_prefix(self.decoded_prefix.as_str())
            .unwrap_or(path)
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

    /// The TLS settings of this target.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// The timeouts and caps of this target.
    pub fn limits(&self) -> &TargetLimits {
        &self.limits
    }

    /// The base URL plugins build requests on: scheme, host, port and path prefix.
    pub fn base_url(&self) -> String {
        let host = match &self.host {
            HostPattern::Name(name) => name.clone(),
            HostPattern::Suffix(suffix) => format!("*{suffix}"),
            HostPattern::Address(IpAddr::V6(v6)) => format!("[{v6}]"),
            HostPattern::Address(v4) => v4.to_string(),
            HostPattern::Range(range) => range.to_string(),
        };
        format!(
            "{}://{}:{}{}",
            self.scheme, host, self.port, self.path_prefix
        )
    }

    /// Whether the normalised `url` is inside this target.
    pub fn matches(&self, url: &NormalUrl) -> bool {
        url.scheme() == self.scheme
            && self.host_matches(&url.host())
            && url.port() == self.port
            && path_within(url.path(), &self.path_prefix)
            && path_within(url.decoded_path(), &self.decoded_prefix)
    }

    fn host_matches(&self, host: &NormalHost<'_>) -> bool {
        match (&self.host, host) {
            (HostPattern::Name(expected), NormalHost::Name(name)) => expected == name,
            (HostPattern::Suffix(suffix), NormalHost::Name(name)) => {
                name.ends_with(suffix.as_str()) && name.len() > suffix.len()
            }
            (HostPattern::Address(expected), NormalHost::Address(address)) => {
                address::canonical(*expected) == *address
            }
            (HostPattern::Range(range), NormalHost::Address(address)) => {
                address::range_contains(range, *address)
            }
            _ => false,
        }
    }

    /// Whether this target names `address` itself (as an address or a range containing it),
    /// which lets host names that resolve to it through the address policy.
    pub fn covers_address(&self, address: IpAddr) -> bool {
        match &self.host {
            HostPattern::Address(expected) => {
                address::canonical(*expected) == address::canonical(address)
            }
            HostPattern::Range(range) => address::range_contains(range, address),
            _ => false,
        }
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

struct ParsedUrl {
    scheme: String,
    host: HostPattern,
    port: u16,
    prefix: String,
}

fn parse_url(written: &str) -> Result<ParsedUrl, TargetError> {
    let (scheme, rest) = written
        .split_once("://")
        .ok_or_else(|| TargetError(format!("`{written}` has no scheme; {FORM}")))?;
    if scheme != "http" && scheme != "https" {
        return Err(TargetError(format!(
            "`{written}`: scheme `{scheme}` is not supported; use http or https"
        )));
    }
    if let Some((range, rest)) = split_range(rest) {
        return parse_range(written, scheme, range, rest);
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
    check_shape(written, rest, wildcard, &url)?;
    let host = match url.host() {
        Some(url::Host::Domain(name)) if wildcard => {
            HostPattern::Suffix(name.trim_start_matches("wildcard").to_owned())
        }
        Some(url::Host::Domain(name)) => HostPattern::Name(name.trim_end_matches('.').to_owned()),
        Some(url::Host::Ipv4(v4)) => HostPattern::Address(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => HostPattern::Address(address::canonical(IpAddr::V6(v6))),
        None => return Err(TargetError(format!("`{written}` has no host; {FORM}"))),
    };
    Ok(ParsedUrl {
        scheme: scheme.to_owned(),
        host,
        port: url.port_or_known_default().unwrap_or(default_port(scheme)),
        prefix: url.path().trim_end_matches('/').to_owned(),
    })
}

fn check_shape(written: &str, rest: &str, wildcard: bool, url: &Url) -> Result<(), TargetError> {
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
    Ok(())
}

/// Splits `10.0.0.0/8[:port][/path]` or `[fd00::/8][:port][/path]` into the range and the rest.
fn split_range(rest: &str) -> Option<(&str, &str)> {
    if let Some(inner) = rest.strip_prefix('[') {
        let (bracketed, after) = inner.split_once(']')?;
        return bracketed.contains('/').then_some((bracketed, after));
    }
    let (address, after) = rest.split_once('/')?;
    address.parse::<std::net::Ipv4Addr>().ok()?;
    let digits = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    let next = after[digits..].chars().next();
    (digits > 0 && matches!(next, None | Some(':') | Some('/')))
        .then(|| rest.split_at(address.len() + 1 + digits))
}

fn parse_range(
    written: &str,
    scheme: &str,
    range: &str,
    rest: &str,
) -> Result<ParsedUrl, TargetError> {
    let net: IpNet = range.parse().map_err(|_| {
        TargetError(format!(
            "`{written}`: `{range}` is not a CIDR range; write e.g. 10.0.0.0/8 or [fd00::/8]"
        ))
    })?;
    if net.trunc() != net {
        return Err(TargetError(format!(
            "`{written}`: `{range}` has host bits set; did you mean {}?",
            net.trunc()
        )));
    }
    let url = Url::parse(&format!("{scheme}://range{rest}")).map_err(|error| {
        TargetError(format!("`{written}` is not a valid URL ({error}); {FORM}"))
    })?;
    check_shape(written, rest, false, &url)?;
    Ok(ParsedUrl {
        scheme: scheme.to_owned(),
        host: HostPattern::Range(net),
        port: url.port_or_known_default().unwrap_or(default_port(scheme)),
        prefix: url.path().trim_end_matches('/').to_owned(),
    })
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(target_url: &str, request: &str) -> bool {
        let target = Target::parse("t", target_url).unwrap();
        NormalUrl::parse(request).is_ok_and(|url| target.matches(&url))
    }

    #[test]
    fn path_prefix_matches_on_segment_boundaries() {
        let prefix = "https://a.example/argocd";
        assert!(allows(
            prefix,
            "https://a.example/argocd/api/v1/applications"
        ));
        assert!(allows(prefix, "https://a.example/argocd"));
        assert!(!allows(prefix, "https://a.example/argocdx"));
        assert!(!allows(prefix, "https://a.example/argocd/../admin"));
        assert!(!allows(prefix, "https://a.example/argocd/%2e%2e/admin"));
        assert!(!allows(prefix, "https://a.example/argocd/..%2fadmin"));
        assert!(!allows(
            prefix,
            "https://a.example/argocd%2f..%2f..%2fadmin"
        ));
        // Both spellings must be inside: an encoded prefix fails closed.
        assert!(!allows(prefix, "https://a.example/arg%6Fcd/api"));
        assert!(allows(
            prefix,
            "https://a.example/argocd/api/v1/clusters/https%3A%2F%2Fkubernetes.default.svc"
        ));
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        assert!(allows("https://a.example", "https://a.example:443/x"));
        assert!(allows("https://a.example", "https://A.Example./x"));
        assert!(!allows("https://a.example", "http://a.example/x"));
        assert!(!allows("https://a.example", "https://a.example:8443/x"));
        assert!(!allows("https://a.example", "https://b.example/x"));
        assert!(!allows(
            "https://a.example",
            "https://a.example@b.example/x"
        ));
        assert!(allows("http://127.0.0.1:8080", "http://127.0.0.1:8080/"));
        assert!(!allows("http://127.0.0.1:8080", "http://localhost:8080/"));
        assert!(!allows("http://a.example:8080", "http://127.0.0.1:8080/"));
    }

    #[test]
    fn addresses_match_in_every_spelling() {
        let target = "http://127.0.0.1:8080";
        for spelling in [
            "http://2130706433:8080/",
            "http://0x7f000001:8080/",
            "http://[::ffff:127.0.0.1]:8080/",
        ] {
            assert!(allows(target, spelling), "{spelling}");
        }
        assert!(allows("http://[::ffff:10.0.0.1]", "http://10.0.0.1/"));
        assert!(allows("http://[fd00::7]:8080", "http://[fd00:0::7]:8080/"));
    }

    #[test]
    fn cidr_ranges_match_addresses_inside_them() {
        assert!(allows("http://10.0.0.0/8:8080", "http://10.1.2.3:8080/x"));
        assert!(!allows("http://10.0.0.0/8:8080", "http://11.1.2.3:8080/x"));
        assert!(!allows("http://10.0.0.0/8:8080", "http://10.1.2.3:8081/x"));
        assert!(allows("https://10.0.0.0/8", "https://10.9.9.9/"));
        assert!(allows("http://10.0.0.0/8/api", "http://10.9.9.9/api/v1"));
        assert!(!allows("http://10.0.0.0/8/api", "http://10.9.9.9/other"));
        assert!(allows("http://[fd00::/8]:80", "http://[fd12::1]/"));
        assert!(!allows("http://10.0.0.0/8", "http://ten.example/"));
        assert!(allows("http://10.1.2.3/32/24", "http://10.1.2.3/24/x"));
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        assert!(allows(
            "https://*.example.com",
            "https://argocd.example.com/"
        ));
        assert!(allows("https://*.example.com", "https://a.b.example.com/"));
        assert!(!allows("https://*.example.com", "https://example.com/"));
        assert!(!allows("https://*.example.com", "https://evilexample.com/"));
        assert!(!allows("https://*.example.com", "https://10.0.0.1/"));
    }

    #[test]
    fn addresses_named_by_targets_are_covered() {
        let range = Target::parse("t", "http://127.0.0.0/8:8080").unwrap();
        assert!(range.covers_address("127.0.0.9".parse().unwrap()));
        assert!(range.covers_address("::ffff:127.0.0.9".parse().unwrap()));
        let name = Target::parse("t", "http://fake.test:8080").unwrap();
        assert!(!name.covers_address("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_target_urls_say_how_to_write_them() {
        for (bad, hint) in [
            ("argocd.example.com", "has no scheme"),
            ("ftp://a.example", "use http or https"),
            ("https://u:p@a.example", "`auth`"),
            ("https://a.example/?q=1", "query"),
            ("https://*", "wildcard"),
            ("https://a*.example", "wildcard"),
            ("http://10.0.0.1/8", "host bits"),
            ("http://[fd00::/200]", "not a CIDR range"),
        ] {
            let error = Target::parse("t", bad).unwrap_err().to_string();
            assert!(error.contains(hint), "{bad}: {error}");
        }
    }
}

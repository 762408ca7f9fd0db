//! One spelling per URL: what a plugin asked for, reduced to the form targets are matched on.
//!
//! The WHATWG parser (the `url` crate) already lower-cases host names, decodes percent-encoded
//! host bytes, reads IPv4 in decimal, octal and hex (`2130706433`, `0177.0.0.1`, `0x7f.1`) as
//! dotted quads, turns `\` into `/` and resolves `.`/`..` segments (also as `%2e%2e`). On top
//! of that this module refuses user info and non-HTTP schemes, drops a host name's trailing
//! dot, turns IPv6 spellings of an IPv4 address into that address, and computes the fully
//! percent-decoded path, so a path prefix can be checked on what the upstream will decode.

use std::net::IpAddr;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

use super::address;
use crate::events::RefusalReason;

/// Why a URL cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The URL does not parse.
    #[error("the URL does not parse ({0})")]
    Unparsable(url::ParseError),
    /// A redirect's `Location` does not parse against the URL it came from.
    #[error("the redirect target `{location}` does not parse ({error})")]
    BadLocation {
        /// The `Location` header.
        location: String,
        /// Why it does not parse.
        error: url::ParseError,
    },
    /// Not `http` or `https`.
    #[error("scheme `{0}` is not allowed; only http and https leave the sandbox")]
    Scheme(String),
    /// `user@host`.
    #[error("URLs with user info (`user@host`) are refused")]
    UserInfo,
    /// A host name of dots only.
    #[error("the URL's host is empty")]
    EmptyHost,
    /// No host at all.
    #[error("the URL has no host")]
    NoHost,
    /// A host the URL parser refuses once canonicalised.
    #[error("the URL's host is invalid ({0})")]
    InvalidHost(url::ParseError),
}

impl UrlError {
    /// The kind of refusal this is.
    pub fn reason(&self) -> RefusalReason {
        match self {
            UrlError::Scheme(_) => RefusalReason::Scheme,
            UrlError::UserInfo => RefusalReason::UserInfo,
            _ => RefusalReason::BadUrl,
        }
    }
}

/// A request URL in canonical form.
#[derive(Debug, Clone)]
pub struct NormalUrl {
    url: Url,
    decoded_path: String,
}

/// The host of a [`NormalUrl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalHost<'a> {
    /// A host name, lower-case, without a trailing dot.
    Name(&'a str),
    /// An IP address, canonical (see [`address::canonical`]).
    Address(IpAddr),
}

impl NormalUrl {
    /// Parses and normalises `raw`; the error says why it cannot be sent.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let url = Url::parse(raw).map_err(UrlError::Unparsable)?;
        Self::from_url(url)
    }

    /// Resolves `location` (a redirect's `Location`) against this URL and normalises it.
    pub fn join(&self, location: &str) -> Result<Self, UrlError> {
        let url = self
            .url
            .join(location)
            .map_err(|error| UrlError::BadLocation {
                location: location.to_owned(),
                error,
            })?;
        Self::from_url(url)
    }

    fn from_url(mut url: Url) -> Result<Self, UrlError> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(UrlError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::UserInfo);
        }
        canonicalise_host(&mut url)?;
        url.set_fragment(None);
        let decoded_path = decoded_path(url.path());
        Ok(Self { url, decoded_path })
    }

    /// The URL to send.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The scheme, `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// The host.
    pub fn host(&self) -> NormalHost<'_> {
        match self.url.host() {
            Some(Host::Domain(name)) => NormalHost::Name(name),
            Some(Host::Ipv4(v4)) => NormalHost::Address(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => NormalHost::Address(IpAddr::V6(v6)),
            None => unreachable!("http(s) URLs always have a host"),
        }
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.url
            .port_or_known_default()
            .expect("http(s) URLs have a default port")
    }

    /// The path as it will be sent (percent-encoding kept, dot segments resolved).
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// The path fully percent-decoded, with dot segments resolved again afterwards: what an
    /// upstream that decodes `%2F` or `%2E` would see.
    pub fn decoded_path(&self) -> &str {
        &self.decoded_path
    }

    /// The URL without query or fragment, for messages and audit records (queries can carry
    /// tokens), cut to [`MAX_SHOWN`](super::audit::MAX_SHOWN) bytes.
    pub fn shown(&self) -> String {
        let mut shown = self.url.clone();
        shown.set_query(None);
        super::audit::clean(shown.as_str())
    }
}

fn canonicalise_host(url: &mut Url) -> Result<(), UrlError> {
    let replacement = match url.host() {
        Some(Host::Domain(name)) if name.ends_with('.') => {
            let trimmed = name.trim_end_matches('.');
            if trimmed.is_empty() {
                return Err(UrlError::EmptyHost);
            }
            Some(trimmed.to_owned())
        }
        Some(Host::Ipv6(v6)) => match address::canonical(IpAddr::V6(v6)) {
            IpAddr::V4(v4) => Some(v4.to_string()),
            IpAddr::V6(_) => None,
        },
        Some(_) => None,
        None => return Err(UrlError::NoHost),
    };
    if let Some(host) = replacement {
        url.set_host(Some(&host)).map_err(UrlError::InvalidHost)?;
    }
    Ok(())
}

fn decoded_path(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']).skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(raw: &str) -> String {
        match NormalUrl::parse(raw).unwrap().host() {
            NormalHost::Name(name) => name.to_owned(),
            NormalHost::Address(address) => address.to_string(),
        }
    }

    #[test]
    fn loopback_spellings_become_one_address() {
        for raw in [
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert_eq!(host_of(raw), "127.0.0.1", "{raw}");
        }
    }

    #[test]
    fn host_names_lose_case_and_trailing_dot() {
        assert_eq!(host_of("http://LocalHost./"), "localhost");
        assert_eq!(host_of("http://%6cocalhost/"), "localhost");
        assert_eq!(
            NormalUrl::parse("http://a.example./x")
                .unwrap()
                .url()
                .as_str(),
            "http://a.example/x"
        );
    }

    #[test]
    fn user_info_and_other_schemes_are_refused() {
        let reason = |raw: &str| NormalUrl::parse(raw).unwrap_err().reason();
        assert_eq!(
            reason("https://allowed.example@evil.example/"),
            RefusalReason::UserInfo
        );
        assert_eq!(reason("https://u:p@a.example/"), RefusalReason::UserInfo);
        assert_eq!(reason("ftp://a.example/"), RefusalReason::Scheme);
        assert_eq!(reason("file:///etc/passwd"), RefusalReason::Scheme);
        assert_eq!(reason("http://[::1/"), RefusalReason::BadUrl);
    }

    #[test]
    fn dot_segments_are_resolved_before_and_after_decoding() {
        let url = NormalUrl::parse("http://a/argocd/%2e%2e/admin").unwrap();
        assert_eq!(url.path(), "/admin");
        let url = NormalUrl::parse("http://a/argocd/..%2fadmin").unwrap();
        assert_eq!(url.path(), "/argocd/..%2fadmin");
        assert_eq!(url.decoded_path(), "/admin");
        let url = NormalUrl::parse("http://a/argocd\\..\\admin").unwrap();
        assert_eq!(url.path(), "/admin");
    }

    #[test]
    fn redirects_resolve_relative_locations() {
        let base = NormalUrl::parse("https://a.example/argocd/api/v1/x").unwrap();
        assert_eq!(
            base.join("../v2/y").unwrap().url().as_str(),
            "https://a.example/argocd/api/v2/y"
        );
        assert_eq!(
            base.join("http://[::ffff:169.254.169.254]/")
                .unwrap()
                .shown(),
            "http://169.254.169.254/"
        );
    }
}

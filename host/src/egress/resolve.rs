//! Name resolution for plugin traffic, with the address policy applied after DNS.
//!
//! A target's host name says nothing about where it points: a hostile or stale DNS record can
//! send an allowed name to `127.0.0.1` or the cloud metadata address. Every address a name
//! resolves to is therefore checked: loopback, link-local, metadata, unspecified, multicast,
//! broadcast and documentation addresses are dropped unless a target names that address or a
//! range containing it, on the same port: each target's client has its own resolver
//! ([`GuardedResolver::for_target`]), so a name that resolves to loopback reaches only the
//! port a loopback target allows, never another target's port with that target's credential.
//! The check uses an address's canonical form; the connection goes to the address DNS gave
//! (an IPv4-embedded IPv6 answer from DNS64 stays IPv6). Operators (and tests) can pin names to
//! addresses with resolve overrides, like curl's `--resolve`; the policy applies to those too.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::address;
use super::target::Target;

/// A resolve override that does not parse; the message names the entry and the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Not `HOST=ADDR[,ADDR...]`.
    #[error("resolve override `{0}` should look like HOST=ADDR[,ADDR...]")]
    Form(String),
    /// No host before `=`.
    #[error("resolve override `{0}` has no host name")]
    NoHost(String),
    /// An address that is not one.
    #[error("resolve override `{entry}`: `{address}` is not an IP address")]
    Address {
        /// The entry.
        entry: String,
        /// The text that is not an address.
        address: String,
    },
}

/// Fixed name → address mappings, consulted before DNS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveOverrides(BTreeMap<String, Vec<IpAddr>>);

impl ResolveOverrides {
    /// Parses `HOST=ADDR[,ADDR...]` entries; the error says which entry is wrong and why.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, ResolveError> {
        let mut map = BTreeMap::new();
        for entry in entries {
            let (host, addresses) = entry
                .split_once('=')
                .ok_or_else(|| ResolveError::Form(entry.to_owned()))?;
            let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
            if host.is_empty() {
                return Err(ResolveError::NoHost(entry.to_owned()));
            }
            let addresses = addresses
                .split(',')
                .map(|text| {
                    text.trim()
                        .trim_matches(['[', ']'])
                        .parse::<IpAddr>()
                        .map_err(|_| ResolveError::Address {
                            entry: entry.to_owned(),
                            address: text.to_owned(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            map.insert(host, addresses);
        }
        Ok(Self(map))
    }

    fn get(&self, host: &str) -> Option<&[IpAddr]> {
        self.0.get(host).map(Vec::as_slice)
    }
}

/// A name resolved only to addresses the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name} resolves only to refused addresses ({addresses}); if this is intended, add a target for the address itself, e.g. http://{example}:<port>"
)]
pub struct AddressRefused {
    name: String,
    addresses: String,
    example: String,
}

/// The resolver of one instance's HTTP client.
#[derive(Clone)]
pub struct GuardedResolver {
    overrides: Arc<ResolveOverrides>,
    targets: Arc<[Target]>,
}

impl GuardedResolver {
    /// A resolver that lets through special addresses only when one of `targets` names them.
    pub fn new(overrides: Arc<ResolveOverrides>, targets: Arc<[Target]>) -> Self {
        Self { overrides, targets }
    }

    /// The resolver of target `index`'s client: special addresses only where a target names
    /// them on that target's port.
    pub fn for_target(overrides: Arc<ResolveOverrides>, targets: &[Target], index: usize) -> Self {
        let port = targets[index].port();
        let same_port: Vec<Target> = targets
            .iter()
            .filter(|target| target.port() == port)
            .cloned()
            .collect();
        Self::new(overrides, same_port.into())
    }

    /// Keeps the addresses the policy allows; errors when none is left.
    fn filter(&self, name: &str, found: Vec<IpAddr>) -> Result<Vec<IpAddr>, AddressRefused> {
        let mut refused = Vec::new();
        let mut allowed = Vec::new();
        for found in found {
            let canonical = address::canonical(found);
            match address::refused_range(canonical) {
                Some(range) if !self.targets.iter().any(|t| t.covers_address(canonical)) => {
                    refused.push(format!("{canonical}: {range}"));
                }
                _ => allowed.push(found),
            }
        }
        if allowed.is_empty() {
            let example = refused
                .first()
                .and_then(|text| text.split(": ").next())
                .unwrap_or("ADDR")
                .to_owned();
            return Err(AddressRefused {
                name: name.to_owned(),
                addresses: refused.join(", "),
                example,
            });
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<IpAddr> = match resolver.overrides.get(&host) {
                Some(pinned) => pinned.to_vec(),
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .map(|socket| socket.ip())
                    .collect(),
            };
            let allowed = resolver.filter(&host, found)?;
            let addrs: Addrs = Box::new(
                allowed
                    .into_iter()
                    .map(|address| SocketAddr::new(address, 0)),
            );
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(targets: &[&str]) -> GuardedResolver {
        let targets: Vec<Target> = targets
            .iter()
            .map(|url| Target::parse("t", url).unwrap())
            .collect();
        GuardedResolver::new(Arc::default(), targets.into())
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    #[test]
    fn special_addresses_are_dropped_and_named() {
        let guard = resolver(&["http://api.example"]);
        let error = guard
            .filter("api.example", ips(&["169.254.169.254", "::ffff:127.0.0.1"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("169.254.169.254: link-local"), "{error}");
        assert!(error.contains("127.0.0.1: loopback"), "{error}");
        let kept = guard
            .filter("api.example", ips(&["127.0.0.1", "10.0.0.5"]))
            .unwrap();
        assert_eq!(kept, ips(&["10.0.0.5"]));
    }

    #[test]
    fn targets_naming_an_address_let_it_through() {
        let guard = resolver(&["http://fake.test:8080", "http://127.0.0.0/8:8080"]);
        assert_eq!(
            guard.filter("fake.test", ips(&["127.0.0.1"])).unwrap(),
            ips(&["127.0.0.1"])
        );
        assert!(
            guard
                .filter("fake.test", ips(&["169.254.169.254"]))
                .is_err()
        );
    }

    #[test]
    fn a_special_address_is_allowed_only_on_the_port_of_the_target_naming_it() {
        let targets: Vec<Target> = [
            "http://fake.test:8080",
            "http://other.test:9090",
            "http://127.0.0.1:9090",
        ]
        .iter()
        .map(|url| Target::parse("t", url).unwrap())
        .collect();
        let loopback = ips(&["127.0.0.1"]);
        let first = GuardedResolver::for_target(Arc::default(), &targets, 0);
        let error = first.filter("fake.test", loopback.clone()).unwrap_err();
        assert!(error.to_string().contains("127.0.0.1: loopback"), "{error}");
        let second = GuardedResolver::for_target(Arc::default(), &targets, 1);
        assert_eq!(
            second.filter("other.test", loopback.clone()).unwrap(),
            loopback
        );
    }

    #[test]
    fn the_address_dns_gave_is_kept_and_only_checked_canonically() {
        let guard = resolver(&["http://api.example"]);
        let dns64 = ips(&["64:ff9b::a00:5"]);
        assert_eq!(guard.filter("api.example", dns64.clone()).unwrap(), dns64);
        assert!(
            guard
                .filter("api.example", ips(&["64:ff9b::7f00:1"]))
                .is_err()
        );
        assert!(
            guard
                .filter("api.example", ips(&["::ffff:169.254.169.254"]))
                .is_err()
        );
    }

    #[test]
    fn overrides_parse_like_curl_resolve_without_the_port() {
        let overrides =
            ResolveOverrides::parse(["Fake.Test.=127.0.0.1", "six.test=[::1],10.0.0.1"]).unwrap();
        assert_eq!(overrides.get("fake.test"), Some(&ips(&["127.0.0.1"])[..]));
        assert_eq!(overrides.get("six.test").unwrap().len(), 2);
        assert!(ResolveOverrides::parse(["nohost"]).is_err());
        assert!(ResolveOverrides::parse(["a.test=not-an-ip"]).is_err());
    }
}

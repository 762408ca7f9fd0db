//! Property tests for URL normalisation and target matching: whatever a plugin writes, a URL
//! that matches a target after normalisation is, as sent, inside that target.
//!
//! The oracle re-reads the URL capstan would send with another parser (`http::Uri`, what the
//! HTTP client sends from) and decodes its path once, as Go's `net/http` (Argo CD, the
//! Kubernetes API server) does, so it does not share the gate's own parsing. Cases default to
//! proptest's 256; `PROPTEST_CASES` raises them (`./dev bench` runs many more).

use std::net::IpAddr;

use ipnet::IpNet;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;

use super::address;
use super::normalise::NormalUrl;
use super::target::Target;

/// A target as the oracle understands it, written independently of [`Target`]'s parser.
struct Spec {
    url: &'static str,
    scheme: &'static str,
    host: HostSpec,
    port: u16,
    prefix: &'static str,
}

enum HostSpec {
    Name(&'static str),
    Suffix(&'static str),
    Range(&'static str),
}

const SPECS: &[Spec] = &[
    Spec {
        url: "https://argocd.example.test/argocd",
        scheme: "https",
        host: HostSpec::Name("argocd.example.test"),
        port: 443,
        prefix: "/argocd",
    },
    Spec {
        url: "http://127.0.0.1:8080/api/v1",
        scheme: "http",
        host: HostSpec::Range("127.0.0.1/32"),
        port: 8080,
        prefix: "/api/v1",
    },
    Spec {
        url: "https://*.clusters.test:6443",
        scheme: "https",
        host: HostSpec::Suffix(".clusters.test"),
        port: 6443,
        prefix: "",
    },
    Spec {
        url: "http://10.0.0.0/8:8443/k8s",
        scheme: "http",
        host: HostSpec::Range("10.0.0.0/8"),
        port: 8443,
        prefix: "/k8s",
    },
    Spec {
        url: "http://[fd00::/8]/x",
        scheme: "http",
        host: HostSpec::Range("fd00::/8"),
        port: 80,
        prefix: "/x",
    },
];

fn scheme() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["http", "https", "HTTP", "HtTpS", "ftp", "file", "ws"])
}

fn userinfo() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "",
        "",
        "user@",
        "u:p@",
        "argocd.example.test@",
        ":@",
    ])
}

fn host() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "argocd.example.test",
        "ARGOCD.Example.Test",
        "argocd.example.test.",
        "%61rgocd.example.test",
        "argocd.example.test.evil.test",
        "evil.test",
        "example.test",
        "a.clusters.test",
        "clusters.test",
        ".clusters.test",
        "x.a.CLUSTERS.test.",
        "evilclusters.test",
        "127.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[::1]",
        "10.1.2.3",
        "012.1.2.3",
        "167772161",
        "[::ffff:10.0.0.1]",
        "11.0.0.1",
        "[fd00::1]",
        "[fe00::1]",
        "169.254.169.254",
        "localhost",
        "",
    ])
}

fn port() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "", ":80", ":443", ":8080", ":08080", ":6443", ":8443", ":0", ":65536", ":",
    ])
}

fn segment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "argocd",
        "api",
        "v1",
        "k8s",
        "x",
        "admin",
        "applications",
        "..",
        ".",
        "%2e%2e",
        "%2E.",
        ".%2e",
        "%2e",
        "..%2f",
        "..%2F..",
        "%2f",
        "%5c",
        "..\\",
        "\\..",
        "%00",
        "%252e%252e",
        "%25",
        "",
        "argocdx",
        "api%2fv1",
        "%61pi",
        "v1%2f..%2f..",
        "a b",
        "é",
    ])
}

fn tail() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "",
        "/",
        "?q=1",
        "?x=/../admin",
        "#frag",
        "#/../admin",
        "?a#b",
        "//evil.test/",
    ])
}

/// URLs built from the pieces attackers combine: odd schemes, user info, host spellings,
/// ports and path segments with every encoding of a dot segment.
fn hostile_url() -> impl Strategy<Value = String> {
    (
        scheme(),
        userinfo(),
        host(),
        port(),
        prop::collection::vec(segment(), 0..7),
        tail(),
    )
        .prop_map(|(scheme, userinfo, host, port, segments, tail)| {
            let path: String = segments.iter().map(|s| format!("/{s}")).collect();
            format!("{scheme}://{userinfo}{host}{port}{path}{tail}")
        })
}

/// Spellings of each target's own host and port, so that many cases get past the host and
/// port checks and exercise the path rules.
const NEAR: &[(&str, &[&str])] = &[
    (
        "https://",
        &[
            "argocd.example.test",
            "ARGOCD.example.test.",
            "argocd.example.test:443",
        ],
    ),
    (
        "http://",
        &[
            "127.0.0.1:8080",
            "2130706433:8080",
            "[::ffff:127.0.0.1]:8080",
            "127.1:08080",
        ],
    ),
    (
        "https://",
        &["a.clusters.test:6443", "X.Y.clusters.test.:6443"],
    ),
    (
        "http://",
        &["10.9.8.7:8443", "0xa.1.2.3:8443", "[64:ff9b::a00:1]:8443"],
    ),
    ("http://", &["[fd00::1]", "[FD12::]:80"]),
];

/// URLs on a target's own scheme, host and port whose paths start from its prefix, then wander.
fn near_target() -> impl Strategy<Value = String> {
    (
        0..SPECS.len(),
        any::<prop::sample::Index>(),
        prop::collection::vec(segment(), 0..7),
        tail(),
    )
        .prop_map(|(which, spelling, segments, tail)| {
            let (scheme, authorities) = NEAR[which];
            let authority = spelling.get(authorities);
            let path: String = segments.iter().map(|s| format!("/{s}")).collect();
            format!("{scheme}{authority}{}{path}{tail}", SPECS[which].prefix)
        })
}

/// Hostile URLs anywhere, and hostile URLs near each target.
fn any_url() -> impl Strategy<Value = String> {
    prop_oneof![hostile_url(), near_target()]
}

fn parse_targets() -> Vec<(Target, &'static Spec)> {
    SPECS
        .iter()
        .map(|spec| (Target::parse("t", spec.url).expect(spec.url), spec))
        .collect()
}

/// Whether `sent` (the URL capstan sends) is inside `spec`, read without capstan's parser.
fn inside(spec: &Spec, sent: &str) -> Result<(), String> {
    let uri: http::Uri = sent
        .parse()
        .map_err(|error| format!("unsendable: {error}"))?;
    if uri.scheme_str() != Some(spec.scheme) {
        return Err(format!("scheme {:?}", uri.scheme_str()));
    }
    let authority = uri.authority().ok_or("no authority")?;
    if authority.as_str().contains('@') {
        return Err("user info".into());
    }
    let port = authority.port_u16().unwrap_or(match spec.scheme {
        "https" => 443,
        _ => 80,
    });
    if port != spec.port {
        return Err(format!("port {port}"));
    }
    host_inside(&spec.host, authority.host())?;
    let path = uri.path();
    if !within(path, spec.prefix) {
        return Err(format!("path {path} outside {}", spec.prefix));
    }
    let decoded = resolve_dots(&percent_decode_str(path).decode_utf8_lossy());
    if !within(&decoded, spec.prefix) {
        return Err(format!("decoded path {decoded} outside {}", spec.prefix));
    }
    Ok(())
}

fn host_inside(spec: &HostSpec, host: &str) -> Result<(), String> {
    let address = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
        .map(address::canonical);
    let ok = match (spec, address) {
        (HostSpec::Name(name), None) => host.eq_ignore_ascii_case(name),
        (HostSpec::Suffix(suffix), None) => {
            let host = host.to_ascii_lowercase();
            host.ends_with(suffix) && host.len() > suffix.len()
        }
        (HostSpec::Range(range), Some(address)) => {
            let range: IpNet = range.parse().expect("a range");
            range.contains(&address)
        }
        _ => false,
    };
    ok.then_some(()).ok_or_else(|| format!("host {host}"))
}

fn within(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Dot segments resolved as an upstream that also splits on `\` would.
fn resolve_dots(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split(['/', '\\']).skip(1) {
        match segment {
            "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    format!("/{}", kept.join("/"))
}

proptest! {
    #[test]
    fn a_url_that_matches_a_target_is_inside_it_as_sent(raw in any_url()) {
        let Ok(url) = NormalUrl::parse(&raw) else { return Ok(()) };
        for (target, spec) in parse_targets() {
            if target.matches(&url) {
                let sent = url.url().as_str();
                prop_assert!(inside(spec, sent).is_ok(), "{raw} → {sent} matched {}: {:?}",
                    spec.url, inside(spec, sent));
            }
        }
    }

    #[test]
    fn normalising_twice_changes_nothing(raw in any_url()) {
        let Ok(url) = NormalUrl::parse(&raw) else { return Ok(()) };
        let again = NormalUrl::parse(url.url().as_str()).expect("a normal URL parses");
        prop_assert_eq!(again.url().as_str(), url.url().as_str());
        prop_assert_eq!(again.decoded_path(), url.decoded_path());
        for (target, _) in parse_targets() {
            prop_assert_eq!(target.matches(&again), target.matches(&url), "{}", raw);
        }
    }

    #[test]
    fn a_redirect_location_is_held_to_the_same_rules(base in any_url(), location in any_url()) {
        let Ok(base) = NormalUrl::parse(&base) else { return Ok(()) };
        let relative = location.split_once("://").map_or("", |(_, rest)| rest);
        let relative = relative.find('/').map_or("", |at| &relative[at..]);
        for hop in [location.as_str(), relative] {
            let Ok(next) = base.join(hop) else { continue };
            for (target, spec) in parse_targets() {
                if target.matches(&next) {
                    prop_assert!(inside(spec, next.url().as_str()).is_ok(), "{hop}");
                }
            }
        }
    }

    #[test]
    fn no_string_makes_the_parsers_panic(raw in any::<String>(), written in "\\PC{0,40}") {
        let _ = NormalUrl::parse(&raw);
        let _ = NormalUrl::parse(&format!("http://{raw}"));
        let _ = Target::parse("t", &written);
        let _ = Target::parse("t", &format!("https://{written}"));
    }
}

/// The generator is only worth its cases if matching URLs come out of it for every target.
#[test]
fn the_generator_reaches_every_target() {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let targets = parse_targets();
    let mut hits = vec![0; targets.len()];
    for _ in 0..20_000 {
        let raw = any_url().new_tree(&mut runner).unwrap().current();
        let Ok(url) = NormalUrl::parse(&raw) else {
            continue;
        };
        for (hit, (target, _)) in hits.iter_mut().zip(&targets) {
            *hit += usize::from(target.matches(&url));
        }
    }
    assert!(hits.iter().all(|hits| *hits >= 500), "{hits:?}");
}

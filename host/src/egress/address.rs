//! IP addresses as the egress gate sees them: one canonical spelling per address, and the
//! ranges a plugin may never reach by name (loopback, link-local and cloud metadata,
//! unspecified, multicast, broadcast, documentation).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The canonical form of `address`: IPv6 forms that carry an IPv4 address (IPv4-mapped
/// `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) become that IPv4
/// address, so one rule covers every spelling.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(address, IpAddr::V4),
    }
}

fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = v6.segments();
    let low = Ipv4Addr::from(((segments[6] as u32) << 16) | segments[7] as u32);
    let compatible = segments[..6].iter().all(|s| *s == 0) && !low.is_unspecified();
    let compatible = compatible && u32::from(low) > 1; // `::` and `::1` are IPv6 addresses
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (compatible || nat64).then_some(low)
}

/// Why `address` may not be reached through a host name, or `None` when it may.
///
/// Private ranges (RFC 1918, unique-local) are allowed: clusters live there. Cloud metadata
/// endpoints that sit inside allowed ranges are listed on their own.
pub fn refused_range(address: IpAddr) -> Option<&'static str> {
    match canonical(address) {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_link_local() {
        Some("link-local (cloud metadata lives here)")
    } else if a == 0 {
        Some("unspecified (\"this network\")")
    } else if v4.is_multicast() {
        Some("multicast")
    } else if v4.is_broadcast() || a >= 240 {
        Some("broadcast or reserved")
    } else if (a, b, c) == (192, 0, 2) || (a, b, c) == (198, 51, 100) || (a, b, c) == (203, 0, 113)
    {
        Some("documentation")
    } else if v4 == Ipv4Addr::new(100, 100, 100, 200) {
        Some("cloud metadata")
    } else {
        None
    }
}

fn refused_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    if v6.is_loopback() {
        Some("loopback")
    } else if v6.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if v6.is_multicast() {
        Some("multicast")
    } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
        Some("documentation")
    } else if v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) {
        Some("cloud metadata")
    } else {
        None
    }
}

/// True when `range` contains `address`, comparing canonical forms.
pub fn range_contains(range: &IpNet, address: IpAddr) -> bool {
    let address = canonical(address);
    match (range, address) {
        (IpNet::V4(net), IpAddr::V4(v4)) => net.contains(&v4),
        (IpNet::V6(net), IpAddr::V6(v6)) => net.contains(&v6),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_spellings_of_ipv4_are_canonicalised() {
        assert_eq!(canonical(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(canonical(ip("::ffff:7f00:1")), ip("127.0.0.1"));
        assert_eq!(canonical(ip("::169.254.169.254")), ip("169.254.169.254"));
        assert_eq!(canonical(ip("64:ff9b::a9fe:a9fe")), ip("169.254.169.254"));
        assert_eq!(canonical(ip("::1")), ip("::1"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn dangerous_ranges_are_refused_in_every_spelling() {
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fe80::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "192.0.2.10",
            "198.51.100.1",
            "203.0.113.9",
            "2001:db8::5",
            "100.100.100.200",
        ] {
            assert!(refused_range(ip(refused)).is_some(), "{refused}");
        }
    }

    #[test]
    fn public_and_private_ranges_are_allowed() {
        for allowed in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "8.8.8.8",
            "fd12:3456::1",
            "2606:4700::1111",
            "100.64.0.1",
        ] {
            assert_eq!(refused_range(ip(allowed)), None, "{allowed}");
        }
    }

    #[test]
    fn ranges_contain_canonical_addresses() {
        let loopback: IpNet = "127.0.0.0/8".parse().unwrap();
        assert!(range_contains(&loopback, ip("::ffff:127.0.0.2")));
        assert!(!range_contains(&loopback, ip("10.0.0.1")));
    }
}

//! SSRF guard: which addresses a crawler must never connect to.
//!
//! Feed URLs come from configuration and, worse, from redirects chosen by
//! remote servers. A redirect to `http://169.254.169.254/` or to a service on
//! the crawler's own network must not be followed. The guard works at two
//! points:
//!
//! * URLs whose host is an IP literal are checked before any request (hyper
//!   connects to literals without asking the resolver);
//! * host names are resolved by [`GuardedResolver`], reqwest's DNS resolver
//!   for our client. It refuses the name if *any* resolved address is
//!   blocked (a name mixing public and private addresses is a rebinding trick),
//!   and the connection then goes to exactly the addresses it checked, so a
//!   second, different DNS answer cannot slip through. Redirect hops go
//!   through the same resolver.
//!
//! Proxies are disabled on the client: with a proxy the proxy would resolve
//! names and the guard would check nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is blocked, or `None` when it is a public unicast address.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

/// True when `ip` must not be fetched by default: loopback, private
/// (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
/// fe80::/10), CGNAT (100.64/10), unspecified, "this network" (0/8),
/// multicast, broadcast, reserved (240/4), IETF protocol assignments
/// (192.0.0/24, which holds Oracle's metadata address 192.0.0.192), and
/// cloud metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200
/// — all inside the ranges above). IPv4 embedded in IPv6 (mapped,
/// compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) is checked as IPv4.
pub fn is_blocked_ip(ip: IpAddr) -> bool {
    blocked_reason(ip).is_some()
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254)
        || ip == Ipv4Addr::new(100, 100, 100, 200)
        || ip == Ipv4Addr::new(192, 0, 0, 192)
    {
        return Some("cloud metadata");
    }
    if ip.is_unspecified() || o[0] == 0 {
        return Some("unspecified (this-network)");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_private() {
        return Some("private");
    }
    if ip.is_link_local() {
        return Some("link-local");
    }
    // 100.64.0.0/10, carrier-grade NAT: internal to the provider's network.
    if o[0] == 100 && (o[1] & 0xC0) == 64 {
        return Some("carrier-grade NAT (100.64/10)");
    }
    // 192.0.0.0/24: IETF protocol assignments (DS-Lite, NAT64 discovery, metadata).
    if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        return Some("IETF protocol assignment (192.0.0/24)");
    }
    if ip.is_broadcast() {
        return Some("broadcast");
    }
    if ip.is_multicast() {
        return Some("multicast");
    }
    // 240.0.0.0/4, reserved for future use; nothing legitimate serves news there.
    if o[0] >= 240 {
        return Some("reserved (240/4)");
    }
    None
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return blocked_v4(v4);
    }
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // fd00:ec2::254, the AWS IMDS IPv6 endpoint (also inside fc00::/7).
    if seg == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        return Some("cloud metadata");
    }
    if (seg[0] & 0xfe00) == 0xfc00 {
        return Some("unique local (fc00::/7)");
    }
    if (seg[0] & 0xffc0) == 0xfe80 {
        return Some("link-local (fe80::/10)");
    }
    // fec0::/10, deprecated site-local, still routed internally by some networks.
    if (seg[0] & 0xffc0) == 0xfec0 {
        return Some("site-local (fec0::/10)");
    }
    if ip.is_multicast() {
        return Some("multicast");
    }
    None
}

/// The IPv4 address carried inside an IPv6 address, for the forms that end
/// up delivering packets to that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    // ::ffff:a.b.c.d (mapped)
    if seg[..5] == [0, 0, 0, 0, 0] && seg[5] == 0xffff {
        return Some(tail);
    }
    // ::a.b.c.d (deprecated compatible form); ::1 and :: are handled as IPv6.
    if seg[..6] == [0, 0, 0, 0, 0, 0] && (seg[6] != 0 || seg[7] > 1) {
        return Some(tail);
    }
    // 64:ff9b::a.b.c.d (NAT64 well-known prefix)
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    // 2002:AABB:CCDD::/48 (6to4) embeds AA.BB.CC.DD
    if seg[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// The address policy shared by the pre-request check and the resolver.
#[derive(Debug, Clone)]
pub(crate) struct AddressPolicy {
    /// Permit everything (tests, intranet deployments).
    pub allow_private: bool,
    /// Individual addresses exempt from the guard.
    pub allow: Vec<IpAddr>,
}

impl AddressPolicy {
    /// `Some(reason)` if connecting to `ip` is refused.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private || self.allow.contains(&canonical(ip)) || self.allow.contains(&ip) {
            return None;
        }
        blocked_reason(ip)
    }
}

/// IPv4-mapped IPv6 compares equal to its IPv4 form in the allow list.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Error raised inside the resolver when a name resolves to a blocked address.
/// Recovered by downcasting from reqwest's error chain.
#[derive(Debug)]
pub(crate) struct BlockedAddress {
    pub host: String,
    pub addr: IpAddr,
    pub reason: &'static str,
}

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {}, a {} address",
            self.host, self.addr, self.reason
        )
    }
}

impl std::error::Error for BlockedAddress {}

/// Error raised inside the resolver when the lookup itself fails.
#[derive(Debug)]
pub(crate) struct DnsFailure {
    pub host: String,
    pub reason: String,
}

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lookup of {} failed: {}", self.host, self.reason)
    }
}

impl std::error::Error for DnsFailure {}

/// reqwest resolver that resolves with the system resolver (tokio's
/// `lookup_host`, i.e. getaddrinfo on the blocking pool) and refuses names
/// with any blocked address.
pub(crate) struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let looked_up = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map(|it| it.collect::<Vec<SocketAddr>>());
            let addrs = match looked_up {
                Ok(addrs) => addrs,
                Err(e) => {
                    return Err(Box::new(DnsFailure {
                        host,
                        reason: e.to_string(),
                    })
                        as Box<dyn std::error::Error + Send + Sync>)
                }
            };
            if addrs.is_empty() {
                return Err(Box::new(DnsFailure {
                    host,
                    reason: "no addresses".to_string(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            for a in &addrs {
                if let Some(reason) = policy.refuses(a.ip()) {
                    return Err(Box::new(BlockedAddress {
                        host,
                        addr: a.ip(),
                        reason,
                    })
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_internal_ranges() {
        for s in [
            "169.254.169.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "100.100.100.200",
            "192.0.0.192",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(is_blocked_ip(ip(s)), "{s} must be blocked");
        }
    }

    #[test]
    fn allows_public_addresses() {
        for s in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_blocked_ip(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn reasons_are_specific() {
        assert_eq!(
            blocked_reason(ip("169.254.169.254")),
            Some("cloud metadata")
        );
        assert_eq!(blocked_reason(ip("127.0.0.1")), Some("loopback"));
        assert_eq!(blocked_reason(ip("::1")), Some("loopback"));
        assert_eq!(blocked_reason(ip("10.0.0.1")), Some("private"));
    }

    #[test]
    fn policy_allow_list_and_switch() {
        let p = AddressPolicy {
            allow_private: false,
            allow: vec![ip("127.0.0.1")],
        };
        assert_eq!(p.refuses(ip("127.0.0.1")), None);
        assert_eq!(p.refuses(ip("::ffff:127.0.0.1")), None);
        assert_eq!(p.refuses(ip("127.0.0.2")), Some("loopback"));
        let open = AddressPolicy {
            allow_private: true,
            allow: vec![],
        };
        assert_eq!(open.refuses(ip("169.254.169.254")), None);
    }

    #[tokio::test]
    async fn resolver_refuses_localhost() {
        let r = GuardedResolver {
            policy: Arc::new(AddressPolicy {
                allow_private: false,
                allow: vec![],
            }),
        };
        let name: Name = "localhost".parse().unwrap();
        let err = match r.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(e) => e,
        };
        let blocked = err
            .downcast_ref::<BlockedAddress>()
            .expect("a BlockedAddress error");
        assert_eq!(blocked.reason, "loopback");
    }
}

"""Which network addresses an ingest download may connect to: public ones only.

A URL given to `switchboard ingest` (or a redirect it follows) must not reach the server's
own services, its private network or the cloud metadata service. Every address a host
resolves to is checked, on every connection, whatever the spelling of the URL (decimal
2130706433, hex 0x7f.1, octal 0177.0.0.1 and IPv4 inside IPv6 all resolve to what they mean).
`--allow-private` lifts the private-network rule (for an intranet help center, or tests);
cloud metadata endpoints stay refused even then: no help center lives there.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address

_V4 = [(ip_network(net), why) for net, why in (
    ("0.0.0.0/8", "unspecified"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"), ("192.0.2.0/24", "documentation"), ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"), ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"), ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"))]
_V6 = [(ip_network(net), why) for net, why in (
    ("::/128", "unspecified"), ("::1/128", "loopback"), ("::/96", "reserved (IPv4-compatible)"),
    ("64:ff9b:1::/48", "private"), ("100::/64", "reserved"), ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"), ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"), ("fec0::/10", "private (site local)"), ("ff00::/8", "multicast"))]
_NAT64 = ip_network("64:ff9b::/96")

METADATA_ADDRESSES = frozenset(ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
"""AWS, ECS, GCP, Azure, Alibaba and Oracle instance metadata: credentials live there."""
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata",
                            "instance-data", "instance-data.ec2.internal"})


class BlockedAddress(Exception):
    """The download would reach an address it must not; the message says which and why."""


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is what is reached."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, allow_private: bool = False) -> str | None:
    """Why a connection to `ip` is refused, or None when it may go ahead."""
    if isinstance(ip, IPv6Address):
        ip = IPv6Address(str(ip).split("%")[0])  # a scope id does not change where it goes
        inner = embedded_ipv4(ip)
        if inner is not None:
            return refusal(inner, allow_private)
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    if allow_private:
        return None
    for network, why in _V4 if isinstance(ip, IPv4Address) else _V6:
        if ip in network:
            return why
    return None


def check_host(host: str) -> None:
    """Refuse a host name that names a metadata service, whatever it resolves to."""
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise BlockedAddress(f"refused: {host} is a cloud metadata service")


def resolve(host: str, port: int, allow_private: bool = False) -> list[str]:
    """The addresses to connect to for host:port, every one of them checked first."""
    check_host(host)
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise BlockedAddress(f"cannot resolve {host} ({error})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        why = refusal(ip_address(address.split("%")[0]), allow_private)
        if why:
            shown = host if host.strip("[]") == address else f"{host} ({address})"
            hint = "" if why == "cloud metadata" else "; pass --allow-private to allow it"
            raise BlockedAddress(f"refused: {shown} is a {why} address{hint}")
    if not addresses:
        raise BlockedAddress(f"cannot resolve {host}")
    return addresses

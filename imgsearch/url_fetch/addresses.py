"""Address vetting, pure: which IPs a fetch may connect to, including the notations that hide a private one."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from functools import lru_cache

from imgsearch.url_fetch.policy import FetchRefused

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Characters of the legacy inet_aton notations (2130706433, 0x7f.1, 0177.0.0.1, 127.1).
_INET_ATON_HOST = re.compile(r"[0-9a-fA-FxX.]+")


@lru_cache(maxsize=16)
def parse_networks(allowed: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Parse an allow-list of CIDRs or single IPs; raises ValueError on a malformed entry."""
    return tuple(ipaddress.ip_network(entry, strict=True) for entry in allowed)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 transition form (mapped, 6to4, Teredo, NAT64) would deliver to."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _non_public_reason(address: IPAddress) -> str | None:
    # Most specific first: Python also counts loopback and link-local as is_private.
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("shared address space", address in _SHARED_ADDRESS_SPACE),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def _is_allowed(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    # A mapped address is the same host reached over a dual-stack socket, so the allow-list applies to it too.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    candidates = [address] if mapped is None else [address, mapped]
    # Explicit version check: ipaddress compares bare integers when versions differ.
    return any(ip.version == net.version and ip in net for ip in candidates for net in networks)


def refusal_reason(ip: str, allowed: tuple[str, ...]) -> str | None:
    """Why `ip` must not be connected to, or None when it is public or inside `allowed`."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "not an IP address"
    if _is_allowed(address, parse_networks(allowed)):
        return None
    embedded = _embedded_ipv4(address)
    return (_non_public_reason(embedded) if embedded else None) or _non_public_reason(address)


def vet_address(ip: str, allowed: tuple[str, ...]) -> None:
    """Raise FetchRefused unless `ip` is a public address or inside `allowed`."""
    reason = refusal_reason(ip, allowed)
    if reason:
        raise FetchRefused(f"{ip} is not a public address ({reason}); only public addresses can be fetched")


def numeric_host(host: str) -> str | None:
    """The IP a numeric host denotes, including legacy forms the OS would accept, without any DNS query."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _INET_ATON_HOST.fullmatch(host):
        return None
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except OSError:
        return None


def resolve_host(host: str, port: int) -> list[str]:
    """Resolve with the system resolver: every answer, in order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))

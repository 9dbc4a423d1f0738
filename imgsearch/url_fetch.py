"""Fetch images by URL without letting a client reach our own network (SSRF).

Every TCP connection, including each redirect hop, is opened by `_VettedBackend.connect_tcp`: the host is resolved
once, every answer is vetted, and the socket is opened to a vetted IP, so a DNS answer cannot change between the
check and the connect (DNS rebinding). TLS still verifies the hostname: httpcore passes it as SNI when it upgrades
the stream, independently of the address we connected to.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import cast

import httpcore
import httpx

from imgsearch.errors import ImgsearchError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Characters of the legacy inet_aton notations (2130706433, 0x7f.1, 0177.0.0.1, 127.1).
_INET_ATON_HOST = re.compile(r"[0-9a-fA-FxX.]+")
# Addresses tried per host: a resolver answering with many blackholed IPs must not multiply the connect timeout.
_MAX_CONNECT_ATTEMPTS = 3


class FetchRefused(ImgsearchError):
    """The URL points somewhere we will not go: scheme, credentials, non-public address, too many redirects."""

    code = "url_refused"


class FetchTooLarge(FetchRefused):
    code = "too_many_bytes"


class FetchFailed(ImgsearchError):
    """The URL was acceptable but fetching it did not work: timeout, connection error, non-2xx status."""

    code = "url_fetch_failed"


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = 30 * 1024 * 1024
    timeout_s: float = 10.0
    max_redirects: int = 5
    # CIDRs or single IPs allowed although not public (tests allow 127.0.0.1); empty in production.
    allowed_networks: tuple[str, ...] = ()
    user_agent: str = "imgsearch/0.1"


@dataclass(frozen=True)
class FetchedImage:
    url: str
    final_url: str
    data: bytes
    content_type: str | None


# --- address vetting (pure) -------------------------------------------------------------------------------------


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


def _numeric_host(host: str) -> str | None:
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


# --- network backend: check and connect the same address --------------------------------------------------------


class _VettedBackend(httpcore.SyncBackend):
    """Resolves each host once, refuses it if any answer is non-public, and connects only to a vetted IP."""

    def __init__(self, resolve: Resolver, allowed: tuple[str, ...]) -> None:
        self._resolve = resolve
        self._allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._vetted_addresses(host, port)
        last_error = httpcore.ConnectError(f"no address to connect to for {host}")
        for address in addresses[:_MAX_CONNECT_ATTEMPTS]:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error

    def _vetted_addresses(self, host: str, port: int) -> list[str]:
        numeric = _numeric_host(host)
        addresses = [numeric] if numeric else self._lookup(host, port)
        for address in addresses:
            reason = refusal_reason(address, self._allowed)
            if reason:
                # Name the host, not the address: answers of internal DNS are not the client's business.
                raise FetchRefused(f"refusing to fetch from {host}: it resolves to a non-public address ({reason})")
        # Canonical form, so the connect never re-interprets a legacy notation.
        return [str(ipaddress.ip_address(address)) for address in addresses]

    def _lookup(self, host: str, port: int) -> list[str]:
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:  # UnicodeError: the IDNA codec refuses the name (a 64+ label)
            raise FetchFailed(f"could not resolve {host}") from exc
        if not addresses:
            raise FetchFailed(f"could not resolve {host}")
        return addresses


# --- httpx transport over an httpcore pool ---------------------------------------------------------------------

# httpx 0.28 maps httpcore errors only inside HTTPTransport (private helper), so the adapter keeps its own table.
# Order matters: the first match wins, so subclasses come before their bases.
_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except tuple(core for core, _ in _HTTPCORE_ERRORS) as exc:
        mapped = next(mapped for core, mapped in _HTTPCORE_ERRORS if isinstance(exc, core))
        raise mapped(str(exc)) from exc


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, core_stream: Iterable[bytes]) -> None:
        self._core_stream = core_stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._core_stream

    def close(self) -> None:
        close = getattr(self._core_stream, "close", None)
        if close is not None:
            close()


class _PoolTransport(httpx.BaseTransport):
    """Minimal httpx transport over a caller-built httpcore pool: HTTPTransport has no public backend hook."""

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=cast(Iterable[bytes], request.stream),
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            core_response = self._pool.handle_request(core_request)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(cast(Iterable[bytes], core_response.stream)),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


# --- the fetcher ------------------------------------------------------------------------------------------------


def _checked_url(url: str | httpx.URL) -> httpx.URL:
    """Parse with the same parser the request will use, and refuse what no hop may use."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchRefused("not a valid URL") from exc
    if parsed.scheme not in _SCHEMES:
        raise FetchRefused(f"only http and https URLs can be fetched, not {parsed.scheme or 'a relative URL'}")
    if parsed.userinfo:
        raise FetchRefused("URLs with credentials (user:password@) are not fetched")
    if not parsed.host:
        raise FetchRefused("the URL has no host")
    return parsed


def _redirect_target(current: httpx.URL, response: httpx.Response) -> httpx.URL | None:
    location = response.headers.get("location")
    if response.status_code not in _REDIRECT_STATUSES or location is None:
        return None
    try:
        target = current.join(location)
    except httpx.InvalidURL as exc:
        raise FetchRefused(f"{current.host} redirected to an invalid URL") from exc
    return _checked_url(target)


def _timed_out(host: str, timeout_s: float) -> FetchFailed:
    return FetchFailed(f"timed out fetching from {host} (limit {timeout_s:g} s); try a faster host")


def _too_large(host: str, max_bytes: int) -> FetchTooLarge:
    return FetchTooLarge(f"the file at {host} is larger than the {max_bytes}-byte limit")


def _check_headers(host: str, response: httpx.Response, max_bytes: int) -> None:
    if not response.is_success:
        raise FetchFailed(f"{host} answered HTTP {response.status_code}; expected a 2xx status")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # We ask for identity: decoding a compressed body could expand far beyond max_bytes (decompression bomb).
        raise FetchFailed(f"{host} sent a compressed body ({encoding}); only uncompressed bodies are accepted")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(host, max_bytes)


class UrlFetcher:
    """Fetches images by URL under a FetchPolicy; only public http(s) addresses are ever connected to."""

    def __init__(self, policy: FetchPolicy, resolve: Resolver | None = None) -> None:
        parse_networks(policy.allowed_networks)  # fail fast on a malformed allow-list
        self.policy = policy
        backend = _VettedBackend(resolve or resolve_host, policy.allowed_networks)
        pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=20, keepalive_expiry=5.0, network_backend=backend
        )
        self._client = httpx.Client(
            transport=_PoolTransport(pool),
            trust_env=False,  # proxies from the environment would connect on our behalf, unvetted
            follow_redirects=False,  # each hop is re-checked by fetch()
            headers={"User-Agent": policy.user_agent, "Accept": "image/*", "Accept-Encoding": "identity"},
        )

    def fetch(self, url: str, deadline: float | None = None) -> FetchedImage:
        """Download `url`, following vetted redirects; raises FetchRefused, FetchTooLarge or FetchFailed.

        Within the policy's timeout, or by `deadline` (monotonic seconds) when that comes first: the caller's
        budget for all the URLs of one request.
        """
        started = time.monotonic()
        own_deadline = started + self.policy.timeout_s
        deadline = own_deadline if deadline is None else min(deadline, own_deadline)
        try:
            return self._fetch(url, deadline, limit_s=round(max(deadline - started, 0.0), 1))
        except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
            # Whatever part of the URL (or a redirect's) a parser or the IDNA codec chokes on, it is a refusal.
            raise FetchRefused("not a valid URL") from exc

    def _fetch(self, url: str, deadline: float, limit_s: float) -> FetchedImage:
        current = _checked_url(url)
        for _hop in range(self.policy.max_redirects + 1):
            with self._send(current, deadline, limit_s) as response:
                target = _redirect_target(current, response)
                if target is None:
                    _check_headers(current.host, response, self.policy.max_bytes)
                    data = self._read_body(current.host, response, deadline, limit_s)
                    return FetchedImage(url, str(current), data, response.headers.get("content-type"))
            current = target
        raise FetchRefused(f"too many redirects (more than {self.policy.max_redirects})")

    @contextmanager
    def _send(self, url: httpx.URL, deadline: float, limit_s: float) -> Iterator[httpx.Response]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timed_out(url.host, limit_s)
        request = self._client.build_request("GET", url, timeout=httpx.Timeout(remaining))
        try:
            response = self._client.send(request, stream=True)
            try:
                yield response
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise _timed_out(url.host, limit_s) from exc
        except httpx.HTTPError as exc:
            # The class name only: httpx messages may carry the URL, and with it a query string.
            raise FetchFailed(f"could not fetch from {url.host} ({type(exc).__name__})") from exc

    def _read_body(self, host: str, response: httpx.Response, deadline: float, limit_s: float) -> bytes:
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > self.policy.max_bytes:
                raise _too_large(host, self.policy.max_bytes)
            if time.monotonic() > deadline:  # a slow drip of small chunks never trips the read timeout
                raise _timed_out(host, limit_s)
        return bytes(body)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> UrlFetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

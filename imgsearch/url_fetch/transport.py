"""The network layer of a fetch: an httpcore backend that connects only to vetted addresses, and the httpx
transport over its pool (httpx has no public hook for a backend)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import cast

import httpcore
import httpx

from imgsearch.url_fetch.addresses import Resolver, numeric_host, refusal_reason
from imgsearch.url_fetch.policy import FetchFailed, FetchRefused

# Addresses tried per host: a resolver answering with many blackholed IPs must not multiply the connect timeout.
_MAX_CONNECT_ATTEMPTS = 3


class VettedBackend(httpcore.SyncBackend):
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
        numeric = numeric_host(host)
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


class PoolTransport(httpx.BaseTransport):
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

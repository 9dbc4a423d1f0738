"""`UrlFetcher`: downloads one URL under a `FetchPolicy`, re-checking every redirect hop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import httpcore
import httpx

from imgsearch.url_fetch.addresses import Resolver, parse_networks, resolve_host
from imgsearch.url_fetch.policy import FetchedImage, FetchFailed, FetchPolicy, FetchRefused, FetchTooLarge
from imgsearch.url_fetch.transport import PoolTransport, VettedBackend

_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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
        backend = VettedBackend(resolve or resolve_host, policy.allowed_networks)
        pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=20, keepalive_expiry=5.0, network_backend=backend
        )
        self._client = httpx.Client(
            transport=PoolTransport(pool),
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

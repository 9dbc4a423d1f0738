"""What a URL fetch may do (`FetchPolicy`), what it returns, and the three ways it can be refused or fail."""

from __future__ import annotations

from dataclasses import dataclass

from imgsearch.errors import ImgsearchError


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

"""Fetch images by URL without letting a client reach our own network (SSRF).

Every TCP connection, including each redirect hop, is opened by `VettedBackend.connect_tcp` (`transport.py`): the
host is resolved once, every answer is vetted (`addresses.py`), and the socket is opened to a vetted IP, so a DNS
answer cannot change between the check and the connect (DNS rebinding). TLS still verifies the hostname: httpcore
passes it as SNI when it upgrades the stream, independently of the address we connected to. `fetcher.py` follows
redirects hop by hop under the policy's limits (`policy.py`).
"""

from imgsearch.url_fetch.addresses import parse_networks, refusal_reason, resolve_host, vet_address
from imgsearch.url_fetch.fetcher import UrlFetcher
from imgsearch.url_fetch.policy import FetchedImage, FetchFailed, FetchPolicy, FetchRefused, FetchTooLarge

__all__ = [
    "FetchFailed",
    "FetchPolicy",
    "FetchRefused",
    "FetchTooLarge",
    "FetchedImage",
    "UrlFetcher",
    "parse_networks",
    "refusal_reason",
    "resolve_host",
    "vet_address",
]

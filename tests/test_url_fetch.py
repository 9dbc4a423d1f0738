"""SSRF-safe URL fetching: address vetting, URL checks, redirects, limits, timeouts and DNS rebinding.

Only a server on 127.0.0.1 that these tests start is ever connected to; an autouse guard on
`socket.create_connection` records every connect and fails the test on any other address, so no packet leaves.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from imgsearch.url_fetch import (
    FetchedImage,
    FetchFailed,
    FetchPolicy,
    FetchRefused,
    FetchTooLarge,
    UrlFetcher,
    vet_address,
)

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LOCAL_ONLY = ("127.0.0.1",)

# --- a loopback server with a few routes --------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()  # set at teardown so slow handlers finish at once

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        route = ROUTES.get(self.path.split("?")[0], _not_found)
        # A broken pipe means the client stopped reading, as it should once a limit is hit.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _reply(handler: _Handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


def _reply_chunked(handler: _Handler, chunks: list[bytes], delay_s: float = 0.0) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Connection", "close")
    handler.end_headers()
    for chunk in chunks:
        if handler.server.release.wait(delay_s):
            return
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    handler.wfile.write(b"0\r\n\r\n")


def _not_found(handler: _Handler) -> None:
    _reply(handler, 404, b"not found")


def _redirect(location: str) -> Callable[[_Handler], None]:
    return lambda handler: _reply(handler, 302, headers={"Location": location})


def _slow(handler: _Handler) -> None:
    handler.server.release.wait(2.0)
    _reply(handler, 200, PNG_BYTES, {"Content-Type": "image/png"})


ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/image.png": lambda handler: _reply(handler, 200, PNG_BYTES, {"Content-Type": "image/png"}),
    "/to-image": _redirect("image.png"),
    "/to-metadata": _redirect("http://169.254.169.254/latest/meta-data/"),
    "/to-file": _redirect("file:///etc/passwd"),
    "/loop": _redirect("/loop"),
    "/big-declared": lambda handler: _reply(handler, 200, b"x" * 5000, {"Content-Type": "image/png"}),
    "/big-chunked": lambda handler: _reply_chunked(handler, [b"x" * 500] * 10),
    "/gzip": lambda handler: _reply(handler, 200, b"\x1f\x8b", {"Content-Encoding": "gzip"}),
    "/slow": _slow,
    "/drip": lambda handler: _reply_chunked(handler, [b"x"] * 20, delay_s=0.1),
}


class RecordingResolver:
    """Answers from a script, one list per call (the last repeats), and records what was asked."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1] if self.answers else []


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connect attempted; anything but 127.0.0.1 fails the test before a packet is sent."""
    real_create_connection = socket.create_connection
    attempted: list[tuple[str, int]] = []

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        attempted.append((address[0], address[1]))
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a connection to {address[0]} was attempted")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return attempted


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def make_fetcher() -> Iterator[Callable[..., UrlFetcher]]:
    fetchers: list[UrlFetcher] = []

    def make(resolve: RecordingResolver | None = None, **policy: Any) -> UrlFetcher:
        fetchers.append(UrlFetcher(FetchPolicy(**policy), resolve))
        return fetchers[-1]

    yield make
    for fetcher in fetchers:
        fetcher.close()


# --- address vetting ----------------------------------------------------------------------------------------------

REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.10.0.1",
    "::1",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "fd00::1",
    "fe80::1",
    "fe80::1%eth0",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
    "not-an-ip",
]


@pytest.mark.parametrize("ip", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused(ip: str) -> None:
    with pytest.raises(FetchRefused, match="not a public address"):
        vet_address(ip, ())


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses_pass(ip: str) -> None:
    vet_address(ip, ())


def test_allowed_networks_let_only_their_members_through() -> None:
    vet_address("127.0.0.1", LOCAL_ONLY)
    vet_address("::ffff:127.0.0.1", LOCAL_ONLY)  # the same host over a dual-stack socket
    vet_address("10.1.2.3", ("10.0.0.0/8",))
    with pytest.raises(FetchRefused):
        vet_address("127.0.0.2", LOCAL_ONLY)
    with pytest.raises(FetchRefused):
        vet_address("169.254.169.254", LOCAL_ONLY)


def test_malformed_allow_list_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        UrlFetcher(FetchPolicy(allowed_networks=("localhost",)))


# --- URL checks, all before any lookup or connect -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://example.com/_x", "data:image/png;base64,AAAA"]
)
def test_other_schemes_are_refused(
    url: str, make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    resolver = RecordingResolver(["8.8.8.8"])
    with pytest.raises(FetchRefused, match="only http and https"):
        make_fetcher(resolver).fetch(url)
    assert resolver.calls == []
    assert connections == []


def test_credentials_in_url_are_refused_and_not_echoed(make_fetcher: Callable[..., UrlFetcher]) -> None:
    with pytest.raises(FetchRefused, match="credentials") as refused:
        make_fetcher(RecordingResolver(["8.8.8.8"])).fetch("http://admin:hunter2@example.com/a.png")
    assert "hunter2" not in refused.value.message
    assert refused.value.code == "url_refused"


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]:8080/",
    ],
)
def test_numeric_hosts_in_any_notation_are_refused_without_lookup_or_connect(
    url: str, make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    resolver = RecordingResolver(["8.8.8.8"])
    with pytest.raises(FetchRefused, match="loopback"):
        make_fetcher(resolver).fetch(url)
    assert resolver.calls == []  # numeric hosts are decoded locally, never sent to DNS
    assert connections == []


def test_numeric_hosts_are_refused_with_the_default_resolver(
    make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    with pytest.raises(FetchRefused, match="loopback"):
        make_fetcher().fetch("http://2130706433/")
    assert connections == []


def test_hostname_resolving_to_metadata_service_is_refused_before_connect(
    make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    resolver = RecordingResolver(["169.254.169.254"])
    with pytest.raises(FetchRefused, match=r"metadata\.example: it resolves to a non-public address") as refused:
        make_fetcher(resolver).fetch("http://metadata.example/latest/meta-data/")
    assert "169.254" not in refused.value.message  # internal DNS answers are not echoed
    assert resolver.calls == [("metadata.example", 80)]
    assert connections == []


def test_one_non_public_answer_refuses_the_whole_host(
    make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    with pytest.raises(FetchRefused, match="private"):
        make_fetcher(RecordingResolver(["8.8.8.8", "10.0.0.1"])).fetch("https://mixed.example/a.png")
    assert connections == []


# --- against the loopback server ----------------------------------------------------------------------------------


def test_fetches_image_with_its_content_type(
    server: _Server, make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    url = server.url("/image.png")
    image = make_fetcher(allowed_networks=LOCAL_ONLY).fetch(url)
    assert image == FetchedImage(url=url, final_url=url, data=PNG_BYTES, content_type="image/png")
    assert connections == [("127.0.0.1", server.port)]
    _, headers = server.requests[0]
    assert headers["User-Agent"] == "imgsearch/0.1"
    assert headers["Accept-Encoding"] == "identity"


def test_environment_proxies_are_ignored(
    server: _Server,
    make_fetcher: Callable[..., UrlFetcher],
    connections: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")
    make_fetcher(allowed_networks=LOCAL_ONLY).fetch(server.url("/image.png"))
    assert connections == [("127.0.0.1", server.port)]


def test_relative_redirect_is_resolved_against_the_current_url(
    server: _Server, make_fetcher: Callable[..., UrlFetcher]
) -> None:
    image = make_fetcher(allowed_networks=LOCAL_ONLY).fetch(server.url("/to-image"))
    assert image.final_url == server.url("/image.png")
    assert image.data == PNG_BYTES


def test_redirect_to_metadata_service_is_refused_at_the_hop(
    server: _Server, make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    with pytest.raises(FetchRefused, match=re.escape("169.254.169.254")):
        make_fetcher(allowed_networks=LOCAL_ONLY).fetch(server.url("/to-metadata"))
    assert server.paths == ["/to-metadata"]
    assert connections == [("127.0.0.1", server.port)]


def test_redirect_to_another_scheme_is_refused(server: _Server, make_fetcher: Callable[..., UrlFetcher]) -> None:
    with pytest.raises(FetchRefused, match="only http and https"):
        make_fetcher(allowed_networks=LOCAL_ONLY).fetch(server.url("/to-file"))


def test_redirect_loop_stops_after_max_redirects(server: _Server, make_fetcher: Callable[..., UrlFetcher]) -> None:
    with pytest.raises(FetchRefused, match="too many redirects"):
        make_fetcher(allowed_networks=LOCAL_ONLY, max_redirects=3).fetch(server.url("/loop"))
    assert server.paths == ["/loop"] * 4


def test_body_exactly_at_the_limit_is_accepted(server: _Server, make_fetcher: Callable[..., UrlFetcher]) -> None:
    fetcher = make_fetcher(allowed_networks=LOCAL_ONLY, max_bytes=len(PNG_BYTES))
    assert fetcher.fetch(server.url("/image.png")).data == PNG_BYTES


@pytest.mark.parametrize("path", ["/big-declared", "/big-chunked", "/image.png"])
def test_body_over_the_limit_is_refused(path: str, server: _Server, make_fetcher: Callable[..., UrlFetcher]) -> None:
    max_bytes = min(1000, len(PNG_BYTES) - 1)
    with pytest.raises(FetchTooLarge, match=f"{max_bytes}-byte limit") as refused:
        make_fetcher(allowed_networks=LOCAL_ONLY, max_bytes=max_bytes).fetch(server.url(path))
    assert refused.value.code == "too_many_bytes"
    assert isinstance(refused.value, FetchRefused)


def test_compressed_body_is_refused(server: _Server, make_fetcher: Callable[..., UrlFetcher]) -> None:
    with pytest.raises(FetchFailed, match="compressed"):
        make_fetcher(allowed_networks=LOCAL_ONLY).fetch(server.url("/gzip"))


@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_slow_server_times_out(path: str, server: _Server, make_fetcher: Callable[..., UrlFetcher]) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="timed out") as failed:
        make_fetcher(allowed_networks=LOCAL_ONLY, timeout_s=0.5).fetch(server.url(path))
    assert time.monotonic() - started < 1.5
    assert failed.value.code == "url_fetch_failed"


def test_error_status_is_named_without_the_query_string(
    server: _Server, make_fetcher: Callable[..., UrlFetcher]
) -> None:
    with pytest.raises(FetchFailed, match="HTTP 404") as failed:
        make_fetcher(allowed_networks=LOCAL_ONLY).fetch(server.url("/missing?token=s3cret"))
    assert "s3cret" not in failed.value.message


def test_refused_connection_fails_cleanly(make_fetcher: Callable[..., UrlFetcher]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(FetchFailed, match=re.escape("could not fetch from 127.0.0.1")):
        make_fetcher(allowed_networks=LOCAL_ONLY).fetch(f"http://127.0.0.1:{closed_port}/a.png")


def test_dns_rebinding_connects_only_to_the_vetted_answer(
    server: _Server, make_fetcher: Callable[..., UrlFetcher], connections: list[tuple[str, int]]
) -> None:
    resolver = RecordingResolver(["127.0.0.1"], ["10.0.0.1"])
    fetcher = make_fetcher(resolver, allowed_networks=LOCAL_ONLY)
    url = server.url("/image.png", host="rebind.example")

    assert fetcher.fetch(url).data == PNG_BYTES
    assert resolver.calls == [("rebind.example", server.port)]  # one answer, vetted and used
    assert connections == [("127.0.0.1", server.port)]
    assert server.requests[0][1]["Host"] == f"rebind.example:{server.port}"  # the hostname still goes on the wire

    # The server closed the connection, so the next fetch resolves again and gets the rebound answer.
    with pytest.raises(FetchRefused, match=r"rebind\.example: it resolves to a non-public address"):
        fetcher.fetch(url)
    assert len(resolver.calls) == 2
    assert connections == [("127.0.0.1", server.port)]

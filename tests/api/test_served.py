"""The API as `imgsearch serve` runs it (uvicorn, h11, our limits) on loopback: what a client can make it hold.

The embedded back end, so no server is needed; the slow image host is a loopback server that answers late.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
import uvicorn

from api.main import create_app
from api.serve import server_limits
from imgsearch.settings import Settings
from pipeline.runner import Pipeline
from tests.api.helpers import loopback_server

SLOW_HOST_DELAY_S = 4.0
PER_REQUEST_BUDGET_S = 1.5


@dataclass
class Served:
    url: str
    port: int


@pytest.fixture(scope="module")
def served(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = Settings(
        es_url=None,
        s3_endpoint=None,
        data_dir=tmp_path_factory.mktemp("served"),
        url_fetch_allowed_networks=["127.0.0.1/32"],
        url_fetch_timeout_s=3.0,
        url_fetch_request_timeout_s=PER_REQUEST_BUDGET_S,
        url_fetch_concurrency=4,
    )
    config = uvicorn.Config(
        create_app(settings, pipeline), host="127.0.0.1", port=0, log_config=None, **server_limits(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - started < 60, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Served(f"http://127.0.0.1:{port}", port)
    server.should_exit = True
    thread.join(timeout=10)


def raw_status_line(port: int, head: bytes) -> bytes:
    """Send a request head as it is and return the status line of the answer (the server may stop reading)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        # Refused before it had all of it: the answer is already waiting.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(head)
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.split(b"\r\n", 1)[0]


def test_an_8_mib_header_is_refused_without_being_held(served: Served) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * (8 * 1024 * 1024) + b"\r\n\r\n"
    assert raw_status_line(served.port, head).startswith(b"HTTP/1.1 4")


def test_ten_thousand_headers_are_refused(served: Served) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(10_000)) + b"\r\n"
    assert raw_status_line(served.port, head).startswith(b"HTTP/1.1 4")


def test_a_head_under_the_server_cap_but_over_the_app_limit_gets_the_json_431(served: Served) -> None:
    response = httpx.get(f"{served.url}/healthz", headers={f"x-filler-{n}": "y" for n in range(150)})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"


@pytest.fixture
def slow_host() -> Iterator[str]:
    """Answers every GET after SLOW_HOST_DELAY_S (or at once when the test ends)."""
    released = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            released.wait(SLOW_HOST_DELAY_S)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    with loopback_server(Handler) as url:
        yield url
        released.set()


def test_slow_urls_are_cut_at_the_request_deadline_and_probes_keep_answering(served: Served, slow_host: str) -> None:
    urls = [f"{slow_host}/{n}.jpg" for n in range(3)]

    def ingest_slow_urls(_: int) -> tuple[int, str, float]:
        started = time.monotonic()
        response = httpx.post(f"{served.url}/api/v1/images", json={"urls": urls}, timeout=30)
        return response.status_code, response.json()["error"]["code"], time.monotonic() - started

    with ThreadPoolExecutor(max_workers=45) as flood:
        pending = [flood.submit(ingest_slow_urls, n) for n in range(45)]
        probe_latencies = []
        while not all(future.done() for future in pending):
            probe_started = time.monotonic()
            assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200
            probe_latencies.append(time.monotonic() - probe_started)
        outcomes = [future.result() for future in pending]

    assert {(status, code) for status, code, _ in outcomes} == {(422, "url_fetch_failed")}
    # Every request ended near its own budget, well before the slow host would have answered one URL.
    assert max(took for _, _, took in outcomes) < SLOW_HOST_DELAY_S
    assert probe_latencies and max(probe_latencies) < 1.0, probe_latencies

"""Small HTTP helpers shared by the API tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from fastapi.testclient import TestClient


def upload(client: TestClient, *payloads: bytes, field: str = "file", **headers: str) -> httpx.Response:
    files = [(field, (f"photo-{n}.jpg", data, "image/jpeg")) for n, data in enumerate(payloads)]
    return client.post("/api/v1/images", files=files, headers=headers)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering with `handler`, as a base URL, shut down after the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def metric_value(client: TestClient, sample: str) -> float:
    """A Prometheus sample from /metrics, such as `imgsearch_stage_seconds_count{stage="detect"}`; 0 if absent."""
    values = [row.split()[-1] for row in client.get("/metrics").text.splitlines() if row.startswith(sample)]
    return float(values[0]) if values else 0.0

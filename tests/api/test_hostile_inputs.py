"""Inputs a careful hostile client sends, on both back ends: each one is a 4xx JSON error, never a 500.

Cursors, ids, URLs (and where their redirects point), headers and bodies; every case names the status and code
it must get. The embedded variants need no server; the Elasticsearch + MinIO ones are marked `integration`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.embedded import EmbeddedIndex
from imgsearch.settings import REPO_ROOT, Settings
from pipeline.runner import Pipeline
from tests.api.helpers import loopback_server
from tests.fixtures import jpeg_bytes, scene

ABSENT_ID = "a" * 64


def cursor_of(raw: str) -> str:
    """What a forger sends: URL-safe base64 of any text, shaped like our cursors."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    code: str
    request: dict[str, Any] = field(default_factory=dict)


def browse(cursor: str) -> dict[str, Any]:
    return {"params": {"cursor": cursor}}


def search_json(**body: Any) -> dict[str, Any]:
    return {"json": {"image_id": ABSENT_ID, **body}}


DEEP = "[" * 5000 + "]" * 5000
SHALLOW_BUT_NESTED = "[" * 90 + "]" * 90  # short enough for the length bound: the shape check refuses it

CURSOR_CASES = [
    Case("browse: not base64", "GET", "/api/v1/images", 422, "invalid_request", browse("garbage!")),
    Case("browse: deeply nested JSON", "GET", "/api/v1/images", 422, "invalid_request", browse(cursor_of(DEEP))),
    Case(
        "browse: nested lists", "GET", "/api/v1/images", 422, "invalid_request", browse(cursor_of(SHALLOW_BUT_NESTED))
    ),
    Case("browse: 10 KiB", "GET", "/api/v1/images", 422, "invalid_request", browse("A" * 10240)),
    *(
        Case(f"browse: {raw}", "GET", "/api/v1/images", 422, "invalid_request", browse(cursor_of(raw)))
        for raw in (
            f'[1e30,"{ABSENT_ID}"]',
            f'[{2**70},"{ABSENT_ID}"]',
            f'[-1,"{ABSENT_ID}"]',
            f'["1","{ABSENT_ID}"]',
            f'[true,"{ABSENT_ID}"]',
            '[1,"../../etc/passwd"]',
            f'[1,"{ABSENT_ID}",3]',
            '{"offset":12}',
            "null",
        )
    ),
    *(
        Case(f"search: {raw}", "POST", "/api/v1/search", 422, "invalid_request", search_json(cursor=cursor_of(raw)))
        for raw in (
            '{"offset":1000000000000000000000000000000}',
            '{"offset":-1}',
            '{"offset":1.5}',
            '{"offset":true}',
            '{"offset":5001}',
            '{"offset":1,"more":2}',
            f'[1,"{ABSENT_ID}"]',
            SHALLOW_BUT_NESTED,
        )
    ),
]

# Dots percent-encoded: an HTTP client would resolve a literal "." or ".." before sending.
BAD_IDS = ["a" * 10240, "a" * 600, "%2E%2E", "%2E", "A" * 64, "g" * 64, "a" * 63, "a" * 65, "a" * 64 + "%00"]
ID_CASES = [
    *(
        Case(f"get {route or 'record'}: {bad[:12]}", "GET", f"/api/v1/images/{bad}{route}", 422, "invalid_request")
        for bad in BAD_IDS
        for route in ("", "/content", "/thumbnail")
    ),
    *(Case(f"delete: {bad[:12]}", "DELETE", f"/api/v1/images/{bad}", 422, "invalid_request") for bad in BAD_IDS),
    Case("search by a malformed id", "POST", "/api/v1/search", 422, "invalid_request", {"json": {"image_id": ".."}}),
    Case("job: 10 KiB", "GET", "/api/v1/jobs/" + "a" * 10240, 422, "invalid_request"),
    Case("job: path characters", "GET", "/api/v1/jobs/..%2Fx", 404, "http_404"),
    Case("job: not hex", "GET", "/api/v1/jobs/" + "z" * 32, 422, "invalid_request"),
    Case("job: well-formed but unknown", "GET", "/api/v1/jobs/" + "0" * 32, 404, "not_found"),
    Case("get: well-formed but absent", "GET", f"/api/v1/images/{ABSENT_ID}", 404, "not_found"),
    Case("content: well-formed but absent", "GET", f"/api/v1/images/{ABSENT_ID}/content", 404, "not_found"),
]

URL_CASES = [
    Case(f"url: {url[:40]}", "POST", "/api/v1/images", 422, "invalid_request", {"json": {"url": url}})
    for url in (
        "http://[::1",
        "gopher://example.com/x.jpg",
        "http://127.0.0.1:99999/x.jpg",
        "x" * 9000,
    )
]

HEADER_CASES = [
    Case(
        "200 headers",
        "GET",
        "/api/v1/images",
        431,
        "headers_too_large",
        {"headers": {f"x-filler-{n}": "y" for n in range(200)}},
    ),
    Case("one 40 KiB header", "GET", "/api/v1/images", 431, "headers_too_large", {"headers": {"x-big": "y" * 40960}}),
]

OVERSIZE_JSON = {"url": "https://example.com/" + "a" * 300_000}
BODY_CASES = [
    Case("ingest JSON over the JSON limit", "POST", "/api/v1/images", 413, "too_many_bytes", {"json": OVERSIZE_JSON}),
    Case("search JSON over the JSON limit", "POST", "/api/v1/search", 413, "too_many_bytes", {"json": OVERSIZE_JSON}),
    Case("sync JSON over the JSON limit", "POST", "/api/v1/jobs/sync", 413, "too_many_bytes", {"json": OVERSIZE_JSON}),
    Case(
        "malformed ingest JSON",
        "POST",
        "/api/v1/images",
        422,
        "invalid_request",
        {"content": b'{"url": ', "headers": {"content-type": "application/json"}},
    ),
    Case(
        "malformed sync JSON",
        "POST",
        "/api/v1/jobs/sync",
        422,
        "invalid_request",
        {"content": b"[[[[", "headers": {"content-type": "application/json"}},
    ),
    Case(
        "search: a box and an object",
        "POST",
        "/api/v1/search",
        422,
        "invalid_request",
        {"files": {"file": ("q.jpg", b"\xff\xd8", "image/jpeg")}, "data": {"box": "[1,2", "object": "0"}},
    ),
]

TABLE = CURSOR_CASES + ID_CASES + URL_CASES + HEADER_CASES + BODY_CASES


@pytest.mark.parametrize("case", TABLE, ids=lambda case: case.name)
def test_a_hostile_input_is_a_4xx_json_error(any_api: TestClient, case: Case) -> None:
    response = any_api.request(case.method, case.path, **case.request)
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == case.code
    assert error["message"] and len(error["message"]) < 1000, "an error names the problem without echoing the input"


# --- redirects to URLs no parser should have to take ------------------------------------------------------------


@pytest.fixture
def redirector() -> Iterator[str]:
    """A loopback server whose /to?location=... answers 302 with exactly that Location header."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            location = parse_qs(urlsplit(self.path).query)["location"][0]
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    with loopback_server(Handler) as url:
        yield url


REDIRECT_TARGETS = [
    "http:127.0.0.1:1/x.jpg",
    "http://[::1",
    "http://127.0.0.1:99999/x.jpg",
    "http://" + "a" * 300 + ".example/x.jpg",
    "http://\u00e9\u0301xn--.example/",
    "gopher://127.0.0.1/x",
    "file:///etc/passwd",
    "//[fe80::1%25eth0]/x.jpg",
    "http://user:pw@127.0.0.1/x.jpg",
    "http://169.254.169.254/latest/meta-data",
]


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_a_redirect_anywhere_odd_is_refused(any_api: TestClient, redirector: str, target: str) -> None:
    url = f"{redirector}/to?location={quote(target, safe='')}"
    response = any_api.post("/api/v1/images", json={"url": url})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] in {"url_refused", "url_fetch_failed"}


# --- the order of checks ----------------------------------------------------------------------------------------


@pytest.fixture
def keyed_api(any_api: TestClient) -> TestClient:
    core = any_api.app.state.services.core  # type: ignore[attr-defined]
    core.settings = core.settings.model_copy(update={"api_key": SecretStr("k3y-for-hostile-tests")})
    return any_api


@pytest.mark.parametrize("path", ["/api/v1/images", "/api/v1/jobs/sync"])
def test_the_key_is_checked_before_the_body_is_read(keyed_api: TestClient, path: str) -> None:
    junk = {"content": b"{ not json" + b"x" * 100_000, "headers": {"content-type": "application/json"}}
    response = keyed_api.post(path, **junk)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    # With the key, the same body is read and refused for what it is.
    keyed = keyed_api.post(
        path, content=junk["content"], headers={**junk["headers"], "X-API-Key": "k3y-for-hostile-tests"}
    )
    assert keyed.status_code == 422 and keyed.json()["error"]["code"] == "invalid_request"


def test_search_pages_stop_where_cursors_are_accepted(any_api: TestClient) -> None:
    """The deepest cursor handed out is one the server takes back."""
    image_id = any_api.post("/api/v1/images", files={"file": ("a.jpg", jpeg_bytes(scene(seed=5)), "image/jpeg")})
    assert image_id.status_code == 201
    deepest = cursor_of(json.dumps({"offset": 5000}, separators=(",", ":")))
    query = {"file": ("q.jpg", jpeg_bytes(scene(seed=6)), "image/jpeg")}
    response = any_api.post("/api/v1/search", files=query, data={"cursor": deepest, "k": "3"})
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [] and response.json()["next_cursor"] is None


def test_a_streamed_body_without_length_is_cut_at_the_route_limit(any_api: TestClient) -> None:
    """Chunked, so no Content-Length to refuse it by: the count while reading does."""

    def chunks() -> Iterator[bytes]:
        yield b'{"urls": ["https://example.com/'
        for _ in range(64):  # 4 MiB in all, far over the JSON limit and far under the upload limit
            yield b"a" * 65536
        yield b'"]}'

    response = any_api.post("/api/v1/images", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_many_bytes"


@pytest.mark.parametrize("backend", [pytest.param("servers", marks=pytest.mark.integration), "embedded"])
def test_a_query_vector_of_another_size_than_the_index_is_a_422(
    backend: str, request: pytest.FixtureRequest, pipeline: Pipeline, tmp_path: Path
) -> None:
    """An index made with this model id but another vector size (a hand-edited mapping, say) refuses the query."""
    if backend == "servers":
        alias = f"test-api-dim-{uuid.uuid4().hex[:12]}"
        es = request.getfixturevalue("es")
        ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings").ensure(pipeline.model_id, pipeline.dim + 1)
        opened = request.getfixturevalue("api_factory")(es_index_alias=alias)
    else:
        other_size = EmbeddedIndex(tmp_path / "data" / "index")
        other_size.ensure(pipeline.model_id, pipeline.dim + 1)
        other_size.close()
        opened = TestClient(create_app(Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path / "data"), pipeline))
    with opened as client:
        query = {"file": ("q.jpg", jpeg_bytes(scene(seed=7)), "image/jpeg")}
        response = client.post("/api/v1/search", files=query)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert "dim" in response.json()["error"]["message"]

"""Servers that fail mid-request, against the real Elasticsearch and MinIO behind a fault-injecting proxy.

The invariant under test: an image the API ever called stored keeps its bytes, and an outage is a 503 with
Retry-After that names the store, from which the server recovers without a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.services import AppServices
from imgsearch.devservices.fault_proxy import FaultProxy
from imgsearch.maintenance import reconcile
from imgsearch.settings import Settings
from imgsearch.storage.base import BlobKind
from tests.api.helpers import upload
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.integration


@dataclass
class FaultyApi:
    client: TestClient
    elasticsearch: FaultProxy
    minio: FaultProxy

    @property
    def services(self) -> AppServices:
        services: AppServices = self.client.app.state.services  # type: ignore[attr-defined]
        return services

    def stored_blob_ids(self) -> set[str]:
        return {image_id for kind in BlobKind for image_id, _ in self.services.core.blobs.list_ids(kind)}


@pytest.fixture
def faulty(api_factory: Callable[..., Any], server_settings: Settings) -> Iterator[FaultyApi]:
    """An API whose Elasticsearch and MinIO connections both pass through a fault proxy (forwarding at first)."""
    es_url = urlsplit(str(server_settings.es_url))
    minio_host, minio_port = str(server_settings.s3_endpoint).rsplit(":", 1)
    with (
        FaultProxy(es_url.hostname or "127.0.0.1", es_url.port or 9200) as es_proxy,
        FaultProxy(minio_host, int(minio_port)) as minio_proxy,
        api_factory(es_url=es_proxy.url, s3_endpoint=minio_proxy.address) as client,
    ):
        yield FaultyApi(client, es_proxy, minio_proxy)
        es_proxy.forward()
        minio_proxy.forward()


def assert_unavailable(response: httpx.Response, store: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "backend_unavailable"
    assert store in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) > 0


def assert_whole(client: TestClient, image_id: str, original: bytes) -> None:
    assert client.get(f"/api/v1/images/{image_id}").status_code == 200
    assert client.get(f"/api/v1/images/{image_id}/content").content == original
    assert client.get(f"/api/v1/images/{image_id}/thumbnail").status_code == 200


# --- writes whose outcome is unknown -------------------------------------------------------------------------


def test_a_bulk_write_whose_answer_is_lost_is_reported_stored_and_whole(faulty: FaultyApi) -> None:
    data = jpeg_bytes(scene(seed=300))
    faulty.elasticsearch.drop_responses("_bulk")
    response = upload(faulty.client, data)
    faulty.elasticsearch.forward()

    assert faulty.elasticsearch.dropped_responses >= 1, "the fault must have happened"
    # Elasticsearch committed the document; the ingest looked it up instead of guessing from the lost answer.
    assert response.status_code == 201, response.text
    image = response.json()["images"][0]
    assert image["duplicate"] is False
    assert_whole(faulty.client, image["id"], data)


def test_an_unknown_outcome_keeps_the_blobs_through_retry_and_reconcile(faulty: FaultyApi) -> None:
    data = jpeg_bytes(scene(seed=301))
    # The bulk request commits, its answer is lost, and Elasticsearch is gone before anyone can ask.
    faulty.elasticsearch.drop_responses("_bulk", then_refuse=True)
    first = upload(faulty.client, data)
    assert faulty.elasticsearch.dropped_responses == 1
    assert_unavailable(first, "Elasticsearch")

    faulty.elasticsearch.forward()
    retry = upload(faulty.client, data)
    assert retry.status_code == 200, retry.text
    image = retry.json()["images"][0]
    assert image["duplicate"] is True, "the first request's write had happened"
    assert_whole(faulty.client, image["id"], data)

    report = reconcile(faulty.services.core.index, faulty.services.core.blobs, grace=timedelta(0))
    assert report.orphan_blobs_removed == [] and report.documents_without_original_removed == []
    assert_whole(faulty.client, image["id"], data)


def test_a_write_that_never_arrived_leaves_blobs_only_reconcile_removes(faulty: FaultyApi) -> None:
    data = jpeg_bytes(scene(seed=302))
    faulty.elasticsearch.drop_requests("_bulk")
    first = upload(faulty.client, data)
    faulty.elasticsearch.forward()
    assert faulty.elasticsearch.dropped_requests >= 1
    assert_unavailable(first, "Elasticsearch")
    orphans = faulty.stored_blob_ids()
    assert len(orphans) == 1, "ingest removes no blob: it cannot know that no other request needs it"

    young = reconcile(faulty.services.core.index, faulty.services.core.blobs)
    assert young.orphan_blobs_removed == [], "the grace period spares blobs of writes that may be in flight"
    old = reconcile(faulty.services.core.index, faulty.services.core.blobs, grace=timedelta(0))
    assert len(old.orphan_blobs_removed) == 2 and faulty.stored_blob_ids() == set()

    retry = upload(faulty.client, data)
    assert retry.status_code == 201, retry.text
    assert_whole(faulty.client, retry.json()["images"][0]["id"], data)


# --- outages ---------------------------------------------------------------------------------------------------


def _every_route(client: TestClient, image_id: str, doomed_id: str, new_image: bytes) -> dict[str, httpx.Response]:
    query = {"file": ("q.jpg", new_image, "image/jpeg")}
    return {
        "delete": client.delete(f"/api/v1/images/{doomed_id}"),
        "ingest": upload(client, new_image),
        "search by file": client.post("/api/v1/search", files=query, data={"k": "3"}),
        "search by image": client.post("/api/v1/search", json={"image_id": image_id, "k": 3}),
        "browse": client.get("/api/v1/images"),
        "get": client.get(f"/api/v1/images/{image_id}"),
        "content": client.get(f"/api/v1/images/{image_id}/content"),
        "thumbnail": client.get(f"/api/v1/images/{image_id}/thumbnail"),
        "stats": client.get("/api/v1/stats"),
    }


def test_elasticsearch_down_is_503_with_retry_after_then_recovers(faulty: FaultyApi) -> None:
    client = faulty.client
    kept = jpeg_bytes(scene(seed=310))
    image_id = upload(client, kept).json()["images"][0]["id"]
    doomed_id = upload(client, jpeg_bytes(scene(seed=312))).json()["images"][0]["id"]

    faulty.elasticsearch.refuse()
    answers = _every_route(client, image_id, doomed_id, jpeg_bytes(scene(seed=311)))
    needs_elasticsearch = set(answers) - {"thumbnail"}  # thumbnails are served from MinIO alone
    for route in needs_elasticsearch:
        assert_unavailable(answers[route], "Elasticsearch")
    assert answers["thumbnail"].status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["elasticsearch"] != "ok"
    assert ready.json()["checks"]["minio"] == "ok"
    assert faulty.elasticsearch.refused_connections > 0

    faulty.elasticsearch.forward()
    recovered = _every_route(client, image_id, doomed_id, jpeg_bytes(scene(seed=311)))
    assert {route: answer.status_code for route, answer in recovered.items()} == {
        "ingest": 201,
        "delete": 204,
        **{route: 200 for route in recovered if route not in ("ingest", "delete")},
    }
    assert client.get("/readyz").status_code == 200
    assert_whole(client, image_id, kept)


def test_minio_down_is_503_for_bytes_while_search_keeps_working(faulty: FaultyApi) -> None:
    client = faulty.client
    kept = jpeg_bytes(scene(seed=320))
    image_id = upload(client, kept).json()["images"][0]["id"]
    doomed_id = upload(client, jpeg_bytes(scene(seed=322))).json()["images"][0]["id"]

    faulty.minio.refuse()
    answers = _every_route(client, image_id, doomed_id, jpeg_bytes(scene(seed=321)))
    # The delete removes the document first (no search returns it again), then fails on the blobs: reconcile
    # removes those later.
    for route in ("ingest", "content", "thumbnail", "delete"):
        assert_unavailable(answers[route], "MinIO")
    for route in ("search by file", "search by image", "browse", "get", "stats"):
        assert answers[route].status_code == 200, (route, answers[route].text)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["minio"] != "ok"
    assert ready.json()["checks"]["elasticsearch"] == "ok"
    # Nothing was indexed without its bytes: the blob write comes first and failed.
    assert client.get("/api/v1/stats").json()["images"] == 1, "the kept image; the doomed one is deleted"

    faulty.minio.forward()
    assert upload(client, jpeg_bytes(scene(seed=321))).status_code == 201
    assert client.get("/readyz").status_code == 200
    assert_whole(client, image_id, kept)

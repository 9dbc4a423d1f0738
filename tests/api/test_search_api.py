"""POST /api/v1/search: by file, by indexed image, by detected object, by drawn box; paging, filters, errors."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from imgsearch.maintenance import drop_es_alias
from tests.api.helpers import assert_error, metric_value, upload
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.integration


@pytest.fixture
def gallery(client: TestClient) -> tuple[TestClient, list[str], list[bytes]]:
    payloads = [jpeg_bytes(scene(seed=200 + n)) for n in range(6)]
    ids = [upload(client, data).json()["images"][0]["id"] for data in payloads]
    return client, ids, payloads


def search_file(client: TestClient, data: bytes, **fields: object) -> httpx.Response:
    form = {name: str(value) for name, value in fields.items()}
    return client.post("/api/v1/search", files={"file": ("q.jpg", data, "image/jpeg")}, data=form)


def test_search_by_file_returns_the_contract(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, ids, payloads = gallery
    response = search_file(client, payloads[2], k=3, kinds="image", target="image")
    assert response.status_code == 200, response.text
    body = response.json()
    whole = {"kind": "image", "bbox": [0, 0, 640, 480], "label": "image", "object": None, "auto": False}
    assert body["query"]["used"] == whole and body["query"]["parts"] == [whole]
    assert {"width", "height", "objects"} <= set(body["query"])
    assert body["query_id"].startswith("q_")
    best = body["results"][0]
    assert best["id"] == ids[2]
    assert best["similarity"] == pytest.approx(1.0, abs=0.03)
    assert best["thumbnail_url"] == f"/api/v1/images/{ids[2]}/thumbnail"
    assert best["content_url"] == f"/api/v1/images/{ids[2]}/content"
    assert best["matches"] and {"bbox", "label", "similarity", "part"} == set(best["matches"][0])
    assert body["took_ms"] > 0


def test_search_by_object_and_by_box(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, ids, payloads = gallery
    by_object = search_file(client, payloads[1], k=3, object=0).json()
    chosen = by_object["query"]["objects"][0]
    assert by_object["query"]["used"]["bbox"] == chosen["bbox"]
    assert by_object["results"][0]["id"] == ids[1]

    by_box = search_file(client, payloads[1], k=3, box="[50, 60, 250, 260]").json()
    assert by_box["query"]["used"] == {
        "kind": "box",
        "bbox": [50, 60, 250, 260],
        "label": "region",
        "object": None,
        "auto": False,
    }


def test_search_by_indexed_image_pages_without_repeats(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, ids, _ = gallery
    first = client.post("/api/v1/search", json={"image_id": ids[0], "k": 3}).json()
    second = client.post("/api/v1/search", json={"image_id": ids[0], "k": 3, "cursor": first["next_cursor"]}).json()
    returned = [r["id"] for r in first["results"] + second["results"]]
    assert sorted(returned) == sorted(ids[1:])
    assert second["next_cursor"] is None


def expansions_so_far(client: TestClient) -> float:
    return metric_value(client, 'imgsearch_stage_seconds_count{stage="expand"}')


def test_query_expansion_is_on_by_default_and_can_be_turned_off(
    gallery: tuple[TestClient, list[str], list[bytes]],
) -> None:
    client, ids, payloads = gallery
    before = expansions_so_far(client)
    assert search_file(client, payloads[1], k=3, object=0).status_code == 200
    assert client.post("/api/v1/search", json={"image_id": ids[0], "k": 3}).status_code == 200
    assert expansions_so_far(client) == before + 2
    plain = search_file(client, payloads[1], k=3, object=0, expand="false")
    assert plain.status_code == 200 and plain.json()["results"][0]["id"] == ids[1]
    assert client.post("/api/v1/search", json={"image_id": ids[0], "k": 3, "expand": False}).status_code == 200
    assert expansions_so_far(client) == before + 2
    assert_error(search_file(client, payloads[1], expand="sometimes"), 422, "invalid_request")


def test_search_errors(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, _, payloads = gallery
    assert_error(search_file(client, payloads[0], k=0), 422, "invalid_request")
    assert_error(search_file(client, payloads[0], k=101), 422, "invalid_request")
    assert_error(search_file(client, payloads[0], object=50), 422, "invalid_request")
    assert_error(search_file(client, payloads[0], box="[10, 10, 5, 5]"), 422, "invalid_request")
    assert_error(search_file(client, payloads[0], box="[oops"), 422, "invalid_request")
    assert_error(search_file(client, b"not an image"), 415, "not_an_image")
    assert_error(client.post("/api/v1/search", json={"image_id": "f" * 64}), 404, "not_found")
    assert_error(client.post("/api/v1/search", json={"query_id": "q_" + "A" * 22}), 404, "query_not_found")
    assert_error(client.post("/api/v1/search", json={"query_id": "../../etc"}), 422, "invalid_request")
    assert_error(client.post("/api/v1/search", json={}), 422, "invalid_request")
    assert_error(client.post("/api/v1/search", json={"image_id": "f" * 64, "cursor": "bm9wZQ"}), 422, "invalid_request")


def test_a_full_model_queue_answers_503_quickly(api_factory) -> None:
    with api_factory(model_workers=1, model_queue=0) as client:
        data = jpeg_bytes(scene(seed=300))
        release = threading.Event()
        runner = client.app.state.services.runner
        # Occupy the only model slot from the app's own event loop, then ask for more work.
        blocker = client.portal.start_task_soon(lambda: runner.run(release.wait))
        try:
            response = search_file(client, data)
            assert_error(response, 503, "saturated")
            assert response.headers["retry-after"] == "1"
        finally:
            release.set()
            blocker.result(timeout=10)
        assert search_file(client, data).status_code == 200


def test_concurrent_clients_see_no_errors(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, ids, payloads = gallery

    def one_client(n: int) -> list[int]:
        statuses = [search_file(client, payloads[n % len(payloads)], k=5).status_code]
        statuses.append(client.post("/api/v1/search", json={"image_id": ids[n % len(ids)]}).status_code)
        statuses.append(upload(client, jpeg_bytes(scene(seed=400 + n))).status_code)
        statuses.append(client.get("/api/v1/images", params={"limit": 5}).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for result in pool.map(one_client, range(8)) for status in result]
    assert set(statuses) <= {200, 201}, statuses
    assert client.get("/api/v1/stats").json()["images"] == 6 + 8


def test_stats_metrics_and_probes(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, _, payloads = gallery
    search_file(client, payloads[0])
    stats = client.get("/api/v1/stats").json()
    assert stats["images"] == 6 and stats["backend"] == "elasticsearch" and stats["model_id"]
    metrics = client.get("/metrics").text
    for stage in ("decode", "detect", "embed", "knn", "storage"):
        assert f'imgsearch_stage_seconds_count{{stage="{stage}"}}' in metrics
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok" and ready["checks"]["models"] == "ok"
    openapi = client.get("/openapi.json").json()
    assert {"/api/v1/images", "/api/v1/search", "/api/v1/jobs/sync", "/api/v1/stats"} <= set(openapi["paths"])


def test_an_index_from_another_model_answers_409_until_reindex_swaps_the_alias(
    api_factory, es, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgsearch.index.elasticsearch import ElasticsearchIndex
    from imgsearch.settings import REPO_ROOT

    alias = f"test-api-mismatch-{uuid.uuid4().hex[:12]}"
    ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings").ensure("some-older-model", 64)
    try:
        with api_factory(es_index_alias=alias) as client:
            data = jpeg_bytes(scene(seed=600))
            refused = search_file(client, data)
            assert_error(refused, 409, "model_mismatch")
            assert "run `imgsearch reindex`" in refused.json()["error"]["message"]
            assert_error(upload(client, data), 409, "model_mismatch")
            assert client.get("/api/v1/images").status_code == 200, "reads still work"

            # What `imgsearch reindex` does with the server's models: the running server moves to the new index.
            monkeypatch.setattr("imgsearch.index.elasticsearch.FOLLOW_ALIAS_EVERY_S", 0.0)
            pipeline = client.app.state.services.core.pipeline
            handle = ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings")
            handle.swap_alias(handle.create_detached(pipeline.model_id, pipeline.dim))
            assert upload(client, data).status_code == 201
            assert search_file(client, data).status_code == 200
    finally:
        drop_es_alias(es, alias)

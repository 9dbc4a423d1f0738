"""Query sessions, the main object by default, "this AND that" and relevant matches, through the API."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from imgsearch.settings import Settings
from pipeline.runner import Pipeline
from tests.api.helpers import assert_error, metric_value, upload
from tests.fixtures import jpeg_bytes, scene


def search_file(client: TestClient, data: bytes, **fields: object) -> httpx.Response:
    form = {name: str(value) for name, value in fields.items()}
    return client.post("/api/v1/search", files={"file": ("q.jpg", data, "image/jpeg")}, data=form)


def stage_count(client: TestClient, stage: str) -> float:
    return metric_value(client, f'imgsearch_stage_seconds_count{{stage="{stage}"}}')


def stage_lookups(client: TestClient, outcome: str) -> float:
    return metric_value(client, f'imgsearch_query_session_lookups_total{{outcome="{outcome}"}}')


@pytest.fixture
def gallery(any_api: TestClient) -> tuple[TestClient, list[str], list[bytes]]:
    payloads = [jpeg_bytes(scene(seed=500 + n)) for n in range(6)]
    ids = [upload(any_api, data).json()["images"][0]["id"] for data in payloads]
    return any_api, ids, payloads


def test_an_upload_alone_searches_its_main_object(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, ids, payloads = gallery
    body = search_file(client, payloads[3], k=3).json()
    used = body["query"]["used"]
    assert used["kind"] == "object" and used["auto"] is True and used["object"] == 0
    assert used["bbox"] == body["query"]["objects"][0]["bbox"]
    assert body["results"][0]["id"] == ids[3]
    whole = search_file(client, payloads[3], k=3, target="image").json()["query"]["used"]
    assert whole["kind"] == "image" and whole["auto"] is False


def test_clicks_by_query_id_cost_no_detection(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, _, payloads = gallery
    first = search_file(client, payloads[2], k=4).json()
    query_id = first["query_id"]
    fresh = search_file(client, payloads[2], k=4, object=1, expand="false").json()
    detections, embeds = stage_count(client, "detect"), stage_count(client, "embed")

    clicked = client.post("/api/v1/search", json={"query_id": query_id, "object": 1, "k": 4, "expand": False})
    assert clicked.status_code == 200, clicked.text
    again = client.post("/api/v1/search", json={"query_id": query_id, "objects": [1], "k": 4, "expand": False})
    fields = {"query_id": query_id, "object": "1", "k": "4", "expand": "false"}
    as_form = client.post("/api/v1/search", files={name: (None, value) for name, value in fields.items()})
    assert as_form.status_code == 200, as_form.text
    assert as_form.request.headers["content-type"].startswith("multipart/form-data")
    url_encoded = client.post("/api/v1/search", data=fields)
    assert url_encoded.status_code == 200, url_encoded.text
    whole = client.post("/api/v1/search", json={"query_id": query_id, "target": "image", "k": 4})
    assert stage_count(client, "detect") == detections
    assert stage_count(client, "embed") == embeds + 2  # object 1 once, the whole image once: both reused after
    for body in (clicked.json(), again.json(), as_form.json(), url_encoded.json()):
        assert body["query_id"] == query_id
        assert body["query"]["used"] == {**fresh["query"]["used"], "auto": False}
        assert [r["id"] for r in body["results"]] == [r["id"] for r in fresh["results"]]
    assert whole.json()["query"]["used"]["kind"] == "image"
    drawn = client.post("/api/v1/search", json={"query_id": query_id, "box": [40, 40, 300, 300], "k": 4})
    assert drawn.status_code == 200 and drawn.json()["query"]["used"]["kind"] == "box"
    assert stage_count(client, "detect") == detections


def test_a_session_id_needs_no_file_and_takes_no_second_source(
    gallery: tuple[TestClient, list[str], list[bytes]],
) -> None:
    client, ids, payloads = gallery
    query_id = search_file(client, payloads[0]).json()["query_id"]
    assert_error(search_file(client, payloads[0], query_id=query_id), 422, "invalid_request")
    assert_error(client.post("/api/v1/search", json={"query_id": query_id, "image_id": ids[0]}), 422,
                 "invalid_request")  # fmt: skip
    assert_error(client.post("/api/v1/search", data={"k": "3"}), 422, "invalid_request")
    assert_error(client.post("/api/v1/search", json={"query_id": query_id, "object": 0, "objects": [1]}), 422,
                 "invalid_request")  # fmt: skip
    assert_error(client.post("/api/v1/search", json={"query_id": query_id, "object": 0, "target": "image"}), 422,
                 "invalid_request")  # fmt: skip


def test_an_expired_session_is_410_and_an_unknown_one_404(pipeline: Pipeline, tmp_path) -> None:
    settings = Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path / "data", query_sessions=1)
    with TestClient(create_app(settings, pipeline)) as client:
        upload(client, jpeg_bytes(scene(seed=1)))
        first = search_file(client, jpeg_bytes(scene(seed=2))).json()["query_id"]
        search_file(client, jpeg_bytes(scene(seed=3)))  # the only room goes to this one
        expired_before = stage_lookups(client, "expired")
        assert_error(client.post("/api/v1/search", json={"query_id": first}), 410, "query_expired")
        assert_error(client.post("/api/v1/search", data={"query_id": "q_" + "B" * 22}), 404, "query_not_found")
        assert stage_lookups(client, "expired") == expired_before + 1


def test_two_objects_and_a_box_are_all_matched(gallery: tuple[TestClient, list[str], list[bytes]]) -> None:
    client, ids, payloads = gallery
    first = search_file(client, payloads[4], k=3).json()
    assert len(first["query"]["objects"]) >= 2
    both = client.post("/api/v1/search", json={"query_id": first["query_id"], "objects": [0, 1], "k": 3}).json()
    assert [part["object"] for part in both["query"]["parts"]] == [0, 1]
    assert both["results"][0]["id"] == ids[4]
    assert {match["part"] for match in both["results"][0]["matches"]} == {0, 1}
    mixed = client.post(
        "/api/v1/search", json={"query_id": first["query_id"], "objects": [0], "boxes": [[10, 10, 200, 200]], "k": 3}
    ).json()
    assert [part["kind"] for part in mixed["query"]["parts"]] == ["object", "box"]
    assert_error(client.post("/api/v1/search", json={"query_id": first["query_id"], "objects": [0, 0]}), 422,
                 "invalid_request")  # fmt: skip


def test_results_show_the_matches_that_matter_unless_all_are_asked_for(
    gallery: tuple[TestClient, list[str], list[bytes]],
) -> None:
    client, _, payloads = gallery
    query_id = search_file(client, payloads[5], k=6).json()["query_id"]
    default = client.post("/api/v1/search", json={"query_id": query_id, "k": 6, "expand": False}).json()
    every = client.post("/api/v1/search", json={"query_id": query_id, "k": 6, "expand": False,
                                                "all_matches": True}).json()  # fmt: skip
    assert [r["id"] for r in default["results"]] == [r["id"] for r in every["results"]]
    for kept, full in zip(default["results"], every["results"], strict=True):
        assert kept["matches"][0] == full["matches"][0]
        assert all(m in full["matches"] for m in kept["matches"])
        assert all(m["similarity"] >= full["matches"][0]["similarity"] - 0.05 - 1e-4 for m in kept["matches"])
    assert sum(len(r["matches"]) for r in every["results"]) > sum(len(r["matches"]) for r in default["results"])

"""The images resource over HTTP: ingest (files, URLs), browse, fetch bytes, delete; status codes and bodies."""

from __future__ import annotations

import io
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.api.helpers import assert_error, loopback_server, upload
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.integration


@pytest.fixture
def image_server() -> Iterator[str]:
    """A loopback HTTP server with one JPEG at /photo.jpg (the test app allows 127.0.0.1 for URL fetching)."""
    payload = jpeg_bytes(scene(seed=77))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/photo.jpg":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            pass

    with loopback_server(Handler) as url:
        yield url


def test_upload_creates_then_recognises_a_duplicate(client: TestClient) -> None:
    data = jpeg_bytes(scene(800, 600, seed=1))
    created = upload(client, data)
    assert created.status_code == 201, created.text
    (image,) = created.json()["images"]
    assert (image["width"], image["height"], image["duplicate"]) == (800, 600, False)
    assert image["objects"] and {"bbox", "label", "score"} <= set(image["objects"][0])

    again = upload(client, data)
    assert again.status_code == 200
    assert again.json()["images"][0] == {**image, "duplicate": True}


def test_several_files_in_one_request(client: TestClient) -> None:
    response = upload(client, jpeg_bytes(scene(seed=2)), jpeg_bytes(scene(seed=3)), b"not an image", field="files")
    assert response.status_code == 201
    body = response.json()
    assert len(body["images"]) == 2
    assert [failure["error"]["code"] for failure in body["failed"]] == ["not_an_image"]


def test_ingest_by_url(client: TestClient, image_server: str) -> None:
    response = client.post("/api/v1/images", json={"url": f"{image_server}/photo.jpg", "tags": ["web"]})
    assert response.status_code == 201, response.text
    image_id = response.json()["images"][0]["id"]
    record = client.get(f"/api/v1/images/{image_id}").json()
    assert record["source"] == f"{image_server}/photo.jpg"
    assert record["tags"] == ["web"]


def test_browse_get_bytes_and_delete(client: TestClient) -> None:
    payloads = [jpeg_bytes(scene(seed=seed)) for seed in (10, 11, 12)]
    ids = [upload(client, data).json()["images"][0]["id"] for data in payloads]

    first = client.get("/api/v1/images", params={"limit": 2}).json()
    second = client.get("/api/v1/images", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [image["id"] for image in first["images"] + second["images"]] == ids[::-1]
    assert second["next_cursor"] is None

    content = client.get(f"/api/v1/images/{ids[0]}/content")
    assert content.content == payloads[0]
    assert content.headers["content-type"] == "image/jpeg"
    assert content.headers["x-content-type-options"] == "nosniff"
    thumbnail = Image.open(io.BytesIO(client.get(f"/api/v1/images/{ids[0]}/thumbnail").content))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 320

    assert client.delete(f"/api/v1/images/{ids[0]}").status_code == 204
    assert_error(client.get(f"/api/v1/images/{ids[0]}"), 404, "not_found")
    assert_error(client.get(f"/api/v1/images/{ids[0]}/content"), 404, "not_found")
    assert_error(client.delete(f"/api/v1/images/{ids[0]}"), 404, "not_found")


def test_refusals_have_their_own_status_and_code(api_factory) -> None:
    with api_factory(max_upload_bytes=50_000, max_request_bytes=400_000) as client:
        big = jpeg_bytes(Image.effect_noise((400, 400), 80).convert("RGB"))
        assert len(big) > 50_000
        assert_error(upload(client, big), 413, "too_many_bytes")
        assert_error(upload(client, b"x" * 500_000), 413, "too_many_bytes")
        assert_error(upload(client, b"plain text, no image"), 415, "not_an_image")
        assert_error(client.post("/api/v1/images", json={"urls": []}), 422, "invalid_request")
        assert_error(client.post("/api/v1/images", json={"url": "file:///etc/passwd"}), 422, "invalid_request")
        assert_error(client.post("/api/v1/images", json={"url": "http://169.254.169.254/x.jpg"}), 422, "url_refused")
        assert_error(client.get("/api/v1/images", params={"limit": 0}), 422, "invalid_request")
        assert_error(client.get("/api/v1/images", params={"cursor": "garbage!"}), 422, "invalid_request")
        assert_error(client.get("/api/v1/no-such-route"), 404, "http_404")


def test_writes_need_the_api_key_when_one_is_set(api_factory) -> None:
    with api_factory(api_key="s3cret-key") as client:
        data = jpeg_bytes(scene(seed=20))
        assert_error(upload(client, data), 401, "unauthorized")
        assert_error(upload(client, data, **{"X-API-Key": "wrong"}), 401, "unauthorized")
        created = upload(client, data, **{"X-API-Key": "s3cret-key"})
        assert created.status_code == 201
        image_id = created.json()["images"][0]["id"]
        assert client.get(f"/api/v1/images/{image_id}").status_code == 200, "reads stay open"
        assert_error(client.delete(f"/api/v1/images/{image_id}"), 401, "unauthorized")
        assert client.delete(f"/api/v1/images/{image_id}", headers={"X-API-Key": "s3cret-key"}).status_code == 204


@pytest.mark.parametrize(("format_name", "content_type"), [("HEIF", "image/heic"), ("AVIF", "image/avif")])
def test_phone_formats_are_ingested_and_served_as_themselves(
    any_api: TestClient, format_name: str, content_type: str
) -> None:
    buffer = io.BytesIO()
    scene(seed=77).save(buffer, format_name, quality=70)
    data = buffer.getvalue()
    response = upload(any_api, data)
    assert response.status_code == 201, response.text
    image_id = response.json()["images"][0]["id"]
    content = any_api.get(f"/api/v1/images/{image_id}/content")
    assert content.status_code == 200 and content.content == data
    assert content.headers["content-type"] == content_type
    assert any_api.get(f"/api/v1/images/{image_id}").json()["content_type"] == content_type
    thumbnail = any_api.get(f"/api/v1/images/{image_id}/thumbnail")
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).format == "JPEG"


@pytest.fixture(params=[pytest.param("servers", marks=pytest.mark.integration), "embedded"])
def keyed_api(request: pytest.FixtureRequest, pipeline, tmp_path) -> Iterator[TestClient]:
    """Either back end, with an API key for writes."""
    if request.param == "servers":
        with request.getfixturevalue("api_factory")(api_key="k") as client:
            yield client
        return
    from api.main import create_app
    from imgsearch.settings import Settings

    settings = Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path / "data", api_key="k")
    with TestClient(create_app(settings, pipeline)) as client:
        yield client


def test_tags_are_changed_with_the_api_key_and_filter_browse_and_search(keyed_api: TestClient) -> None:
    client, key = keyed_api, {"X-API-Key": "k"}
    ids = [upload(client, jpeg_bytes(scene(seed=900 + n)), **key).json()["images"][0]["id"] for n in range(3)]
    body = {"tags": ["paris", "2024"]}
    assert_error(client.patch(f"/api/v1/images/{ids[0]}", json=body), 401, "unauthorized")
    changed = client.patch(f"/api/v1/images/{ids[0]}", json=body, headers=key)
    assert changed.status_code == 200, changed.text
    assert changed.json()["tags"] == ["paris", "2024"]
    client.patch(f"/api/v1/images/{ids[1]}", json={"tags": ["paris"]}, headers=key)
    assert client.get(f"/api/v1/images/{ids[0]}").json()["tags"] == ["paris", "2024"]
    both = client.get("/api/v1/images", params=[("tag", "paris"), ("tag", "2024")]).json()["images"]
    assert [image["id"] for image in both] == [ids[0]]
    paris = client.get("/api/v1/images", params={"tag": "paris"}).json()["images"]
    assert {image["id"] for image in paris} == {ids[0], ids[1]}
    found = client.post("/api/v1/search", json={"image_id": ids[2], "tags": ["paris"], "k": 10}).json()
    assert {result["id"] for result in found["results"]} == {ids[0], ids[1]}
    assert_error(client.patch("/api/v1/images/" + "f" * 64, json=body, headers=key), 404, "not_found")
    assert_error(client.patch(f"/api/v1/images/{ids[0]}", json={"tags": ["no<html>"]}, headers=key), 422,
                 "invalid_request")  # fmt: skip
    assert_error(client.patch(f"/api/v1/images/{ids[0]}", json={"tag": ["x"]}, headers=key), 422, "invalid_request")
    assert_error(client.get("/api/v1/images", params={"tag": "<x>"}), 422, "invalid_request")

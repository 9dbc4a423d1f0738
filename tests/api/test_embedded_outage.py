"""The embedded back end's outage: its blob folder gone (an unmounted disk) is a 503 naming it, then recovery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from imgsearch.index.embedded.store import DB_FILE
from imgsearch.settings import Settings
from pipeline.runner import Pipeline
from tests.api.helpers import assert_error, upload
from tests.fixtures import jpeg_bytes, scene


def test_a_vanished_blob_folder_is_503_for_bytes_then_recovers(pipeline: Pipeline, tmp_path: Path) -> None:
    settings = Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path / "data")
    with TestClient(create_app(settings, pipeline)) as client:
        kept = jpeg_bytes(scene(seed=330))
        image_id = upload(client, kept).json()["images"][0]["id"]
        blob_folder = tmp_path / "data" / "blobs"
        unmounted = blob_folder.rename(tmp_path / "elsewhere")

        for response in (
            upload(client, jpeg_bytes(scene(seed=331))),
            client.get(f"/api/v1/images/{image_id}/content"),
            client.get(f"/api/v1/images/{image_id}/thumbnail"),
        ):
            assert_error(response, 503, "backend_unavailable")
            assert "blob folder" in response.json()["error"]["message"]
            assert response.headers["Retry-After"]
        assert not blob_folder.exists(), "a missing root is not created again: it may be a disk to mount"
        query = {"file": ("q.jpg", kept, "image/jpeg")}
        assert client.post("/api/v1/search", files=query).json()["results"][0]["id"] == image_id
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["filesystem"] != "ok"
        assert ready.json()["checks"]["embedded"] == "ok"

        unmounted.rename(blob_folder)
        assert upload(client, jpeg_bytes(scene(seed=331))).status_code == 201
        assert client.get(f"/api/v1/images/{image_id}/content").content == kept
        assert client.get("/readyz").status_code == 200


def test_a_locked_embedded_database_is_503_naming_it_then_recovers(pipeline: Pipeline, tmp_path: Path) -> None:
    """Another program holding SQLite's write lock past the busy time-out: writes fail as an outage, reads go on."""
    settings = Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path / "data")
    with TestClient(create_app(settings, pipeline)) as client:
        kept = jpeg_bytes(scene(seed=340))
        image_id = upload(client, kept).json()["images"][0]["id"]
        other_program = sqlite3.connect(tmp_path / "data" / "index" / DB_FILE, isolation_level=None)
        other_program.execute("BEGIN EXCLUSIVE")
        try:
            blocked = upload(client, jpeg_bytes(scene(seed=341)))
            assert_error(blocked, 503, "backend_unavailable")
            assert "embedded index" in blocked.json()["error"]["message"]
        finally:
            other_program.execute("ROLLBACK")
            other_program.close()
        retried = upload(client, jpeg_bytes(scene(seed=341)))
        assert retried.status_code == 201, retried.text
        assert client.get(f"/api/v1/images/{image_id}/content").content == kept

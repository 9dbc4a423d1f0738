"""`imgsearch demo`: a generated gallery indexed offline with the starter models, searchable through the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from cli.commands.demo import demo_settings
from cli.main import main
from imgsearch.settings import Settings


def test_demo_indexes_a_gallery_that_answers_object_searches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Servers named in the environment must not matter: the demo always uses the embedded index.
    monkeypatch.setenv("IMGSEARCH_ES_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("IMGSEARCH_TORCH_THREADS", "2")
    argv = ["demo", "--no-serve", "--scenes", "10", "--queries", "2", "--data-dir", str(tmp_path)]
    assert main(argv) == 0
    assert main(argv) == 0  # a second run finds the gallery indexed already
    queries = sorted((tmp_path / "queries").glob("*.jpg"))
    assert len(queries) == 2

    with TestClient(create_app(demo_settings(Settings(), tmp_path))) as client:
        stats = client.get("/api/v1/stats").json()
        assert stats["images"] == 10
        found = client.post(
            "/api/v1/search",
            files={"file": ("q.jpg", queries[0].read_bytes(), "image/jpeg")},
            data={"object": "0", "k": "5"},
        )
        assert found.status_code == 200, found.text
        results = found.json()["results"]
        assert results and all(result["matches"] for result in results)

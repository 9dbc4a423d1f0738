"""Probes: /healthz answers while the process lives; /readyz only when models and servers are there."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_ready_when_models_elasticsearch_and_minio_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"models": "ok", "elasticsearch": "ok", "s3": "ok"}


def test_not_ready_names_the_server_that_is_down(client: TestClient) -> None:
    # Point the probe at port 9 (discard) on loopback, where nothing of ours listens.
    app = client.app
    app.state.settings = app.state.settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"})
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["s3"] != "ok"
    assert ready.json()["checks"]["elasticsearch"] == "ok"

"""Probes: /healthz answers while the process lives; /readyz only when the servers answer."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from minio import Minio

from api.main import create_app
from imgsearch.settings import Settings

pytestmark = pytest.mark.integration


def test_ready_when_elasticsearch_and_minio_answer(server_settings: Settings, es: Elasticsearch, minio: Minio) -> None:
    with TestClient(create_app(server_settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"elasticsearch": "ok", "s3": "ok"}


def test_not_ready_names_the_server_that_is_down(server_settings: Settings) -> None:
    # Port 9 (discard) on loopback: nothing of ours listens there.
    broken = server_settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"})
    with TestClient(create_app(broken)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["s3"] != "ok"
    assert ready.json()["checks"]["elasticsearch"] == "ok"

"""Probes: /healthz answers while the process lives; /readyz only when models and servers are there.

A server that is down is named by /readyz in tests/api/test_faults.py, with the server really unreachable.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_ready_when_models_elasticsearch_and_minio_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"models": "ok", "elasticsearch": "ok", "minio": "ok"}

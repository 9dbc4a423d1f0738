"""Small HTTP helpers shared by the API tests."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient


def upload(client: TestClient, *payloads: bytes, field: str = "file", **headers: str) -> httpx.Response:
    files = [(field, (f"photo-{n}.jpg", data, "image/jpeg")) for n, data in enumerate(payloads)]
    return client.post("/api/v1/images", files=files, headers=headers)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]

"""An API on the real Elasticsearch and MinIO, with the configuration-built test pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from minio import Minio

from api.main import create_app
from imgsearch.maintenance import drop_buckets, drop_es_alias
from imgsearch.settings import Settings
from pipeline.runner import Pipeline

AppFactory = Callable[..., Any]


@pytest.fixture
def api_factory(
    server_settings: Settings, pipeline: Pipeline, es: Elasticsearch, minio: Minio
) -> Iterator[Callable[..., Any]]:
    """`with api_factory(**setting_overrides) as client:` an app on its own index alias and buckets."""
    created: list[Settings] = []

    @contextmanager
    def open_api(**overrides: Any) -> Iterator[TestClient]:
        suffix = uuid.uuid4().hex[:12]
        # model_validate (not model_copy) so overrides are checked and coerced like real settings.
        settings = Settings.model_validate(
            server_settings.model_dump()
            | {
                "es_index_alias": f"test-api-{suffix}",
                "s3_bucket_originals": f"test-api-orig-{suffix}",
                "s3_bucket_thumbnails": f"test-api-thumb-{suffix}",
                "url_fetch_allowed_networks": ["127.0.0.1/32"],
                "model_queue": 16,
                **overrides,
            }
        )
        created.append(settings)
        with TestClient(create_app(settings, pipeline)) as client:
            yield client

    yield open_api
    for settings in created:
        drop_es_alias(es, settings.es_index_alias)
        drop_buckets(minio, [settings.s3_bucket_originals, settings.s3_bucket_thumbnails])


@pytest.fixture(params=[pytest.param("servers", marks=pytest.mark.integration), "embedded"])
def any_api(request: pytest.FixtureRequest, pipeline: Pipeline, tmp_path: Path) -> Iterator[TestClient]:
    """The API on Elasticsearch + MinIO, or on the embedded index and blob folder (no server needed)."""
    overrides = {"url_fetch_allowed_networks": ["127.0.0.1/32"], "model_queue": 16}
    if request.param == "servers":
        with request.getfixturevalue("api_factory")(**overrides) as client:
            yield client
        return
    settings = Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path / "data", **overrides)
    with TestClient(create_app(settings, pipeline)) as client:
        yield client


@pytest.fixture
def client(api_factory: Callable[..., Any]) -> Iterator[TestClient]:
    with api_factory() as opened:
        yield opened

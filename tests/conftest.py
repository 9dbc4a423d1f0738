"""Shared fixtures. Integration fixtures fail, never skip, when a server is missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from minio import Minio

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.index.base import VectorIndex
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.maintenance import drop_buckets, drop_es_alias
from imgsearch.settings import REPO_ROOT, Settings
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.storage.filesystem import FilesystemBlobStore
from imgsearch.storage.minio_store import MinioBlobStore
from pipeline.models import offline  # noqa: F401  (sets offline flags before a test imports a model library)
from pipeline.runner import Pipeline
from tests.fixtures import TEST_CONFIG

# What `scripts/services up` starts; the environment (IMGSEARCH_ES_URL, ...) overrides it.
DEV_SERVICES = {"es_url": "http://127.0.0.1:9200", "s3_endpoint": "127.0.0.1:9000"}


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id unique to this test run, for index and bucket names that never collide."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def server_settings() -> Settings:
    settings = Settings()
    return settings.model_copy(
        update={
            "es_url": settings.es_url or Settings(es_url=DEV_SERVICES["es_url"]).es_url,
            "s3_endpoint": settings.s3_endpoint or DEV_SERVICES["s3_endpoint"],
        }
    )


@pytest.fixture(scope="session")
def es(server_settings: Settings) -> Iterator[Elasticsearch]:
    client = elasticsearch_client(server_settings)
    try:
        # Not ping(): the integ-test distribution has no handler for `HEAD /`.
        client.options(request_timeout=5, max_retries=0).cluster.health()
    except Exception as error:  # noqa: BLE001 (any failure: the server is not usable)
        pytest.fail(f"Elasticsearch is not reachable at {server_settings.es_url} ({error}): run `scripts/services up`")
    yield client
    client.close()


@pytest.fixture(scope="session")
def minio(server_settings: Settings) -> Minio:
    client = minio_client(server_settings)
    try:
        client.list_buckets()
    except Exception as error:  # noqa: BLE001 (any failure: the server is not usable)
        pytest.fail(f"MinIO is not reachable at {server_settings.s3_endpoint} ({error}): run `scripts/services up`")
    return client


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    """The configuration-built test pipeline (random YOLO weights, timm's tiny test ViT), loaded once."""
    built = Pipeline.from_config(TEST_CONFIG)
    built.load()
    return built


@pytest.fixture(params=[pytest.param("servers", marks=pytest.mark.integration), "embedded"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[VectorIndex, BlobStore]]:
    """An index and a blob store, empty, for the test pipeline's model: real ES + MinIO, or the embedded pair."""
    suffix = uuid.uuid4().hex[:12]
    if request.param == "servers":
        es: Elasticsearch = request.getfixturevalue("es")
        minio: Minio = request.getfixturevalue("minio")
        index: VectorIndex = ElasticsearchIndex(es, f"test-core-{suffix}", REPO_ROOT / "es_mappings", refresh=True)
        buckets = {BlobKind.ORIGINAL: f"test-orig-{suffix}", BlobKind.THUMBNAIL: f"test-thumb-{suffix}"}
        blobs: BlobStore = MinioBlobStore(minio, buckets)
    else:
        from imgsearch.index.embedded import EmbeddedIndex

        index, blobs = EmbeddedIndex(tmp_path / "index"), FilesystemBlobStore(tmp_path / "blobs")
    blobs.ensure()
    yield index, blobs
    index.close()
    if request.param == "servers":
        drop_es_alias(es, f"test-core-{suffix}")
        drop_buckets(minio, list(buckets.values()))

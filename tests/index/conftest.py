"""Both back ends behind one fixture, so every contract test runs against Elasticsearch and the embedded index."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from imgsearch.index.base import VectorIndex
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.types import ImageDocument, ImageObject, IndexEntry
from imgsearch.maintenance import drop_es_alias
from imgsearch.settings import REPO_ROOT
from pipeline.records import Box, ObjectKind

MODEL_ID = "contract-model"
DIM = 16
LABELS = ("cat", "dog", "car", "tree")

IndexFactory = Callable[[], VectorIndex]


@pytest.fixture(params=[pytest.param("elasticsearch", marks=pytest.mark.integration), "embedded"])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """A factory that (re)opens the same index, so a test can also check what survives a restart."""
    if request.param == "elasticsearch":
        es: Elasticsearch = request.getfixturevalue("es")
        alias = f"test-contract-{uuid.uuid4().hex[:12]}"
        yield lambda: ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings", refresh=True)
        drop_es_alias(es, alias)
    else:
        from imgsearch.index.embedded import EmbeddedIndex

        opened: list[VectorIndex] = []

        def open_embedded() -> VectorIndex:
            opened.append(EmbeddedIndex(tmp_path / "index"))
            return opened[-1]

        yield open_embedded
        for index in opened:
            index.close()


@pytest.fixture
def index(open_index: IndexFactory) -> VectorIndex:
    opened = open_index()
    opened.ensure(MODEL_ID, DIM)
    return opened


def make_corpus(count: int = 40, seed: int = 0) -> list[IndexEntry]:
    """Images with 1-4 labelled objects each; vectors cluster by label so label queries have clear answers."""
    rng = np.random.default_rng(seed)
    centres = {label: rng.normal(size=DIM) for label in (*LABELS, "image")}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    for number in range(count):
        labels = [LABELS[int(i)] for i in rng.integers(0, len(LABELS), int(rng.integers(1, 5)))]
        objects = [ImageObject(0, ObjectKind.IMAGE, "image", 1.0, Box(0, 0, 640, 480))]
        objects += [
            ImageObject(i + 1, ObjectKind.OBJECT, label, 0.5 + 0.1 * i, Box(10 * i, 20, 10 * i + 60, 90))
            for i, label in enumerate(labels)
        ]
        vectors = np.stack([centres[obj.label] + rng.normal(scale=0.6, size=DIM) for obj in objects])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        document = ImageDocument(
            image_id=f"{number:04d}" + "a" * 60,
            width=640,
            height=480,
            content_type="image/jpeg",
            byte_size=1000 + number,
            model_id=MODEL_ID,
            source=f"generated/{number}.jpg",
            created_at=start + timedelta(minutes=number),
            tags=("generated",),
            objects=tuple(objects),
        )
        entries.append(IndexEntry(document, vectors.astype(np.float32)))
    return entries

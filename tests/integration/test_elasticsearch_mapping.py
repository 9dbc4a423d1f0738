"""The mapping in es_mappings/ works on the real Elasticsearch: nested objects, HNSW, kNN with inner hits."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from imgsearch.index.es_mapping import images_index_body
from imgsearch.settings import REPO_ROOT

pytestmark = pytest.mark.integration

DIMS = 8


def unit(vector: list[float]) -> list[float]:
    array = np.asarray(vector, dtype=np.float32)
    return (array / np.linalg.norm(array)).tolist()


def basis(axis: int, tilt: float = 0.0) -> list[float]:
    """A unit vector along `axis`, optionally tilted towards the next axis."""
    vector = [0.0] * DIMS
    vector[axis] = 1.0
    vector[(axis + 1) % DIMS] = tilt
    return unit(vector)


def image_doc(labels_axes: list[tuple[str, int]]) -> dict:
    objects = [
        {
            "index": i,
            "kind": "object",
            "label": label,
            "score": 0.9,
            "bbox": {"x1": 10.0 * i, "y1": 5.0, "x2": 10.0 * i + 40, "y2": 60.0},
            "vector": basis(axis, tilt=0.05),
        }
        for i, (label, axis) in enumerate(labels_axes)
    ]
    return {
        "width": 640,
        "height": 480,
        "model_id": "test-model",
        "objects": objects,
        "object_count": len(objects),
        "labels": sorted({label for label, _ in labels_axes}),
    }


@pytest.fixture
def index(es: Elasticsearch, run_id: str) -> Iterator[str]:
    name = f"test-mapping-{run_id}"
    es.indices.create(index=name, **images_index_body(REPO_ROOT / "es_mappings", DIMS, "test-model"))
    yield name
    es.indices.delete(index=name, ignore_unavailable=True)


def test_mapping_declares_nested_hnsw_dot_product(es: Elasticsearch, index: str) -> None:
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    objects = mapping["properties"]["objects"]
    vector = objects["properties"]["vector"]
    assert objects["type"] == "nested"
    assert vector["type"] == "dense_vector"
    assert vector["dims"] == DIMS
    assert vector["similarity"] == "dot_product"
    assert vector["index_options"]["type"] == "int8_hnsw"
    assert vector["index_options"]["m"] == 16
    # int8 alone caps recall@10 near 0.97 (bench/index_recall.py); rescoring 2x candidates in float lifts it to 1.0.
    assert vector["index_options"]["rescore_vector"]["oversample"] == 2
    assert mapping["_meta"]["model_id"] == "test-model"


def test_nested_knn_returns_the_image_and_the_object_that_match(es: Elasticsearch, index: str) -> None:
    es.index(index=index, id="image-a", document=image_doc([("cat", 0), ("dog", 1), ("car", 2)]))
    es.index(index=index, id="image-b", document=image_doc([("tree", 3), ("boat", 4), ("lamp", 5)]))
    es.indices.refresh(index=index)

    response = es.search(
        index=index,
        knn={
            "field": "objects.vector",
            "query_vector": basis(4),
            "k": 2,
            "num_candidates": 10,
            "inner_hits": {"name": "matched_objects", "size": 3, "_source": ["objects.label", "objects.bbox"]},
        },
        source=["width"],
    )

    hits = response["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["image-b", "image-a"]
    matched = hits[0]["inner_hits"]["matched_objects"]["hits"]["hits"]
    assert matched[0]["_source"]["label"] == "boat"
    assert matched[0]["_nested"]["offset"] == 1
    assert matched[0]["_score"] > matched[1]["_score"]
    # dot_product scores are (1 + cosine) / 2: the exact match is close to 1.
    assert matched[0]["_score"] == pytest.approx(1.0, abs=0.02)

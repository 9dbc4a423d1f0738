"""The recall benchmark's data: clustered unit vectors grouped five to an image, exact ground truth, recall.

A sibling of index_recall.py (benchmarks run as scripts, so this sits beside them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from rich.console import Console

from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument, ImageObject, IndexEntry
from pipeline.records import Box, ObjectKind

MODEL_ID = "bench-recall"
TOP_K = 10
OBJECTS_PER_IMAGE = 5
VECTORS_PER_CLUSTER = 50
NOISE_NORM = 1.0


@dataclass(frozen=True)
class Dataset:
    vectors: np.ndarray  # row i is object i % 5 of image i // 5
    queries: np.ndarray


@dataclass(frozen=True)
class Truth:
    top_images: np.ndarray  # (queries, TOP_K) image numbers, best first
    image_scores: np.ndarray  # (queries, 100) best-object cosines of the true top 100 images


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def make_dataset(dim: int, vector_count: int, query_count: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.standard_normal((max(1, vector_count // VECTORS_PER_CLUSTER), dim), dtype=np.float32))

    def draw(count: int) -> np.ndarray:
        noise = rng.standard_normal((count, dim), dtype=np.float32) * np.float32(NOISE_NORM / np.sqrt(dim))
        return unit_rows(centres[rng.integers(0, len(centres), count)] + noise)

    return Dataset(draw(vector_count), draw(query_count))


def exact_truth(vectors: np.ndarray, queries: np.ndarray, chunk: int = 32) -> Truth:
    """Best-object score of every image for a few queries at a time (bounded memory), then the top images."""
    tops, scores = [], []
    image_count = len(vectors) // OBJECTS_PER_IMAGE
    for start in range(0, len(queries), chunk):
        object_scores = queries[start : start + chunk] @ vectors.T
        image_scores = object_scores.reshape(-1, image_count, OBJECTS_PER_IMAGE).max(axis=2)
        best = np.argpartition(-image_scores, 100, axis=1)[:, :100]
        best_scores = np.take_along_axis(image_scores, best, axis=1)
        order = np.argsort(-best_scores, axis=1)
        tops.append(np.take_along_axis(best, order, axis=1)[:, :TOP_K])
        scores.append(np.take_along_axis(best_scores, order, axis=1))
    return Truth(np.concatenate(tops), np.concatenate(scores))


def image_id(number: int) -> str:
    return f"{number:064x}"  # shaped like the product's sha256 ids


def entry(vectors: np.ndarray, number: int) -> IndexEntry:
    objects = [ImageObject(0, ObjectKind.IMAGE, "image", 1.0, Box(0, 0, 640, 480))]
    for i in range(1, OBJECTS_PER_IMAGE):
        objects.append(ImageObject(i, ObjectKind.OBJECT, f"class{(number + i) % 80}", 0.8, Box(20 * i, 20, 99, 99)))
    created_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=number)
    document = ImageDocument(
        image_id(number), 640, 480, "image/jpeg", 100_000, MODEL_ID, f"bench/{number}.jpg", created_at,
        objects=tuple(objects),
    )  # fmt: skip
    return IndexEntry(document, vectors[number * OBJECTS_PER_IMAGE : (number + 1) * OBJECTS_PER_IMAGE])


def add_all(index: VectorIndex, vectors: np.ndarray, images_per_call: int, console: Console) -> float:
    started = time.perf_counter()
    image_count = len(vectors) // OBJECTS_PER_IMAGE
    for first in range(0, image_count, images_per_call):
        index.add([entry(vectors, number) for number in range(first, min(first + images_per_call, image_count))])
        if (first // images_per_call) % 20 == 19:
            console.print(f"    {first + images_per_call:,} images, {time.perf_counter() - started:.0f} s")
    return time.perf_counter() - started


def recall(found: list[list[str]], truth: Truth, data: Dataset) -> tuple[float, float | None]:
    """Recall@10, and how much worse (in cosine) the wrongly returned images are than the true 10th, on average."""
    hits, gaps = 0, []
    for query, ids, true_top, true_scores in zip(
        data.queries, found, truth.top_images, truth.image_scores, strict=True
    ):
        numbers = {int(found_id, 16) for found_id in ids[:TOP_K]}
        hits += len(numbers & set(true_top.tolist()))
        for number in numbers - set(true_top.tolist()):
            own_vectors = data.vectors[number * OBJECTS_PER_IMAGE : (number + 1) * OBJECTS_PER_IMAGE]
            gaps.append(true_scores[TOP_K - 1] - float(np.max(own_vectors @ query)))
    return hits / truth.top_images.size, float(np.mean(gaps)) if gaps else None

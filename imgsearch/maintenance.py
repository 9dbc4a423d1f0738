"""Deleting images and repairing what a crash between the blob and the document writes could leave behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch
from minio import Minio

from imgsearch.errors import NotFound
from imgsearch.index.base import VectorIndex
from imgsearch.index.es_generations import versioned_indices
from imgsearch.storage.base import BlobKind, BlobStore

# Ingest writes blobs a moment before the document: younger blobs may belong to a write still in flight.
DEFAULT_GRACE = timedelta(minutes=10)


def delete_image(index: VectorIndex, blobs: BlobStore, image_id: str) -> None:
    """Document first, so no search returns an image whose bytes are gone; then its blobs."""
    if not index.delete(image_id):
        raise NotFound(f"no indexed image {image_id}")
    for kind in BlobKind:
        blobs.delete(kind, image_id)


@dataclass
class ReconcileReport:
    orphan_blobs_removed: list[str] = field(default_factory=list)
    documents_without_original_removed: list[str] = field(default_factory=list)


def reconcile(
    index: VectorIndex, blobs: BlobStore, grace: timedelta = DEFAULT_GRACE, now: datetime | None = None
) -> ReconcileReport:
    """Remove blobs that no document references (older than `grace`) and documents whose original is missing."""
    report = ReconcileReport()
    cutoff = (now or datetime.now(UTC)) - grace
    for kind in BlobKind:
        for image_id, modified in list(blobs.list_ids(kind)):
            if modified < cutoff and index.get(image_id) is None:
                blobs.delete(kind, image_id)
                report.orphan_blobs_removed.append(f"{kind.value}:{image_id}")
    cursor: str | None = None
    while True:
        page = index.browse(cursor, limit=500)
        for document in page.images:
            if not blobs.exists(BlobKind.ORIGINAL, document.image_id):
                delete_image(index, blobs, document.image_id)
                report.documents_without_original_removed.append(document.image_id)
        if page.next_cursor is None:
            return report
        cursor = page.next_cursor


def drop_es_alias(es: Elasticsearch, alias: str) -> None:
    """Delete every index behind `alias` or built for it, and its job records (throw-away indices: eval runs,
    tests)."""
    behind = list(es.indices.get_alias(name=alias)) if es.indices.exists_alias(name=alias) else []
    for name in sorted(set(behind) | set(versioned_indices(es, alias))):
        es.indices.delete(index=name)
    es.indices.delete(index=alias + "-jobs", ignore_unavailable=True)


def drop_buckets(minio: Minio, buckets: list[str]) -> None:
    """Empty and remove the buckets that exist (throw-away buckets: eval runs, tests)."""
    for bucket in buckets:
        if not minio.bucket_exists(bucket):
            continue
        for leftover in minio.list_objects(bucket, recursive=True):
            minio.remove_object(bucket, leftover.object_name or "")
        minio.remove_bucket(bucket)

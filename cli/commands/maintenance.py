"""`imgsearch reconcile`: remove what an interrupted write left behind; `imgsearch optimize`: merge the index."""

from __future__ import annotations

from datetime import timedelta

from imgsearch.backends import build_blob_store, build_index
from imgsearch.maintenance import reconcile
from imgsearch.settings import Settings


def run_reconcile(settings: Settings, grace_minutes: float) -> int:
    index, blobs = build_index(settings), build_blob_store(settings)
    try:
        report = reconcile(index, blobs, grace=timedelta(minutes=grace_minutes))
    finally:
        index.close()
    for item in report.orphan_blobs_removed:
        print(f"removed orphan blob {item}")
    for image_id in report.documents_without_original_removed:
        print(f"removed document without original {image_id}")
    print(
        f"reconcile: {len(report.orphan_blobs_removed)} orphan blobs and "
        f"{len(report.documents_without_original_removed)} dangling documents removed"
    )
    return 0


def run_optimize(settings: Settings) -> int:
    index = build_index(settings)
    try:
        print(f"optimize: {index.optimize()}")
    finally:
        index.close()
    return 0

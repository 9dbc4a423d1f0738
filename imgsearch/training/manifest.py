"""The starter models' manifest: one JSON file beside the weights, one entry per model plus the eval results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STARTER_DIR = Path(__file__).resolve().parent.parent / "starter"
MANIFEST = STARTER_DIR / "manifest.json"


def read_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def update_manifest(key: str, entry: dict[str, Any], path: Path = MANIFEST) -> None:
    manifest = read_manifest(path)
    manifest[key] = entry
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

"""The Elasticsearch index body, read verbatim from `es_mappings/` with the model's facts filled in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGES_MAPPING_FILE = "images.json"


def images_index_body(mappings_dir: Path, dims: int, model_id: str) -> dict[str, Any]:
    """Settings and mappings for one image index: vector dimension and model id come from the model."""
    if dims <= 0:
        raise ValueError(f"vector dimension must be positive, got {dims}")
    body: dict[str, Any] = json.loads((mappings_dir / IMAGES_MAPPING_FILE).read_text())
    mappings = body["mappings"]
    mappings["properties"]["objects"]["properties"]["vector"]["dims"] = dims
    mappings["_meta"].update({"dims": dims, "model_id": model_id})
    return body

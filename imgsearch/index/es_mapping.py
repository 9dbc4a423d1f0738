"""The Elasticsearch index body, read verbatim from `es_mappings/` with the model's facts filled in."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGES_MAPPING_FILE = "images.json"


REPLICAS_PATTERN = r"^(\d+|\d+-(\d+|all))$"


@dataclass(frozen=True)
class ShardLayout:
    """Primary shards and replicas of a new index. `replicas` is a count ("1") or a range ES fits to the nodes
    it has ("0-1": none on one node, one as soon as there are two, so a lone node stays green)."""

    shards: int = 1
    replicas: str = "0-1"

    def __post_init__(self) -> None:
        if self.shards < 1 or not re.match(REPLICAS_PATTERN, self.replicas):
            raise ValueError(f"shards {self.shards}, replicas {self.replicas!r}: shards >= 1, replicas N or N-M|all")

    def index_settings(self) -> dict[str, Any]:
        if "-" in self.replicas:
            return {"number_of_shards": self.shards, "auto_expand_replicas": self.replicas}
        fixed = {"number_of_replicas": int(self.replicas), "auto_expand_replicas": False}
        return {"number_of_shards": self.shards} | fixed


def images_index_body(
    mappings_dir: Path, dims: int, model_id: str, layout: ShardLayout | None = None
) -> dict[str, Any]:
    """Settings and mappings for one image index: vector dimension and model id come from the model; shards and
    replicas from `layout` (the file's own, one shard and no replica, without one)."""
    if dims <= 0:
        raise ValueError(f"vector dimension must be positive, got {dims}")
    body: dict[str, Any] = json.loads((mappings_dir / IMAGES_MAPPING_FILE).read_text())
    if layout is not None:
        index_settings = body["settings"]["index"]
        index_settings.pop("number_of_replicas", None)
        index_settings |= layout.index_settings()
    mappings = body["mappings"]
    mappings["properties"]["objects"]["properties"]["vector"]["dims"] = dims
    mappings["_meta"].update({"dims": dims, "model_id": model_id})
    return body

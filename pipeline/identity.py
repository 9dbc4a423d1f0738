"""A stable id for the whole model stack, so an index can refuse vectors from a different one."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def model_id(detector: dict[str, Any], embedder: dict[str, Any], pipeline: dict[str, Any]) -> str:
    """`<embedder>-<dim>-<hash>`: readable at a glance, and the hash covers every input that shapes a vector.

    The inputs are the models' own descriptions (names, weight hashes, preprocessing) and the pipeline's
    cropping and resizing choices. Detection thresholds and test-time augmentation are left out on purpose: they
    change which objects are found, not what a vector means.
    """
    canonical = json.dumps({"detector": detector, "embedder": embedder, "pipeline": pipeline}, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    readable = re.sub(r"[^a-z0-9_.]+", "_", str(embedder.get("embedder", "embedder")).lower())
    return f"{readable}-{embedder.get('dim', 0)}-{digest}"

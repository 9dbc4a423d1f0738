"""The mapping file is used verbatim, with the model's dimension and id filled in."""

from __future__ import annotations

import pytest

from imgsearch.index.es_mapping import images_index_body
from imgsearch.settings import REPO_ROOT

MAPPINGS = REPO_ROOT / "es_mappings"


def test_dims_and_model_id_are_filled() -> None:
    body = images_index_body(MAPPINGS, 384, "model-abc")
    vector = body["mappings"]["properties"]["objects"]["properties"]["vector"]
    assert vector["dims"] == 384
    assert body["mappings"]["_meta"] == {"schema_version": 1, "model_id": "model-abc", "dims": 384}


def test_each_call_reads_a_fresh_copy() -> None:
    first = images_index_body(MAPPINGS, 8, "a")
    second = images_index_body(MAPPINGS, 16, "b")
    assert first["mappings"]["_meta"]["dims"] == 8
    assert second["mappings"]["_meta"]["dims"] == 16


def test_a_non_positive_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="dimension"):
        images_index_body(MAPPINGS, 0, "a")

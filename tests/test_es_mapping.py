"""The mapping file is used verbatim, with the model's dimension and id filled in."""

from __future__ import annotations

import pytest

from imgsearch.index.es_mapping import ShardLayout, images_index_body
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


def test_the_shard_layout_sets_shards_and_fixed_or_fitted_replicas() -> None:
    fitted = images_index_body(MAPPINGS, 8, "a", ShardLayout())["settings"]["index"]
    assert (fitted["number_of_shards"], fitted["auto_expand_replicas"]) == (1, "0-1")
    assert "number_of_replicas" not in fitted  # the range decides
    fixed = images_index_body(MAPPINGS, 8, "a", ShardLayout(4, "2"))["settings"]["index"]
    assert (fixed["number_of_shards"], fixed["number_of_replicas"], fixed["auto_expand_replicas"]) == (4, 2, False)
    assert fixed["refresh_interval"] == "1s"  # the file's other settings stay


@pytest.mark.parametrize(("shards", "replicas"), [(0, "1"), (1, "one"), (1, "1-"), (1, "-1")])
def test_a_shard_layout_elasticsearch_would_refuse_is_refused_first(shards: int, replicas: str) -> None:
    with pytest.raises(ValueError, match="shards >= 1"):
        ShardLayout(shards, replicas)

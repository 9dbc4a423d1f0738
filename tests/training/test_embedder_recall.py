"""The embedder's validation metric: leave-one-out recall@1 over crops that have a same-identity partner."""

from __future__ import annotations

import pytest
import torch

from imgsearch.training.embedder import recall_at_1


def _unit(rows: list[list[float]]) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.tensor(rows), dim=1)


def test_pairs_that_find_each_other_score_one_and_singletons_do_not_count() -> None:
    vectors = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1], [0.7, 0.7, 0]])
    classes = torch.tensor([0, 0, 1, 1, 2])  # class 2 has no partner: it is nobody's query
    assert recall_at_1(vectors, classes) == pytest.approx(1.0)


def test_a_query_whose_nearest_crop_is_another_identity_is_a_miss() -> None:
    vectors = _unit([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]])
    classes = torch.tensor([0, 0, 1, 1])  # every crop's nearest neighbour belongs to the other class
    assert recall_at_1(vectors, classes) == pytest.approx(0.0)

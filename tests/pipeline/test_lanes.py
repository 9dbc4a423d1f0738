"""A stream's batches through the models two at once: the same records as one at a time, each lane on its share
of the torch threads, errors and early stops passed on as with one lane."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.models.runtime import lane_threads, thread_budget
from pipeline.runner import Pipeline, Processed
from tests.fixtures import TEST_CONFIG, jpeg_bytes, scene
from tests.pipeline.conftest import RedDetector


@pytest.mark.parametrize(
    ("total", "lanes", "split"), [(1, 2, (1, 1)), (2, 2, (2, 1)), (3, 2, (2, 1)), (8, 2, (2, 4)), (8, 4, (4, 2))]
)
def test_lanes_share_the_threads_and_never_outnumber_them(total: int, lanes: int, split: tuple[int, int]) -> None:
    assert lane_threads(total, lanes) == split


def test_a_thread_budget_holds_inside_and_leaves_other_threads_alone() -> None:
    outside = torch.get_num_threads()
    inside = 1 if outside > 1 else 2
    entered, read = threading.Event(), threading.Event()
    seen_elsewhere: list[int] = []

    def other_thread() -> None:
        torch.get_num_threads()  # has run torch before: its count is its own
        entered.wait(timeout=10)
        seen_elsewhere.append(torch.get_num_threads())
        read.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with thread_budget(inside):
        assert torch.get_num_threads() == inside
        entered.set()
        read.wait(timeout=10)
    worker.join()
    assert torch.get_num_threads() == outside
    assert seen_elsewhere == [outside]
    later: list[int] = []
    fresh = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    fresh.start()
    fresh.join()
    assert later == [outside]  # a thread that starts afterwards gets the default back


class Recording:
    """Wraps a model: each call's thread name and torch thread count, and optionally a failure on the Nth call."""

    def __init__(self, model: Any, fail_on_call: int | None = None) -> None:
        self.model = model
        self.calls: list[tuple[str, int]] = []
        self.fail_on_call = fail_on_call

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def predict(self, images: list[Image.Image], **options: Any) -> Any:
        self.calls.append((threading.current_thread().name, torch.get_num_threads()))
        if self.fail_on_call == len(self.calls):
            raise RuntimeError("the model failed on this batch")
        return self.model.predict(images, **options)


def with_lanes(base: Pipeline, lanes: int, detector: Any = None) -> tuple[Pipeline, Recording, Recording]:
    detector = Recording(detector or base.detector)
    embedder = Recording(base.embedder)
    config = replace(TEST_CONFIG, model_lanes=lanes, torch_threads=2)
    return Pipeline(config, detector, embedder), detector, embedder  # type: ignore[arg-type]


def sources(count: int) -> list[tuple[int, Any]]:
    return [(n, lambda n=n: jpeg_bytes(scene(seed=40 + n))) for n in range(count)]


def test_two_lanes_give_the_records_of_one(pipeline: Pipeline) -> None:
    two_lanes, detector, embedder = with_lanes(pipeline, 2)
    one_lane, *_ = with_lanes(pipeline, 1)
    from_two = list(two_lanes.process_stream(sources(7), batch_size=2))
    from_one = list(one_lane.process_stream(sources(7), batch_size=2))
    assert [key for key, _ in from_two] == [key for key, _ in from_one] == list(range(7))
    for (_, got), (_, expected) in zip(from_two, from_one, strict=True):
        assert isinstance(got, Processed) and isinstance(expected, Processed)
        assert got.record is not None and expected.record is not None
        assert got.record.image_id == expected.record.image_id
        # One thread or two sum in another order: the same objects, equal to float rounding.
        assert [(o.object.kind, o.object.label) for o in got.record.objects] == [
            (o.object.kind, o.object.label) for o in expected.record.objects
        ]
        for ours, theirs in zip(got.record.objects, expected.record.objects, strict=True):
            assert ours.object.score == pytest.approx(theirs.object.score, abs=1e-5)
            box, their_box = ours.object.box, theirs.object.box
            assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx(
                (their_box.x1, their_box.y1, their_box.x2, their_box.y2), abs=1e-3
            )
            np.testing.assert_allclose(ours.vector, theirs.vector, atol=1e-5)
    # Four batches, each model once a batch, in the two lanes' threads, on one of the two threads each.
    assert len(detector.calls) == len(embedder.calls) == 4
    lanes = {name for name, _ in detector.calls + embedder.calls}
    assert len(lanes) == 2 and all(name.startswith("imgsearch-models") for name in lanes)
    assert {threads for _, threads in detector.calls + embedder.calls} == {1}


def test_with_one_lane_the_models_run_in_the_callers_thread_on_every_thread(pipeline: Pipeline) -> None:
    one_lane, detector, embedder = with_lanes(pipeline, 1)
    with thread_budget(2):
        list(one_lane.process_stream(sources(3), batch_size=2))
    assert {call for call in detector.calls + embedder.calls} == {(threading.current_thread().name, 2)}


def test_keep_is_asked_in_the_callers_thread(pipeline: Pipeline) -> None:
    two_lanes, _, _ = with_lanes(pipeline, 2)
    asked_in: set[str] = set()

    def keep(batch: list[Any]) -> list[bool]:
        asked_in.add(threading.current_thread().name)
        return [True] * len(batch)

    list(two_lanes.process_stream(sources(5), batch_size=2, keep=keep))
    assert asked_in == {threading.current_thread().name}


def test_a_failing_model_call_reaches_the_consumer_after_the_batches_before_it(pipeline: Pipeline) -> None:
    red = RedDetector()
    two_lanes, _, _ = with_lanes(pipeline, 2, detector=Recording(red, fail_on_call=3))
    received: list[int] = []
    with pytest.raises(RuntimeError, match="failed on this batch"):
        for key, _ in two_lanes.process_stream(sources(8), batch_size=2):
            received.append(key)
    assert received == [0, 1, 2, 3]


def test_a_consumer_that_stops_early_leaves_no_lane_running(pipeline: Pipeline) -> None:
    two_lanes, detector, _ = with_lanes(pipeline, 2)
    stream = two_lanes.process_stream(sources(12), batch_size=2)
    assert next(stream)[0] == 0
    stream.close()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("imgsearch-models")]
    assert len(detector.calls) <= 3  # the first batch and the two in the lanes when it was handed over

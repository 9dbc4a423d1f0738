"""The micro-batcher on its own, with a stand-in model: order, sharing, failures kept to their call, cancellation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.micro_batch import MicroBatcher


class Model:
    """Doubles numbers; refuses negative ones; can be held so that calls pile up behind a running batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.running = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.running.set()
        self.hold.wait(10)
        if any(item < 0 for item in items):
            raise ValueError(f"negative input in {items}")
        self.batches.append(list(items))
        return [2 * item for item in items]


def blocked_behind_a_batch(model: Model, batcher: MicroBatcher[int, int], pool: ThreadPoolExecutor) -> None:
    """Start a call the model holds, so the next calls wait together for the following batch."""
    model.hold.clear()
    model.running.clear()
    pool.submit(batcher, [100])
    assert model.running.wait(5)


def wait_until_waiting(batcher: MicroBatcher[int, int], calls: int) -> None:
    """Until `calls` calls wait behind the held batch, so that they meet in the next one."""
    while len(batcher._waiting) < calls:
        threading.Event().wait(0.01)


def test_each_call_gets_its_own_results_in_order_and_waiting_calls_share_a_batch() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=16, max_wait_s=0.0)
    with ThreadPoolExecutor(8) as pool:
        blocked_behind_a_batch(model, batcher, pool)
        calls = [pool.submit(batcher, [n, n + 1, n + 2]) for n in range(0, 15, 3)]
        wait_until_waiting(batcher, len(calls))
        model.hold.set()
        results = [call.result(10) for call in calls]
    assert results == [[2 * n, 2 * n + 2, 2 * n + 4] for n in range(0, 15, 3)]
    assert model.batches[0] == [100] and sorted(model.batches[1]) == list(range(15))  # one batch for the five calls
    batcher.close()


def test_a_batch_never_exceeds_max_batch_items() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=4, max_wait_s=0.0)
    with ThreadPoolExecutor(8) as pool:
        blocked_behind_a_batch(model, batcher, pool)
        calls = [pool.submit(batcher, [n, n]) for n in range(5)]
        wait_until_waiting(batcher, len(calls))
        model.hold.set()
        assert [call.result(10) for call in calls] == [[2 * n, 2 * n] for n in range(5)]
    assert max(len(batch) for batch in model.batches) <= 4
    batcher.close()


def test_a_bad_input_fails_its_own_call_only() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=16, max_wait_s=0.0)
    with ThreadPoolExecutor(8) as pool:
        blocked_behind_a_batch(model, batcher, pool)
        good, bad, other = (pool.submit(batcher, items) for items in ([1, 2], [3, -1], [5]))
        wait_until_waiting(batcher, 3)
        model.hold.set()
        assert good.result(10) == [2, 4] and other.result(10) == [10]
        with pytest.raises(ValueError, match="negative input"):
            bad.result(10)
    batcher.close()


def test_a_call_that_timed_out_before_its_batch_is_left_out() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=16, max_wait_s=0.0)
    with ThreadPoolExecutor(4) as pool:
        blocked_behind_a_batch(model, batcher, pool)
        with pytest.raises(TimeoutError):
            batcher([7], timeout_s=0.05)
        model.hold.set()
        assert batcher([8]) == [16]
    assert [7] not in model.batches and all(7 not in batch for batch in model.batches)
    batcher.close()


def test_a_lone_call_waits_at_most_max_wait_and_close_finishes_waiting_calls() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=16, max_wait_s=0.01)
    assert batcher([1]) == [2]
    assert batcher([]) == []
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher([1])


def test_a_call_with_no_company_in_progress_does_not_wait_for_any() -> None:
    """The wait is a minute here: were it taken, the call would time out after ten seconds."""
    model = Model()
    batcher = MicroBatcher(model, max_batch=16, max_wait_s=60.0, company=lambda: 0)
    assert batcher([3], timeout_s=10) == [6]
    batcher.close()

"""Torch device and thread choices, and a stable hash of a model's weights."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def pick_device(requested: str) -> torch.device:
    """`auto` takes CUDA when present, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def total_threads(torch_threads: int | None) -> int:
    """The torch threads the models may use: every core unless told otherwise (decode threads mostly wait on I/O)."""
    return torch_threads or len(os.sched_getaffinity(0))


def configure_threads(torch_threads: int | None) -> None:
    threads = total_threads(torch_threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def lane_threads(torch_threads: int | None, lanes: int) -> tuple[int, int]:
    """How many batches a stream runs through the models at once (at most one per thread) and the torch threads
    each of them gets."""
    threads = total_threads(torch_threads)
    lanes = max(1, min(lanes, threads))
    return lanes, threads // lanes


@contextmanager
def thread_budget(threads: int) -> Iterator[None]:
    """Torch ops in this thread use `threads` threads inside, the thread's earlier count back after.

    Torch keeps the count per OS thread, but setting it also changes the default a thread that has not run an op
    yet starts with: putting it back bounds that to the time inside.
    """
    before = torch.get_num_threads()  # also pins this thread's count, when it has run no op yet
    if before == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def state_dict_sha256(module: torch.nn.Module) -> str:
    """A hash of every parameter and buffer, by name: the same numbers give the same hash, wherever they came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

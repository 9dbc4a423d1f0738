"""Torch device and thread choices, and a stable hash of a model's weights."""

from __future__ import annotations

import hashlib
import os

import torch


def pick_device(requested: str) -> torch.device:
    """`auto` takes CUDA when present, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def configure_threads(torch_threads: int | None) -> None:
    """Use every core for the forward passes unless told otherwise (decode threads mostly wait on I/O)."""
    threads = torch_threads or len(os.sched_getaffinity(0))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def state_dict_sha256(module: torch.nn.Module) -> str:
    """A hash of every parameter and buffer, by name: the same numbers give the same hash, wherever they came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()

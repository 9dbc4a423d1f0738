"""Committed weights: fp16 safetensors files and their sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors.torch import save_file


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_fp16(state_dict: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> str:
    """Floating tensors stored as fp16 (integer buffers kept as they are); returns the file's sha256."""
    tensors = {
        name: (tensor.detach().half() if tensor.is_floating_point() else tensor.detach()).contiguous().cpu()
        for name, tensor in state_dict.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return file_sha256(path)

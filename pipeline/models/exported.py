"""A network exported to ONNX from its own PyTorch weights and run on the CPU by ONNX Runtime or OpenVINO.

The export is made here, never downloaded, and cached under the weights' sha256 with a JSON naming both hashes, so
a file that no longer matches its weights (edited, truncated, or the weights changed) is exported again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.models.runtime import file_sha256

EXPORTED_RUNTIMES = ("onnxruntime", "openvino")


def cached_export(folder: Path, stem: str, weights_sha256: str, write: Callable[[Path], None]) -> Path:
    """`folder/<stem>.onnx`, made by `write(path)` unless the export made before still matches the hashes its JSON
    names. Files are written under temporary names and renamed, so a loader in another process sees a whole export
    or none, and a torn or edited JSON only means exporting again."""
    folder.mkdir(parents=True, exist_ok=True)
    path, facts_path = folder / f"{stem}.onnx", folder / f"{stem}.json"
    if path.is_file() and _recorded(facts_path) == {"weights_sha256": weights_sha256, "onnx_sha256": file_sha256(path)}:
        return path
    scratch = _scratch_beside(path)
    try:
        write(scratch)
        scratch.replace(path)
        scratch = _scratch_beside(facts_path)
        scratch.write_text(json.dumps({"weights_sha256": weights_sha256, "onnx_sha256": file_sha256(path)}))
        scratch.replace(facts_path)
    finally:
        scratch.unlink(missing_ok=True)
    return path


def exported_onnx(module: torch.nn.Module, example: torch.Tensor, folder: Path, stem: str, weights_sha256: str) -> Path:
    """`module` exported by torch.onnx with a dynamic batch axis, cached as `cached_export` does."""

    def write(path: Path) -> None:
        # The TorchScript exporter: it needs no onnxscript and gives one file for any timm backbone. Its tracer
        # warns where Python constants are baked in (sizes from the fixed input side); the batch axis stays free.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # the exporter's notices about itself
            torch.onnx.export(module, (example,), str(path), input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17,
                              dynamo=False)  # fmt: skip

    return cached_export(folder, stem, weights_sha256, write)


def _recorded(facts_path: Path) -> dict[str, Any] | None:
    """The hashes an export's JSON names, or None where it is missing or unreadable (then export again)."""
    try:
        facts = json.loads(facts_path.read_text())
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


def _scratch_beside(path: Path) -> Path:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    os.close(handle)
    return Path(name)


class ExportedNetwork:
    """An ONNX file compiled for the CPU, run in fp32.

    Callers pass the threads a batch may use (the pipeline gives each of its lanes a share): one compiled copy per
    thread count, built on first use. OpenVINO keeps one infer request per OS thread, since a request is not safe
    to share; ONNX Runtime sessions are.
    """

    def __init__(self, path: Path, runtime: str) -> None:
        if runtime not in EXPORTED_RUNTIMES:
            raise ValueError(f"exported runtime {runtime!r}: choose {' or '.join(EXPORTED_RUNTIMES)}")
        self.path = path
        self.runtime = runtime
        self._compiled: dict[int, Any] = {}
        self._compile_lock = threading.Lock()
        self._requests = threading.local()

    def __call__(self, batch: np.ndarray, threads: int) -> np.ndarray:
        """The network's first output for `batch`, computed on `threads` threads."""
        threads = max(1, threads)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        compiled = self._compiled_for(threads)
        if self.runtime == "onnxruntime":
            return compiled.run(None, {"input": batch})[0]
        requests: dict[int, Any] = self._requests.__dict__.setdefault("by_threads", {})
        if threads not in requests:
            requests[threads] = compiled.create_infer_request()
        return requests[threads].infer({0: batch})[0]

    def _compiled_for(self, threads: int) -> Any:
        with self._compile_lock:
            compiled = self._compiled.get(threads)
            if compiled is None:
                compiled = self._compiled[threads] = self._compile(threads)
            return compiled

    def _compile(self, threads: int) -> Any:
        if self.runtime == "onnxruntime":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            return onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        import openvino

        # f32 asked for explicitly: on CPUs with bf16 or fp16 units the plugin would otherwise compute in those.
        return openvino.Core().compile_model(
            str(self.path), "CPU", {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
        )


__all__ = ["EXPORTED_RUNTIMES", "ExportedNetwork", "cached_export", "exported_onnx"]

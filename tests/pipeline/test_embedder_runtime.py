"""The embedder's exported runtimes: the same vectors as PyTorch, a checked cache, and PyTorch kept when they fail."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import pipeline.models.embedder as embedder_module
from imgsearch.pipeline_factory import pipeline_config
from imgsearch.settings import Settings
from pipeline.config import EmbedderConfig
from pipeline.models.embedder import EQUAL_COSINE, ExportDisagrees, TimmEmbedder
from pipeline.models.exported import ExportedNetwork
from pipeline.models.runtime import thread_budget
from pipeline.runner import Pipeline
from tests.fixtures import RANDOM_CONFIG, TEST_CONFIG, scene

STARTER = TEST_CONFIG.embedder
RANDOM_VIT = RANDOM_CONFIG.embedder


def crops(count: int = 6) -> list:
    return [scene(160, 120, seed=seed).crop((10, 10, 110 + seed * 5, 100)) for seed in range(count)]


def embedder(config: EmbedderConfig, cache: Path, runtime: str) -> TimmEmbedder:
    built = TimmEmbedder(replace(config, runtime=runtime), cache, torch.device("cpu"))
    built.load()
    return built


def worst_cosine(expected: np.ndarray, got: np.ndarray) -> float:
    return float((expected * got).sum(axis=1).min())


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
@pytest.mark.parametrize("config", [STARTER, RANDOM_VIT], ids=["starter-resnet", "random-vit"])
def test_an_exported_runtime_gives_pytorchs_vectors(config: EmbedderConfig, runtime: str, tmp_path: Path) -> None:
    images = crops()
    reference = embedder(config, tmp_path, "pytorch")
    exported = embedder(config, tmp_path, runtime)
    assert (reference.runtime, exported.runtime) == ("pytorch", runtime)
    expected, got = reference.predict(images), exported.predict(images)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert worst_cosine(expected, got) >= EQUAL_COSINE
    assert reference.describe() == exported.describe()  # so the model id, and every stored vector, stays


def test_the_model_id_does_not_depend_on_the_runtime(tmp_path: Path) -> None:
    def model_id(runtime: str) -> str:
        config = replace(TEST_CONFIG, model_cache_dir=tmp_path, embedder=replace(STARTER, runtime=runtime))
        return Pipeline.from_config(config).model_id

    assert model_id("openvino") == model_id("pytorch")


def test_the_export_is_reused_while_both_hashes_hold_and_made_again_when_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = embedder(STARTER, tmp_path, "openvino")
    assert first._exported is not None
    path = first._exported.path
    assert path.parent == tmp_path / "exports" and path.with_suffix(".json").is_file()
    exports: list[Path] = []
    real_export = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *args, **kw: (exports.append(args[2]), real_export(*args, **kw)))
    embedder(STARTER, tmp_path, "openvino")
    assert exports == []  # reused as it was
    with path.open("ab") as handle:
        handle.write(b"\0")  # no longer the file its JSON names
    again = embedder(STARTER, tmp_path, "openvino")
    assert len(exports) == 1
    assert worst_cosine(embedder(STARTER, tmp_path, "pytorch").predict(crops()), again.predict(crops())) >= EQUAL_COSINE
    path.with_suffix(".json").write_text("{not json")  # a torn or edited record: export again, do not fail
    assert embedder(STARTER, tmp_path, "openvino").runtime == "openvino"
    assert len(exports) == 2
    assert not list(path.parent.glob("*.part"))  # nothing half-written left beside it


def test_auto_falls_back_to_pytorch_when_the_export_fails_but_an_explicit_runtime_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> Path:
        raise OSError("model cache is read-only")

    monkeypatch.setattr(embedder_module, "exported_onnx", refuse)
    assert embedder(STARTER, tmp_path, "auto").runtime == "pytorch"
    with pytest.raises(OSError, match="read-only"):
        embedder(STARTER, tmp_path, "openvino")


def test_an_export_whose_vectors_differ_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_call = ExportedNetwork.__call__

    def skewed(self: ExportedNetwork, batch: np.ndarray, threads: int) -> np.ndarray:
        output = real_call(self, batch, threads)
        return output + np.random.default_rng(0).normal(0, 1, output.shape).astype(np.float32)

    monkeypatch.setattr(ExportedNetwork, "__call__", skewed)
    assert embedder(STARTER, tmp_path, "auto").runtime == "pytorch"
    with pytest.raises(ExportDisagrees, match="cosine"):
        embedder(STARTER, tmp_path, "onnxruntime")


def test_auto_on_a_gpu_device_runs_pytorch_without_exporting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedder_module, "exported_onnx", lambda *args: pytest.fail("exported on a GPU"))
    on_gpu = TimmEmbedder(replace(STARTER, runtime="auto"), tmp_path, torch.device("cpu"))
    monkeypatch.setattr(on_gpu, "device", torch.device("cuda"))
    assert on_gpu._exported_network() is None


def test_an_exported_runtime_on_a_gpu_device_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_gpu = TimmEmbedder(replace(STARTER, runtime="openvino"), tmp_path, torch.device("cpu"))
    monkeypatch.setattr(on_gpu, "device", torch.device("cuda"))
    with pytest.raises(ValueError, match="runs on the CPU, not cuda"):
        on_gpu._exported_network()


def test_an_unknown_runtime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose auto, pytorch, onnxruntime, openvino"):
        embedder(STARTER, tmp_path, "tensorrt")


def test_the_settings_default_is_auto_and_reaches_the_embedder() -> None:
    def runtime(**values: object) -> str:
        settings = Settings(_env_file=None, **({"es_url": None, "s3_endpoint": None} | values))
        return pipeline_config(settings).embedder.runtime

    assert runtime(models="pretrained") == "auto"
    assert runtime(models="pretrained", embedder_runtime="pytorch") == "pytorch"


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_concurrent_lanes_and_a_batcher_thread_get_the_serial_vectors(runtime: str, tmp_path: Path) -> None:
    """As a stream runs it: lanes on one thread each (the pipeline gives every lane the same share), beside a
    thread on the default count (a model batcher's), so two compiled copies run at once."""
    exported = embedder(STARTER, tmp_path, runtime)
    batches = [exported.preprocess(crops(count)) for count in (1, 3, 5, 8)]
    serial = [exported.embed_tensor(batch) for batch in batches]
    results: dict[tuple[int, int], np.ndarray] = {}
    failures: list[BaseException] = []

    def worker(worker_index: int, threads: int | None) -> None:
        try:
            with thread_budget(threads) if threads else nullcontext():
                for _ in range(3):
                    for index, batch in enumerate(batches):
                        results[(worker_index, index)] = exported.embed_tensor(batch)
        except BaseException as error:  # noqa: BLE001 (reported by the main thread below)
            failures.append(error)

    workers = [threading.Thread(target=worker, args=(index, 1 if index else None)) for index in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert failures == []
    for (_, index), vectors in results.items():
        assert np.allclose(vectors, serial[index], atol=1e-5)
    assert len(results) == 16

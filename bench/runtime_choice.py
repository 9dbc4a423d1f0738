"""Which runtime runs the models: PyTorch eager, torch.compile, ONNX Runtime (fp32, dynamic int8), OpenVINO (fp32).

    .venv/bin/pip install onnx onnxscript onnxruntime openvino   # once: the bench's own extras
    .venv/bin/python bench/runtime_choice.py [--models real starter] [--runs 20] [--no-compile]

For each model (the detector's network and the embedder, at the real architectures with random weights and as the
committed starter models) and each runtime: latency p50 at batch 1, images/s at batch 8, and agreement with
PyTorch eager on the same inputs. The embedder: the cosine of each vector less the reference's mean vector
(random weights give all inputs nearly one output), worst over the inputs. The detector: the cosine of the
raw head output per image as it is, and the mean IoU of the boxes after ultralytics' own NMS, matched in order,
averaged over images (an image whose box count differs counts 0). Inputs are generated scenes preprocessed as the
pipeline does (timm's eval transform for crops; for the detector the image resized to its square input, 640 px
or the starter's 320 px). A runtime counts as equal when every cosine is >= 0.9999 (and, for the detector, the boxes
match); the choice is the fastest equal one at batch 8. Lossy ones (int8) are printed, never chosen.

ONNX files are exported here from the very modules PyTorch runs (torch.onnx, opset 17, dynamic batch), cached in
`<model cache>/exports/` under the weights' sha256, with a JSON beside each naming that hash and the file's own
sha256, both checked before a cached export is used.

A second table times the product's own embedder (`TimmEmbedder.predict`: timm's preprocessing, then the forward
on each `IMGSEARCH_EMBEDDER_RUNTIME`), with its vectors' cosine to the PyTorch setting's, and says what `auto`
chose: the measure of what a user's ingest and search get.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from bench_models import model_settings
from PIL import Image
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

from imgsearch.pipeline_factory import build_pipeline
from imgsearch.settings import Settings
from pipeline.models.embedder import TimmEmbedder
from pipeline.models.exported import exported_onnx
from pipeline.models.runtime import state_dict_sha256
from pipeline.runner import Pipeline

EQUAL_COSINE = 0.9999
Runner = Callable[[np.ndarray], np.ndarray]


@dataclass
class Result:
    model: str
    runtime: str
    batch1_ms: float | None = None
    batch8_per_s: float | None = None
    worst_cosine: float | None = None
    box_iou: float | None = None
    note: str = ""

    @property
    def lossy(self) -> bool:
        """Quantised on purpose: offered only with its own model id and measured mAP, never chosen here."""
        return "int8" in self.runtime

    @property
    def equal(self) -> bool:
        boxes_ok = self.box_iou is None or self.box_iou >= 0.99
        cosine_ok = self.worst_cosine is not None and self.worst_cosine >= EQUAL_COSINE
        return cosine_ok and boxes_ok and not self.lossy


def pipeline_for(models: str, cache: Path) -> Pipeline:
    # The NMS comparison keeps every box over the threshold: 0.01 leaves enough to compare, not thousands.
    values = {"data_dir": cache, "es_url": None, "s3_endpoint": None} | model_settings(models, detector_confidence=0.01)
    pipeline = build_pipeline(Settings().model_copy(update=values))
    pipeline.load()
    return pipeline


def torch_runner(forward: Callable[[torch.Tensor], torch.Tensor]) -> Runner:
    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            output = forward(torch.from_numpy(batch))
        return (output[0] if isinstance(output, tuple | list) else output).float().numpy()

    return run


def runners(module: torch.nn.Module, example: torch.Tensor, cache: Path, name: str, compile_too: bool
            ) -> dict[str, Runner | str]:  # fmt: skip
    """Each runtime's forward over a numpy batch, or the reason it could not be built."""
    import onnxruntime as ort
    import openvino as ov
    from onnxruntime.quantization import QuantType, quantize_dynamic

    built: dict[str, Runner | str] = {"PyTorch eager": torch_runner(module)}
    # Exported before anything runs the module in inference mode: ultralytics' head caches its anchors from the
    # first forward, and tracing refuses those inference tensors ("cannot be saved for backward").
    try:
        weights = state_dict_sha256(module)
        onnx_path = exported_onnx(module, example, cache / "exports", f"{name}-{weights[:16]}", weights)
    except Exception as error:  # noqa: BLE001 (a runtime that cannot build is a row saying why)
        reason = f"export failed: {type(error).__name__}: {str(error)[:80]}"
        return built | compiled_runner(module, example, compile_too) | dict.fromkeys(
            ["ONNX Runtime fp32", "ONNX Runtime int8", "OpenVINO fp32"], reason)  # fmt: skip
    threads = torch.get_num_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    built["ONNX Runtime fp32"] = lambda batch: session.run(None, {"input": batch})[0]
    int8_path = onnx_path.with_name(onnx_path.stem + "-int8.onnx")
    try:
        if not int8_path.is_file():
            quantize_dynamic(str(onnx_path), str(int8_path), weight_type=QuantType.QInt8)
        int8 = ort.InferenceSession(str(int8_path), options, providers=["CPUExecutionProvider"])
        built["ONNX Runtime int8"] = lambda batch: int8.run(None, {"input": batch})[0]
    except Exception as error:  # noqa: BLE001
        built["ONNX Runtime int8"] = f"failed: {type(error).__name__}: {str(error)[:80]}"
    try:
        # f32 asked for explicitly: on CPUs with bf16 the plugin would otherwise compute in it.
        compiled_ov = ov.Core().compile_model(str(onnx_path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                                      "INFERENCE_PRECISION_HINT": "f32"})  # fmt: skip
        built["OpenVINO fp32"] = lambda batch: compiled_ov(batch)[0]
    except Exception as error:  # noqa: BLE001
        built["OpenVINO fp32"] = f"failed: {type(error).__name__}: {str(error)[:80]}"
    return built | compiled_runner(module, example, compile_too)


def compiled_runner(module: torch.nn.Module, example: torch.Tensor, compile_too: bool) -> dict[str, Runner | str]:
    if not compile_too:
        return {}
    try:
        compiled = torch.compile(module)
        torch_runner(compiled)(example.numpy())  # compile now, not in the timed runs
        return {"torch.compile": torch_runner(compiled)}
    except Exception as error:  # noqa: BLE001
        return {"torch.compile": f"failed: {type(error).__name__}: {str(error)[:80]}"}


def timed(run: Runner, batch: np.ndarray, runs: int) -> float:
    """The median seconds of one call."""
    run(batch)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run(batch)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def unit(rows: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Rows less the reference's mean row, L2-normalised: random weights give every input nearly the same output,
    and only what differs between inputs shows whether a runtime computes the same thing."""
    rows = rows.reshape(len(rows), -1).astype(np.float64) - centre
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def boxes_iou(reference: np.ndarray, other: np.ndarray, pipeline: Pipeline) -> float:
    """Mean IoU of the boxes ultralytics' NMS keeps from each output, matched in order (0 for a count mismatch)."""
    from ultralytics.utils.nms import non_max_suppression

    config = pipeline.config.detector
    kept = [non_max_suppression(torch.from_numpy(out), conf_thres=config.confidence, iou_thres=config.iou)
            for out in (reference, other)]  # fmt: skip
    per_image = []
    for mine, theirs in zip(*kept, strict=True):
        if len(mine) != len(theirs):
            per_image.append(0.0)  # a box more or less: this image's boxes do not agree
            continue
        ious = []
        for a, b in zip(mine[:, :4].tolist(), theirs[:, :4].tolist(), strict=True):
            inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            ious.append(inter / union if union > 0 else 1.0)
        per_image.append(float(np.mean(ious)) if ious else 1.0)
    return float(np.mean(per_image))


def bench_model(name: str, module: torch.nn.Module, inputs: np.ndarray, args: argparse.Namespace, cache: Path,
                pipeline: Pipeline, detector: bool) -> list[Result]:  # fmt: skip
    module = module.eval()
    example = torch.from_numpy(inputs[:1])
    results = []
    built = runners(module, example, cache, name.replace(" ", "-").replace("/", "-"), not args.no_compile)
    reference = built["PyTorch eager"]
    assert callable(reference)
    expected = np.concatenate([reference(inputs[i : i + 8]) for i in range(0, len(inputs), 8)])
    for runtime, run in built.items():
        if isinstance(run, str):
            results.append(Result(name, runtime, note=run))
            continue
        got = np.concatenate([run(inputs[i : i + 8]) for i in range(0, len(inputs), 8)])
        # Embedders: less the mean vector (random weights give all inputs nearly one vector). Detectors: the raw
        # head output as it is (centred, a random head leaves only rounding noise), and the boxes NMS keeps.
        flat = expected.reshape(len(expected), -1).astype(np.float64)
        centre = np.zeros(flat.shape[1]) if detector else flat.mean(axis=0)
        cosine = float(np.min(np.sum(unit(expected, centre) * unit(got, centre), axis=1)))
        result = Result(name, runtime, worst_cosine=cosine)
        if detector:
            result.box_iou = boxes_iou(expected, got, pipeline)
        result.batch1_ms = timed(run, inputs[:1], args.runs) * 1000
        result.batch8_per_s = 8 / timed(run, inputs[:8], max(3, args.runs // 4))
        results.append(result)
    return results


def product_embedder_rows(models: str, pipeline: Pipeline, crops: list[Image.Image], runs: int) -> list[list[str]]:
    """The product's embedder per runtime setting: batch-1 p50, crops/s over all crops, and the worst cosine to
    the PyTorch setting's vectors, both less that setting's mean vector (as in the table above)."""
    rows: list[list[str]] = []
    reference: np.ndarray | None = None
    speeds: dict[str, float] = {}
    for runtime in ("pytorch", "onnxruntime", "openvino", "auto"):
        embedder = TimmEmbedder(replace(pipeline.config.embedder, runtime=runtime), pipeline.config.model_cache_dir,
                                torch.device("cpu"))  # fmt: skip
        embedder.load()
        vectors = embedder.predict(crops)
        reference = vectors if reference is None else reference
        batch1_ms = timed(embedder.predict, crops[:1], runs) * 1000
        per_s = len(crops) / timed(embedder.predict, crops, max(3, runs // 4))
        speeds[runtime] = per_s
        centre = reference.astype(np.float64).mean(axis=0)
        cosine = float(np.min(np.sum(unit(reference, centre) * unit(vectors, centre), axis=1)))
        label = f"auto (ran {embedder.runtime})" if runtime == "auto" else runtime
        rows.append([models, label, f"{batch1_ms:.1f}", f"{per_s:.1f}", f"{per_s / speeds['pytorch']:.2f}",
                     f"{cosine:.6f}"])  # fmt: skip
    return rows


def detector_inputs(pipeline: Pipeline, images: list[Image.Image]) -> np.ndarray:
    size = pipeline.config.detector.image_size
    squares = [np.asarray(image.convert("RGB").resize((size, size)), dtype=np.float32) / 255 for image in images]
    return np.ascontiguousarray(np.stack(squares).transpose(0, 3, 1, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["real", "starter"], default=["real", "starter"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--inputs", type=int, default=16)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (its compile takes minutes)")
    args = parser.parse_args()
    console = Console(width=160)
    import io

    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in generated_jpegs(args.inputs, seed=41)]
    results: list[Result] = []
    product_rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as folder:
        for models in args.models:
            pipeline = pipeline_for(models, Path(folder))
            cache = pipeline.config.model_cache_dir
            crops = [image.crop((100, 80, 300, 280)) for image in images]
            embedder_inputs = pipeline.embedder.preprocess(crops).numpy()
            embedder_name = f"embedder {pipeline.config.embedder.model_name} ({models})"
            console.print(f"{embedder_name}: {len(embedder_inputs)} crops of {embedder_inputs.shape[2]} px")
            results += bench_model(embedder_name, pipeline.embedder._model, embedder_inputs, args, cache, pipeline,
                                   detector=False)  # fmt: skip
            product_rows += product_embedder_rows(models, pipeline, crops, args.runs)
            detector_name = f"detector {Path(pipeline.config.detector.weights).stem} ({models})"
            console.print(f"{detector_name}: {args.inputs} images at {pipeline.config.detector.image_size} px")
            results += bench_model(detector_name, pipeline.detector._yolo.model, detector_inputs(pipeline, images),
                                   args, cache, pipeline, detector=True)  # fmt: skip
    table = Table(title=f"runtimes on {torch.get_num_threads()} CPU threads (equal: cosine ≥ {EQUAL_COSINE})")
    for column in ("model", "runtime", "batch 1 p50 ms", "batch 8 items/s", "worst cosine", "box IoU", "note"):
        table.add_column(column, justify="right" if column not in ("model", "runtime", "note") else "left")
    for result in results:
        table.add_row(result.model, result.runtime,
                      f"{result.batch1_ms:.1f}" if result.batch1_ms is not None else "-",
                      f"{result.batch8_per_s:.1f}" if result.batch8_per_s is not None else "-",
                      f"{result.worst_cosine:.6f}" if result.worst_cosine is not None else "-",
                      f"{result.box_iou:.3f}" if result.box_iou is not None else "-",
                      result.note or ("equal" if result.equal else "lossy" if result.lossy else "differs"))  # fmt: skip
    console.print(table)
    product = Table(title=f"the product's embedder (TimmEmbedder.predict, preprocessing included), {len(images)} crops")
    for column in ("models", "IMGSEARCH_EMBEDDER_RUNTIME", "batch 1 p50 ms", "crops/s", "x pytorch", "worst cosine"):
        product.add_column(column, justify="left" if column in ("models", "IMGSEARCH_EMBEDDER_RUNTIME") else "right")
    for row in product_rows:
        product.add_row(*row)
    console.print(product)
    for model in dict.fromkeys(result.model for result in results):
        equal = [r for r in results if r.model == model and r.equal and r.batch8_per_s]
        best = max(equal, key=lambda r: r.batch8_per_s or 0.0)
        eager = next(r for r in results if r.model == model and r.runtime == "PyTorch eager")
        console.print(f"{model}: chosen {best.runtime} ({best.batch8_per_s:.1f} items/s at batch 8, "
                      f"{(best.batch8_per_s or 0) / (eager.batch8_per_s or 1):.2f} x PyTorch eager)")  # fmt: skip


if __name__ == "__main__":
    main()

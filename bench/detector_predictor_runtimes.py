"""The detector through ultralytics' whole predictor on each export it makes itself: PyTorch, ONNX, OpenVINO.

    .venv/bin/python bench/detector_predictor_runtimes.py [--models starter real] [--runs 7]

Why the product's detector runs ONNX Runtime and not OpenVINO although OpenVINO's network is faster in fp32
(bench/runtime_choice.py): ultralytics' OpenVINO backend compiles with no precision hint, so on a CPU with bf16
units it computes in bf16. Per model: images/s at batch 8 through `YOLO.predict` (letterbox and NMS included) and,
against PyTorch's boxes on the same 16 generated scenes, the mean IoU (boxes matched in order; an image whose box
count differs counts 0) and the largest score difference. A last row recompiles the OpenVINO export in fp32 (inside
ultralytics' backend, which only a bench should do) to show what an fp32 OpenVINO detector would gain. `real` is
yolo11n with random weights, which finds no box above a usable threshold: it gives speed only. Exports go to a
temporary folder.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

from imgsearch.starter_models import with_starter_models
from pipeline.config import PipelineConfig
from pipeline.models.detector import YoloDetector


def base_model(models: str, folder: Path) -> tuple[Any, int]:
    from ultralytics import YOLO

    if models == "starter":
        config = with_starter_models(PipelineConfig()).detector
        detector = YoloDetector(replace(config, runtime="pytorch"), folder, torch.device("cpu"))
        detector.load()
        return detector._yolo, config.image_size
    torch.manual_seed(0)
    return YOLO("yolo11n.yaml", task="detect"), 640


def predicted(model: Any, images: list[np.ndarray], size: int) -> list[Any]:
    threads = torch.get_num_threads()  # ultralytics resets torch's threads when it builds a predictor
    results = model.predict(images, imgsz=size, conf=0.25, iou=0.5, max_det=20, verbose=False, device="cpu")
    torch.set_num_threads(threads)
    return [(result.boxes.xyxy.numpy(), result.boxes.conf.numpy()) for result in results]


def recompiled_fp32(model: Any, ir_folder: str, images: list[np.ndarray], size: int) -> Any:
    """`model` (an OpenVINO export) with its predictor's compiled network replaced by one compiled in fp32: what a
    product-side fp32 OpenVINO detector would run. Reaches into ultralytics' backend (8.4's layout), so it stays
    in this bench."""
    predicted(model, images[:1], size)  # builds the predictor and its backend
    backend = model.predictor.model.backend
    xml = next(Path(ir_folder).glob("*.xml"))
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    backend.ov_compiled_model = backend.ov.Core().compile_model(str(xml), "CPU", config)
    return model


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 1.0


def agreement(reference: list[Any], other: list[Any]) -> tuple[int, float, float | None]:
    """Boxes PyTorch found, the mean IoU of the other runtime's, and the largest score difference."""
    per_image, score_gaps = [], []
    for (boxes, scores), (their_boxes, their_scores) in zip(reference, other, strict=True):
        if len(boxes) != len(their_boxes):
            per_image.append(0.0)
            continue
        ious = [box_iou(a, b) for a, b in zip(boxes, their_boxes, strict=True)]
        per_image.append(float(np.mean(ious)) if ious else 1.0)
        if len(scores):
            score_gaps.append(float(np.max(np.abs(scores - their_scores))))
    return sum(len(boxes) for boxes, _ in reference), float(np.mean(per_image)), max(score_gaps, default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["starter", "real"], default=["starter", "real"])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from ultralytics import YOLO

    images = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, :, ::-1]
              for data in generated_jpegs(16, seed=41)]  # fmt: skip
    table = Table(title=f"the detector through ultralytics' predictor, batch 8, {torch.get_num_threads()} threads")
    for column in ("models", "export", "images/s", "x pytorch", "boxes", "mean IoU", "max score diff"):
        table.add_column(column, justify="left" if column in ("models", "export") else "right")
    import openvino

    default_precision = openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    with tempfile.TemporaryDirectory(prefix="bench-detector-") as scratch:
        os.chdir(scratch)  # ultralytics writes its OpenVINO export beside the working directory
        for models in args.models:
            base, size = base_model(models, Path(scratch))
            onnx = base.export(format="onnx", imgsz=size, dynamic=True, simplify=False, device="cpu", verbose=False)
            ir = base.export(format="openvino", imgsz=size, dynamic=True, device="cpu", verbose=False)
            fp32 = recompiled_fp32(YOLO(ir, task="detect"), ir, images, size)
            runs = {"pytorch": base, "onnxruntime": YOLO(onnx, task="detect"), "openvino": YOLO(ir, task="detect"),
                    "openvino fp32 (recompiled)": fp32}  # fmt: skip
            reference: list[Any] = []
            speeds: dict[str, float] = {}
            for export, model in runs.items():
                predicted(model, images[:8], size)  # warm-up (and the predictor built)
                boxes = predicted(model, images, size)
                reference = reference or boxes
                samples = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    predicted(model, images[:8], size)
                    samples.append(time.perf_counter() - started)
                speeds[export] = 8 / statistics.median(samples)
                found, iou, gap = agreement(reference, boxes)
                speed, ratio = f"{speeds[export]:.1f}", f"{speeds[export] / speeds['pytorch']:.2f}"
                iou_text, gap_text = f"{iou:.3f}" if found else "-", f"{gap:.2g}" if gap is not None else "-"
                table.add_row(models, export, speed, ratio, str(found), iou_text, gap_text)
    Console(width=140).print(table)
    print(f"OpenVINO's CPU default inference precision here: {default_precision}")


if __name__ == "__main__":
    main()

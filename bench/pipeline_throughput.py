"""Pipeline throughput against bare model compute, measured in the same run, plus one-image query latency.

    .venv/bin/python bench/pipeline_throughput.py [--images 64] [--objects 4]

Full pipeline = bytes in → records out (decode in worker threads, detect, crop, timm preprocessing, embed).
Bare compute = the detector's batched predict on the already decoded views plus the embedder's forward passes
on already preprocessed crop tensors, for the same images and boxes. Goal: ratio ≥ 0.85.

With no weights on this machine both models are built from configuration (random weights) at their real
architectures; a near-zero detection threshold makes the random detector return `--objects` boxes per image,
so the work per image matches a photo with that many objects.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs
from torch.utils.flop_counter import FlopCounterMode

import pipeline.models.offline  # noqa: F401
from pipeline.config import DetectorConfig, EmbedderConfig, PipelineConfig
from pipeline.crop import crop_boxes
from pipeline.runner import Pipeline
from pipeline.stream import batched


def bare_compute_seconds(pipe: Pipeline, payloads: list[bytes], batch_size: int) -> float:
    """Time only the models: detector predict on decoded views, embedder forward on prepared tensors."""
    decoded = [pipe.decode(data) for data in payloads]
    views = [image.model_view().image for image in decoded]
    analyzed = pipe.detect(decoded)
    crops: list[Image.Image] = []
    for item in analyzed:
        crops.append(item.view.image)
        crops += crop_boxes(item.view.image, item.view_boxes(item.boxes_xyxy), pipe.config.crop_margin)
    tensors = [pipe.embedder.preprocess(chunk) for chunk in batched(crops, pipe.embedder.config.batch_size)]
    started = time.perf_counter()
    for view_batch in batched(views, batch_size):
        pipe.detector.predict(view_batch)
    for tensor in tensors:
        pipe.embedder.embed_tensor(tensor)
    return time.perf_counter() - started


def pipeline_seconds(pipe: Pipeline, payloads: list[bytes], batch_size: int) -> tuple[float, int]:
    started = time.perf_counter()
    sources = [(index, (lambda data=data: data)) for index, data in enumerate(payloads)]
    results = [result for _, result in pipe.process_stream(sources, batch_size=batch_size)]
    elapsed = time.perf_counter() - started
    records = [result.record for result in results if not isinstance(result, Exception) and result.record]
    if len(records) != len(payloads):
        raise RuntimeError(f"{len(payloads) - len(records)} images failed")
    return elapsed, sum(len(record.objects) for record in records)


def query_latency_ms(pipe: Pipeline, payloads: list[bytes], runs: int) -> list[float]:
    """Decode + detect + embed every object and the whole image, one image at a time."""
    timings = []
    for data in payloads[:runs]:
        started = time.perf_counter()
        pipe.process(data)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def gflops(module: torch.nn.Module, example: torch.Tensor) -> float:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module(example)
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--objects", type=int, default=4, help="boxes per image the detector returns")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--detector", default="yolo11n.yaml")
    parser.add_argument("--embedder", default="vit_small_patch14_dinov2.lvd142m")
    parser.add_argument("--embedder-size", type=int, default=224)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    config = PipelineConfig(
        detector=DetectorConfig(weights=args.detector, confidence=1e-9, max_objects=args.objects, min_box_side=1),
        embedder=EmbedderConfig(model_name=args.embedder, image_size=args.embedder_size, pretrained=False),
    )
    pipe = Pipeline.from_config(config)
    pipe.load()
    payloads = generated_jpegs(args.images, seed=0)
    pipe.process(payloads[0])  # warm-up: first calls build ultralytics' predictor and allocate buffers

    # Alternate the two measurements and keep each one's best round, so drift in machine load hits both alike.
    bare_rounds, full_rounds = [], []
    for _ in range(args.rounds):
        bare_rounds.append(bare_compute_seconds(pipe, payloads, args.batch_size))
        full_s, vectors = pipeline_seconds(pipe, payloads, args.batch_size)
        full_rounds.append(full_s)
    bare_s, full_s = min(bare_rounds), min(full_rounds)
    latencies = query_latency_ms(pipe, payloads, args.latency_runs)

    detector_gflops = gflops(pipe.detector._yolo.model, torch.zeros(1, 3, 480, 640))
    size = args.embedder_size
    embedder_gflops = gflops(pipe.embedder._model, torch.zeros(1, 3, size, size))

    table = Table(title=f"pipeline throughput, {args.images} images 640x480, {torch.get_num_threads()} threads")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("full pipeline images/s", f"{args.images / full_s:.2f}")
    table.add_row("bare model compute images/s", f"{args.images / bare_s:.2f}")
    table.add_row("ratio full / bare (goal ≥ 0.85)", f"{bare_s / full_s:.3f}")
    table.add_row("vectors per image (whole image + objects)", f"{vectors / args.images:.1f}")
    table.add_row("query latency p50 ms", f"{statistics.median(latencies):.1f}")
    table.add_row("query latency p95 ms", f"{np.percentile(latencies, 95):.1f}")
    table.add_row(f"detector GFLOPs / image ({Path(args.detector).stem}, 640x480)", f"{detector_gflops:.2f}")
    table.add_row(f"embedder GFLOPs / crop ({args.embedder} @ {size})", f"{embedder_gflops:.2f}")
    table.add_row(
        "GFLOPs / image at this object count", f"{detector_gflops + embedder_gflops * vectors / args.images:.2f}"
    )
    Console().print(table)


if __name__ == "__main__":
    main()

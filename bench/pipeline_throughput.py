"""Pipeline throughput and query latency against their bare model compute, measured in the same run.

    .venv/bin/python bench/pipeline_throughput.py [--images 64] [--objects 4]

Full pipeline = bytes in → records out (decode in worker threads, detect, crop, timm preprocessing, embed).
Bare compute = the very model calls that run made, replayed: each detector predict on the same views (same
batches, same augmentation) and each embedder forward on the same preprocessed tensors, once one after the other
on every thread and once in two lanes of half the threads each, pulling the calls from one queue (the pipeline's
model lanes, without their wait of a batch's embedding for its detection); the faster is the floor. It is
a subset of the pipeline's work, so full/bare ≤ 1.0 by construction, up to noise; goal ≥ 0.85.

Query = what `POST /api/v1/search` with `object` costs before the kNN search: decode, detect (as a query) and one
region vector; its bare compute is that query's detector call and its one embedder forward, replayed.

With no weights on this machine both models are built from configuration (random weights) at their real
architectures; a near-zero detection threshold makes the random detector return `--objects` boxes per image,
so the work per image matches a photo with that many objects.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs
from torch.utils.flop_counter import FlopCounterMode

import pipeline.models.offline  # noqa: F401
from pipeline.config import DetectorConfig, EmbedderConfig, PipelineConfig
from pipeline.models.runtime import lane_threads, thread_budget
from pipeline.runner import Pipeline


@dataclass
class ModelCalls:
    """The detector and embedder calls a piece of pipeline work made, with their inputs, to replay as its floor."""

    detector: list[tuple[list[Image.Image], bool]] = field(default_factory=list)
    embedder: list[torch.Tensor] = field(default_factory=list)

    def replay_seconds(self, pipe: Pipeline) -> float:
        started = time.perf_counter()
        self._detect(pipe)
        self._embed(pipe)
        return time.perf_counter() - started

    def replay_in_lanes_seconds(self, pipe: Pipeline, lanes: int = 2) -> float:
        """The same calls, in any order, on `lanes` threads pulling from one queue, each on its share of the torch
        threads (the pipeline's model lanes, minus the wait of a batch's embedding for its detection)."""
        lanes, threads = lane_threads(pipe.config.torch_threads, lanes)
        # In the pipeline's order: each detector call followed by its share of the embedder calls (one lane can
        # embed while the other detects; the detector takes one call at a time).
        work: list[Callable[[], object]] = []
        per_detect = len(self.embedder) / max(1, len(self.detector))
        for position, (views, augment) in enumerate(self.detector):
            work.append(lambda views=views, augment=augment: pipe.detector.predict(views, augment=augment))
            for tensor in self.embedder[round(position * per_detect) : round((position + 1) * per_detect)]:
                work.append(lambda tensor=tensor: pipe.embedder.embed_tensor(tensor))
        queue = iter(work)
        lock = threading.Lock()

        def lane() -> None:
            with thread_budget(threads):
                while True:
                    with lock:
                        call = next(queue, None)
                    if call is None:
                        return
                    call()

        started = time.perf_counter()
        with ThreadPoolExecutor(lanes) as pool:
            for running in [pool.submit(lane) for _ in range(lanes)]:
                running.result()
        return time.perf_counter() - started

    def _detect(self, pipe: Pipeline) -> None:
        for views, augment in self.detector:
            pipe.detector.predict(views, augment=augment)

    def _embed(self, pipe: Pipeline) -> None:
        for tensor in self.embedder:
            pipe.embedder.embed_tensor(tensor)


@contextmanager
def recording(pipe: Pipeline) -> Iterator[ModelCalls]:
    """Inside: every detector predict and embedder forward of `pipe` is also written down."""
    calls = ModelCalls()
    predict, embed_tensor = pipe.detector.predict, pipe.embedder.embed_tensor

    def recorded_predict(views: list[Image.Image], augment: bool = False) -> Any:
        calls.detector.append((list(views), augment))
        return predict(views, augment=augment)

    def recorded_embed(tensor: torch.Tensor) -> np.ndarray:
        calls.embedder.append(tensor.clone())
        return embed_tensor(tensor)

    pipe.detector.predict = recorded_predict  # type: ignore[method-assign]
    pipe.embedder.embed_tensor = recorded_embed  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del pipe.detector.predict, pipe.embedder.embed_tensor  # back to the class's methods


def pipeline_seconds(pipe: Pipeline, payloads: list[bytes], batch_size: int) -> tuple[float, int, ModelCalls]:
    sources = [(index, (lambda data=data: data)) for index, data in enumerate(payloads)]
    with recording(pipe) as calls:
        started = time.perf_counter()
        results = [result for _, result in pipe.process_stream(sources, batch_size=batch_size)]
        elapsed = time.perf_counter() - started
    records = [result.record for result in results if not isinstance(result, Exception) and result.record]
    if len(records) != len(payloads):
        raise RuntimeError(f"{len(payloads) - len(records)} images failed")
    return elapsed, sum(len(record.objects) for record in records), calls


def query_ms(pipe: Pipeline, data: bytes) -> tuple[float, float]:
    """One query by its first detected object (the whole image when none): full and bare milliseconds."""
    with recording(pipe) as calls:
        started = time.perf_counter()
        analyzed = pipe.detect([pipe.decode(data)], for_query=True)[0]
        if len(analyzed.boxes_xyxy):
            pipe.embed_detected(analyzed, [0])
        else:
            pipe.embed_whole(analyzed)
        full_ms = (time.perf_counter() - started) * 1000
    return full_ms, calls.replay_seconds(pipe) * 1000


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
    parser.add_argument("--model-lanes", type=int, default=None, help="batches at once (default: the product's)")
    args = parser.parse_args()

    config = PipelineConfig(
        detector=DetectorConfig(weights=args.detector, confidence=1e-9, max_objects=args.objects, min_box_side=1),
        embedder=EmbedderConfig(model_name=args.embedder, image_size=args.embedder_size, pretrained=False),
        model_lanes=args.model_lanes,
    )
    pipe = Pipeline.from_config(config)
    pipe.load()
    payloads = generated_jpegs(args.images, seed=0)
    pipe.process(payloads[0])  # warm-up: first calls build ultralytics' predictor and allocate buffers

    # Each round runs the pipeline, then replays its model calls at once, so drift in machine load hits both
    # alike; each keeps its best round.
    # The floor is the faster of the two ways to run the same calls: one after the other on every thread, or in
    # two lanes of half the threads each (what the pipeline's model lanes do).
    bare_rounds, in_lanes_rounds, full_rounds = [], [], []
    for _ in range(args.rounds):
        full_s, vectors, calls = pipeline_seconds(pipe, payloads, args.batch_size)
        full_rounds.append(full_s)
        bare_rounds.append(calls.replay_seconds(pipe))
        in_lanes_rounds.append(calls.replay_in_lanes_seconds(pipe))
    sequential_s, in_lanes_s, full_s = min(bare_rounds), min(in_lanes_rounds), min(full_rounds)
    bare_s = min(sequential_s, in_lanes_s)
    query_full_ms, query_bare_ms = zip(*(query_ms(pipe, data) for data in payloads[: args.latency_runs]), strict=True)

    detector_gflops = gflops(pipe.detector._yolo.model, torch.zeros(1, 3, 480, 640))
    size = args.embedder_size
    embedder_gflops = gflops(pipe.embedder._model, torch.zeros(1, 3, size, size))

    table = Table(title=f"pipeline throughput, {args.images} images 640x480, {torch.get_num_threads()} threads")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("full pipeline images/s", f"{args.images / full_s:.2f}")
    table.add_row("bare model compute images/s: one call after the other", f"{args.images / sequential_s:.2f}")
    table.add_row("bare model compute images/s: in two lanes", f"{args.images / in_lanes_s:.2f}")
    table.add_row("ratio full / faster bare (goal ≥ 0.85)", f"{bare_s / full_s:.3f}")
    table.add_row("vectors per image (whole image + objects)", f"{vectors / args.images:.1f}")
    table.add_row("query (decode + detect + 1 region vector) p50 ms", f"{statistics.median(query_full_ms):.1f}")
    table.add_row("query p95 ms", f"{np.percentile(query_full_ms, 95):.1f}")
    table.add_row("query bare compute p50 ms", f"{statistics.median(query_bare_ms):.1f}")
    ratios = [bare / full for bare, full in zip(query_bare_ms, query_full_ms, strict=True)]
    table.add_row("query ratio bare / full, median", f"{statistics.median(ratios):.3f}")
    table.add_row(f"detector GFLOPs / image ({Path(args.detector).stem}, 640x480)", f"{detector_gflops:.2f}")
    table.add_row(f"embedder GFLOPs / crop ({args.embedder} @ {size})", f"{embedder_gflops:.2f}")
    table.add_row(
        "GFLOPs / image at this object count", f"{detector_gflops + embedder_gflops * vectors / args.images:.2f}"
    )
    Console().print(table)


if __name__ == "__main__":
    main()

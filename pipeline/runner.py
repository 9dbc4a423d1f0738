"""The pipeline read top to bottom: decode → detect → crop → embed → records, for one image or a stream."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from PIL import Image

from pipeline import geometry
from pipeline.config import PipelineConfig
from pipeline.crop import crop_boxes
from pipeline.decode import DecodedImage, ModelView, decode_image
from pipeline.errors import ImageRejected
from pipeline.identity import model_id
from pipeline.micro_batch import MicroBatcher
from pipeline.models.detector import Detections, YoloDetector
from pipeline.models.embedder import TimmEmbedder
from pipeline.models.runtime import configure_threads, lane_threads, pick_device, thread_budget
from pipeline.records import Box, ImageObject, ImageRecord, ObjectKind, ObjectRecord, Processed
from pipeline.stream import batched, ordered_prefetch

KeyT = TypeVar("KeyT")
__all__ = ["AnalyzedImage", "Detector", "Pipeline", "Processed"]


class Detector(Protocol):
    def load(self) -> None: ...
    def predict(self, inputs: list[Image.Image], augment: bool = False) -> list[Detections]: ...
    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class AnalyzedImage:
    """A decoded image with its kept detections: `view_boxes_xyxy` on the models' view, where they were found
    and are cropped; `boxes_xyxy` the same boxes in original pixels, mapped once, for records and answers."""

    decoded: DecodedImage
    view: ModelView
    view_boxes_xyxy: np.ndarray
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    labels: list[str]

    def to_view(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Original-pixel boxes (a region a user drew) mapped onto the models' view."""
        return geometry.scale_boxes(boxes_xyxy, 1.0 / self.view.scale)

    def whole(self) -> ImageObject:
        return ImageObject.whole(self.decoded.width, self.decoded.height)

    def detected(self) -> list[ImageObject]:
        """The kept detections as objects 1, 2, …, best score first."""
        return [
            ImageObject(i + 1, ObjectKind.OBJECT, label, float(score), Box(*map(float, box)))
            for i, (box, score, label) in enumerate(zip(self.boxes_xyxy, self.scores, self.labels, strict=True))
        ]


class Pipeline:
    """Models are loaded once and reused; every method is safe to call from several threads."""

    def __init__(
        self,
        config: PipelineConfig,
        detector: Detector,
        embedder: TimmEmbedder,
        stage_timer: Callable[[str], AbstractContextManager[object]] = lambda _stage: nullcontext(),
    ) -> None:
        self.config = config
        self.detector = detector
        self.embedder = embedder
        # Called as `with stage_timer("decode"): ...` around each stage; the API plugs its metrics in here.
        self.stage_timer = stage_timer
        self._detect_batchers: dict[bool, MicroBatcher[Image.Image, Detections]] = {}
        self._embed_batcher: MicroBatcher[Image.Image, np.ndarray] | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig) -> Pipeline:
        configure_threads(config.torch_threads)
        device = pick_device(config.device)
        cache = config.model_cache_dir
        return cls(
            config,
            YoloDetector(config.detector, cache, device, seed=config.seed),
            TimmEmbedder(config.embedder, cache, device, seed=config.seed),
        )

    def load(self) -> None:
        self.detector.load()
        self.embedder.load()

    @cached_property
    def model_id(self) -> str:
        choices = {"crop_margin": self.config.crop_margin, "model_max_side": self.config.limits.model_max_side}
        return model_id(self.detector.describe(), self.embedder.describe(), choices)

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def share_model_batches(
        self,
        max_wait_s: float,
        detector_batch: int = 8,
        embedder_batch: int = 32,
        company: Callable[[], int] | None = None,
    ) -> None:
        """From now on, model calls from concurrent threads (the API's workers) share batches, each waiting at
        most `max_wait_s` for others to join while `company` says other requests are in progress
        (`pipeline.micro_batch`)."""
        if self._embed_batcher is not None:
            return
        for augment in (False, True):
            self._detect_batchers[augment] = MicroBatcher(
                lambda images, augment=augment: self.detector.predict(images, augment=augment),
                detector_batch, max_wait_s, name="detect-augmented" if augment else "detect", company=company,
            )  # fmt: skip
        self._embed_batcher = MicroBatcher(lambda crops: list(self.embedder.predict(crops)), embedder_batch,
                                           max_wait_s, name="embed", company=company)  # fmt: skip

    def close(self) -> None:
        """Stop the batchers' workers (after the calls waiting), if batches were shared."""
        for batcher in [*self._detect_batchers.values(), *filter(None, [self._embed_batcher])]:
            batcher.close()
        self._detect_batchers, self._embed_batcher = {}, None

    def _detections(self, images: list[Image.Image], augment: bool) -> list[Detections]:
        batcher = self._detect_batchers.get(augment)
        return batcher(images) if batcher is not None else self.detector.predict(images, augment=augment)

    def _vectors(self, crops: list[Image.Image]) -> np.ndarray:
        if self._embed_batcher is None:
            return self.embedder.predict(crops)
        rows = self._embed_batcher(crops)
        return np.stack(rows) if rows else np.empty((0, self.dim), dtype=np.float32)

    def decode(self, data: bytes) -> DecodedImage:
        with self.stage_timer("decode"):
            return decode_image(data, self.config.limits)

    def analyze(self, data: bytes, for_query: bool = False) -> AnalyzedImage:
        """One image's bytes decoded and its objects detected (`for_query`: see `detect`); raises `ImageRejected`."""
        return self.detect([self.decode(data)], for_query=for_query)[0]

    def detect(self, images: list[DecodedImage], for_query: bool = False) -> list[AnalyzedImage]:
        """Detect on the downscaled views in one batch; keep boxes that are big enough, in original pixels.

        `for_query`: the images are search queries, which the detector's `augment` mode may treat apart.
        """
        mode = self.config.detector.augment
        augment = mode == "all" or (mode == "queries" and for_query)
        with self.stage_timer("detect"):
            views = [image.model_view() for image in images]
            detections = self._detections([view.image for view in views], augment) if views else []
        return [self._keep(image, view, found) for image, view, found in zip(images, views, detections, strict=True)]

    def _keep(self, image: DecodedImage, view: ModelView, found: Detections) -> AnalyzedImage:
        view_boxes = geometry.clamp_boxes(found.boxes_xyxy, view.image.width, view.image.height)
        boxes = geometry.clamp_boxes(geometry.scale_boxes(view_boxes, view.scale), image.width, image.height)
        keep = np.flatnonzero(geometry.min_side_mask(boxes, self.config.detector.min_box_side))
        keep = keep[np.argsort(-found.scores[keep], kind="stable")][: self.config.detector.max_objects]
        labels = [found.labels[i] for i in keep]
        return AnalyzedImage(image, view, view_boxes[keep], boxes[keep], found.scores[keep], labels)

    def embed_regions(self, analyzed: AnalyzedImage, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Vectors for arbitrary boxes (original pixels) on an analysed image: a user's drawn region, say."""
        with self.stage_timer("embed"):
            crops = crop_boxes(analyzed.view.image, analyzed.to_view(boxes_xyxy), self.config.crop_margin)
            return self._vectors(crops)

    def embed_detected(self, analyzed: AnalyzedImage, positions: list[int]) -> np.ndarray:
        """Vectors for some of the image's own detections (0-based among them), cropped where they were found."""
        with self.stage_timer("embed"):
            crops = crop_boxes(analyzed.view.image, analyzed.view_boxes_xyxy[positions], self.config.crop_margin)
            return self._vectors(crops)

    def embed_whole(self, analyzed: AnalyzedImage) -> np.ndarray:
        with self.stage_timer("embed"):
            return self._vectors([analyzed.view.image])[0]

    def records(self, analyzed_images: list[AnalyzedImage]) -> list[ImageRecord]:
        """Embed every image and every kept object in shared batches, then assemble one record per image."""
        crops: list[Image.Image] = []
        for analyzed in analyzed_images:
            crops.append(analyzed.view.image)
            crops += crop_boxes(analyzed.view.image, analyzed.view_boxes_xyxy, self.config.crop_margin)
        with self.stage_timer("embed"):
            vectors = self._vectors(crops)
        records, offset = [], 0
        for analyzed in analyzed_images:
            count = 1 + len(analyzed.boxes_xyxy)
            records.append(self._record(analyzed, vectors[offset : offset + count]))
            offset += count
        return records

    def _record(self, analyzed: AnalyzedImage, vectors: np.ndarray) -> ImageRecord:
        decoded = analyzed.decoded
        objects = [analyzed.whole(), *analyzed.detected()]
        return ImageRecord(
            image_id=decoded.image_id,
            width=decoded.width,
            height=decoded.height,
            content_type=decoded.content_type,
            byte_size=decoded.byte_size,
            model_id=self.model_id,
            objects=[ObjectRecord(obj, vector) for obj, vector in zip(objects, vectors, strict=True)],
        )

    def process(self, data: bytes) -> ImageRecord:
        """One image's bytes to its record; raises `ImageRejected` for bad input."""
        return self.records([self.analyze(data)])[0]

    def process_stream(
        self,
        sources: Iterable[tuple[KeyT, Callable[[], bytes]]],
        batch_size: int = 8,
        keep: Callable[[list[DecodedImage]], list[bool]] | None = None,
    ) -> Iterator[tuple[KeyT, Processed | Exception]]:
        """Read and decode in worker threads while the models run on earlier batches; results in input order.

        `keep`, asked once a batch (in the caller's thread) about its decoded images, can spare the models some
        (those already indexed, say): they come back with no record. A source that cannot be read or is not a valid
        image yields its exception instead, and the stream goes on.
        """
        decoded_stream = ordered_prefetch(
            self._read_and_decode, sources, workers=self.config.decode_workers, ahead=2 * batch_size
        )
        spared = (_Spared.of(batch, keep) for batch in batched(decoded_stream, batch_size))
        for batch, records in self._modelled(spared):
            by_item = dict(zip((id(item) for item in batch.wanted), records, strict=True))
            for key, item in batch.items:
                if isinstance(item, Exception):
                    yield key, item
                else:
                    data, decoded = item
                    yield key, Processed(data, decoded, by_item.get(id(item)))

    def _modelled(self, batches: Iterable[_Spared[KeyT]]) -> Iterator[tuple[_Spared[KeyT], list[ImageRecord]]]:
        """Each batch with its records, in order, several batches at once when there are threads for them (with
        shared model batches, the batchers' own threads run the models). The detector takes one batch at a time,
        so two lanes also detect one batch while they embed another."""
        wanted = self.config.model_lanes or (2 if pick_device(self.config.device).type == "cpu" else 1)
        lanes, threads = lane_threads(self.config.torch_threads, wanted)
        if lanes == 1 or self._embed_batcher is not None:
            for batch in batches:
                yield batch, self.records(self.detect(batch.images()))
            return

        def modelled(batch: _Spared[KeyT]) -> tuple[_Spared[KeyT], list[ImageRecord]]:
            with thread_budget(threads):
                return batch, self.records(self.detect(batch.images()))

        yield from ordered_prefetch(modelled, batches, workers=lanes, ahead=lanes, thread_name="imgsearch-models")

    def _read_and_decode(
        self, source: tuple[KeyT, Callable[[], bytes]]
    ) -> tuple[KeyT, tuple[bytes, DecodedImage] | Exception]:
        key, read = source
        try:
            data = read()
            return key, (data, self.decode(data))
        except (ImageRejected, OSError) as error:
            return key, error


# One source's bytes and decoded image, or why it has none.
_Decoded = tuple[bytes, DecodedImage] | Exception


@dataclass(frozen=True)
class _Spared(Generic[KeyT]):
    """A stream's batch in input order, and those of its decoded images the models are to see."""

    items: list[tuple[KeyT, _Decoded]]
    wanted: list[tuple[bytes, DecodedImage]]

    @classmethod
    def of(
        cls, items: list[tuple[KeyT, _Decoded]], keep: Callable[[list[DecodedImage]], list[bool]] | None
    ) -> _Spared[KeyT]:
        decoded = [item for _, item in items if isinstance(item, tuple)]
        kept = keep([image for _, image in decoded]) if keep is not None and decoded else [True] * len(decoded)
        return cls(items, [item for item, keep_it in zip(decoded, kept, strict=True) if keep_it])

    def images(self) -> list[DecodedImage]:
        return [image for _, image in self.wanted]

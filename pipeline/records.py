"""What the pipeline produces for the index: one record per image, one entry per object."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from pipeline.dataclass_init import direct_init

if TYPE_CHECKING:
    from pipeline.decode import DecodedImage


class ObjectKind(StrEnum):
    OBJECT = "object"
    IMAGE = "image"


# Decoding a search answer makes hundreds of kinds from strings; `ObjectKind(value)` takes ~7 µs on Python 3.11,
# which was 6 ms of a 38 ms search of 100 images, a lookup well under one.
KIND_BY_VALUE: dict[str, ObjectKind] = {kind.value: kind for kind in ObjectKind}


@direct_init
@dataclass(frozen=True)
class Box:
    """An axis-aligned box in original-image pixels, x2/y2 exclusive."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


WHOLE_IMAGE_LABEL = "image"


@dataclass(frozen=True)
class ImageObject:
    """One object of an image, box in original pixels: the whole image (object 0, kind `image`) or a detection.

    The one shape an object has from detection to the index and the API; a record adds its vector.
    """

    index: int
    kind: ObjectKind
    label: str
    score: float
    box: Box

    @classmethod
    def whole(cls, width: float, height: float) -> ImageObject:
        return cls(0, ObjectKind.IMAGE, WHOLE_IMAGE_LABEL, 1.0, Box(0.0, 0.0, float(width), float(height)))


@dataclass(frozen=True)
class ObjectRecord:
    """An object with its L2-normalised float32 vector."""

    object: ImageObject
    vector: np.ndarray


@dataclass(frozen=True)
class ImageRecord:
    """Everything the index stores about one image; `objects[0]` is always the whole image."""

    image_id: str
    width: int
    height: int
    content_type: str
    byte_size: int
    model_id: str
    objects: list[ObjectRecord] = field(default_factory=list)

    @property
    def detected(self) -> list[ObjectRecord]:
        return [obj for obj in self.objects if obj.object.kind is ObjectKind.OBJECT]


@dataclass(frozen=True)
class Processed:
    """One streamed image: its bytes, the decoded image, and its record (None when `keep` skipped the models).

    Here rather than beside the pipeline, so that a process storing results (a Ray writer) needs no torch."""

    data: bytes
    decoded: DecodedImage
    record: ImageRecord | None

"""What search needs to know of every object, in memory by graph key: its image, kind, label, position, box, score.

Search reads these for each candidate the graph returns; read from SQLite they cost more than the graph walk
itself (`bench/embedded_knn.py`). Columns are numpy arrays indexed by key, so filters are vector operations; the
table is loaded from SQLite on open and changed with every commit, under the graph's write lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from imgsearch.index.types import Box, ImageObject, ObjectKind

KINDS = list(ObjectKind)
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
ABSENT = -1


class ObjectTable:
    def __init__(self) -> None:
        self.image_slot = np.full(1024, ABSENT, dtype=np.int32)  # by key: the image's slot, ABSENT if none
        self.kind = np.zeros(1024, dtype=np.uint8)
        self.label = np.zeros(1024, dtype=np.int32)
        self.position = np.zeros(1024, dtype=np.int16)
        self.score = np.zeros(1024, dtype=np.float32)
        self.box = np.zeros((1024, 4), dtype=np.float32)
        self.image_ids: list[str] = []  # by slot
        self.sizes = np.zeros((1024, 2), dtype=np.int32)  # by slot: width, height
        self._slot_of: dict[str, int] = {}
        self._free_slots: list[int] = []
        self.labels: list[str] = []
        self._label_code: dict[str, int] = {}

    def add_image(self, image_id: str, width: int, height: int, objects: Iterable[tuple[int, ImageObject]]) -> None:
        """An image and its objects, each with its graph key."""
        slot = self._free_slots.pop() if self._free_slots else len(self.image_ids)
        if slot == len(self.image_ids):
            self.image_ids.append(image_id)
            self.sizes = _grown(self.sizes, slot + 1)
        else:
            self.image_ids[slot] = image_id
        self._slot_of[image_id] = slot
        self.sizes[slot] = (width, height)
        for key, obj in objects:
            self._grow(key + 1)
            self.image_slot[key] = slot
            self.kind[key] = KIND_CODE[obj.kind]
            self.label[key] = self._code(obj.label)
            self.position[key] = obj.index
            self.score[key] = obj.score
            self.box[key] = (obj.box.x1, obj.box.y1, obj.box.x2, obj.box.y2)

    def remove_image(self, image_id: str, keys: Sequence[int]) -> None:
        slot = self._slot_of.pop(image_id, None)
        if slot is not None:
            self._free_slots.append(slot)
        if keys:
            self.image_slot[np.asarray(keys, dtype=np.int64)] = ABSENT

    def slots(self, keys: np.ndarray) -> np.ndarray:
        """Each key's image slot (ABSENT for a key the table does not hold)."""
        inside = keys < len(self.image_slot)
        return np.where(inside, self.image_slot[np.where(inside, keys, 0)], ABSENT)

    def kind_mask(self, kinds: Iterable[ObjectKind]) -> np.ndarray:
        """By kind code: whether objects of that kind are wanted."""
        wanted = np.zeros(len(KINDS), dtype=bool)
        wanted[[KIND_CODE[kind] for kind in kinds]] = True
        return wanted

    def label_codes(self, labels: Iterable[str]) -> np.ndarray:
        return np.array([self._label_code[label] for label in labels if label in self._label_code], dtype=np.int32)

    def slots_of(self, image_ids: Iterable[str]) -> np.ndarray:
        return np.array([self._slot_of[i] for i in image_ids if i in self._slot_of], dtype=np.int32)

    def size_of(self, image_id: str) -> tuple[int, int]:
        width, height = self.sizes[self._slot_of[image_id]].tolist()
        return width, height

    def image_object(self, key: int) -> ImageObject:
        x1, y1, x2, y2 = self.box[key].tolist()
        return ImageObject(int(self.position[key]), KINDS[self.kind[key]], self.labels[self.label[key]],
                           float(self.score[key]), Box(x1, y1, x2, y2))  # fmt: skip

    def _code(self, label: str) -> int:
        code = self._label_code.get(label)
        if code is None:
            code = self._label_code[label] = len(self.labels)
            self.labels.append(label)
        return code

    def _grow(self, size: int) -> None:
        if size <= len(self.image_slot):
            return
        self.image_slot = _grown(self.image_slot, size, fill=ABSENT)
        self.kind, self.label = _grown(self.kind, size), _grown(self.label, size)
        self.position, self.score, self.box = (
            _grown(self.position, size),
            _grown(self.score, size),
            _grown(self.box, size),
        )


def _grown(column: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    """The column, at least `size` long (doubling, so appends stay cheap)."""
    if size <= len(column):
        return column
    bigger = np.full((max(size, 2 * len(column)), *column.shape[1:]), fill, dtype=column.dtype)
    bigger[: len(column)] = column
    return bigger

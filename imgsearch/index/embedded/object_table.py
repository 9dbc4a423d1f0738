"""What search needs to know of every object, in memory by graph key: its image, kind, label, position, box, and
its image's size.

Search reads these for each candidate the graph returns; read from SQLite they cost more than the graph walk
itself (`bench/embedded_knn.py`). One structured numpy array holds a row per key, so filters are vector operations
on the candidates' rows; the table is loaded from SQLite on open and changed with every commit, under the graph's
write lock.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

from imgsearch.index.types import ImageObject, ObjectKind

KINDS = list(ObjectKind)
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
ABSENT = -1
# One 36-byte row per key: a search's candidates are random keys, and a row reads each one's facts from one or two
# cache lines where a column per fact read a line for each (bench/embedded_knn.py measures the whole search around
# the graph). The image's size is in each of its rows, so a page's hits need no second lookup by image.
ROW = np.dtype(
    [("slot", "<i4"), ("kind", "u1"), ("position", "<i2"), ("label", "<i4"),
     ("x1", "<f4"), ("y1", "<f4"), ("x2", "<f4"), ("y2", "<f4"), ("width", "<i4"), ("height", "<i4")],
    align=True,
)  # fmt: skip
# ROW's layout for `struct`: after the graph walk, one `unpack_from` reads a row's values as Python objects at a third
# of the cost of `rows[number].tolist()`. tests/index/test_object_table.py checks the two layouts agree.
ROW_VALUES = struct.Struct("<iBxhi4f2i")
INITIAL_KEYS = 1024


class ObjectTable:
    def __init__(self) -> None:
        # By key. The last row is always absent, so `picked` can clip a key past the end onto it.
        self.rows = _absent_rows(INITIAL_KEYS)
        self.image_ids: list[str] = []  # by slot
        self._slot_of: dict[str, int] = {}
        self._free_slots: list[int] = []
        self.labels: list[str] = []
        self._label_code: dict[str, int] = {}

    def add_image(self, image_id: str, width: int, height: int, objects: Iterable[tuple[int, ImageObject]]) -> None:
        """An image and its objects, each with its graph key."""
        slot = self._free_slots.pop() if self._free_slots else len(self.image_ids)
        if slot == len(self.image_ids):
            self.image_ids.append(image_id)
        else:
            self.image_ids[slot] = image_id
        self._slot_of[image_id] = slot
        for key, obj in objects:
            self._grow(key + 2)
            box = obj.box
            self.rows[key] = (slot, KIND_CODE[obj.kind], obj.index, self._code(obj.label),
                              box.x1, box.y1, box.x2, box.y2, width, height)  # fmt: skip

    def remove_image(self, image_id: str, keys: Sequence[int]) -> None:
        slot = self._slot_of.pop(image_id, None)
        if slot is not None:
            self._free_slots.append(slot)
        if keys:
            self.rows["slot"][np.asarray(keys, dtype=np.int64)] = ABSENT

    def picked(self, keys: np.ndarray) -> np.ndarray:
        """The rows of these keys, in one gather; a key the table does not hold has slot ABSENT."""
        return self.rows.take(keys, mode="clip")

    def slots(self, keys: np.ndarray) -> np.ndarray:
        """Each key's image slot (ABSENT for a key the table does not hold)."""
        return self.picked(keys)["slot"]

    def kind_mask(self, kinds: Iterable[ObjectKind]) -> np.ndarray:
        """By kind code: whether objects of that kind are wanted."""
        wanted = np.zeros(len(KINDS), dtype=bool)
        wanted[[KIND_CODE[kind] for kind in kinds]] = True
        return wanted

    def label_codes(self, labels: Iterable[str]) -> np.ndarray:
        return np.array([self._label_code[label] for label in labels if label in self._label_code], dtype=np.int32)

    def slots_of(self, image_ids: Iterable[str]) -> np.ndarray:
        return np.array([self._slot_of[i] for i in image_ids if i in self._slot_of], dtype=np.int32)

    def _code(self, label: str) -> int:
        code = self._label_code.get(label)
        if code is None:
            code = self._label_code[label] = len(self.labels)
            self.labels.append(label)
        return code

    def _grow(self, size: int) -> None:
        if size <= len(self.rows):
            return
        bigger = _absent_rows(max(size, 2 * len(self.rows)))
        bigger[: len(self.rows)] = self.rows
        self.rows = bigger


def _absent_rows(count: int) -> np.ndarray:
    rows = np.zeros(count, dtype=ROW)
    rows["slot"] = ABSENT
    return rows

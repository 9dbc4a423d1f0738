"""The embedded index's in-memory object table: what search reads of each candidate, by graph key."""

from __future__ import annotations

import numpy as np

from imgsearch.index.embedded.object_table import ABSENT, KIND_CODE, ROW, ROW_VALUES, ObjectTable
from imgsearch.index.types import Box, ImageObject, ObjectKind


def objects(labels: list[str]) -> list[ImageObject]:
    whole = ImageObject(0, ObjectKind.IMAGE, "image", 1.0, Box(0, 0, 64, 48))
    return [whole] + [ImageObject(i + 1, ObjectKind.OBJECT, label, 0.5, Box(i, i, i + 9, i + 9))
                      for i, label in enumerate(labels)]  # fmt: skip


def test_keys_map_to_their_image_and_facts_and_a_removed_image_frees_its_keys() -> None:
    table = ObjectTable()
    table.add_image("a", 64, 48, zip([1, 2, 3], objects(["cat", "dog"]), strict=True))
    table.add_image("b", 32, 24, zip([5000, 5001], objects(["cat"]), strict=True))  # past the first allocation
    keys = np.array([1, 3, 5001, 4, 10**7])
    found = [table.image_ids[slot] if slot != ABSENT else None for slot in table.slots(keys).tolist()]
    assert found == ["a", "a", "b", None, None]
    picked = table.picked(np.array([3, 5001]))
    assert picked[["kind", "position", "x1", "y1", "x2", "y2", "width", "height"]].tolist() == [
        (KIND_CODE[ObjectKind.OBJECT], 2, 1.0, 1.0, 10.0, 10.0, 64, 48),
        (KIND_CODE[ObjectKind.OBJECT], 1, 0.0, 0.0, 9.0, 9.0, 32, 24),
    ]
    assert [table.labels[code] for code in picked["label"].tolist()] == ["dog", "cat"]
    wanted = table.kind_mask([ObjectKind.OBJECT])[table.picked(np.array([1, 2]))["kind"]]
    assert wanted.tolist() == [False, True]
    labels = table.picked(np.array([2, 3, 5001], dtype=np.uint64))["label"]  # the graph's keys are uint64
    assert np.isin(labels, table.label_codes(["cat", "bird"])).tolist() == [True, False, True]

    table.remove_image("a", [1, 2, 3])
    assert table.slots(np.array([1, 2, 3])).tolist() == [ABSENT] * 3
    table.add_image("c", 10, 10, zip([6], objects([]), strict=True))  # takes the freed slot
    assert table.image_ids[table.slots(np.array([6]))[0]] == "c" and table.slots_of(["a", "c"]).size == 1


def test_struct_reads_a_row_as_numpy_holds_it() -> None:
    """Search reads rows with `ROW_VALUES`: it must agree with `ROW` on every field's offset and type."""
    rows = np.zeros(3, dtype=ROW)
    rows[1] = (70_000, 1, -2, 123_456, 1.5, -2.25, 1e6, 3.0e-3, 2**31 - 1, 7)
    assert ROW_VALUES.size == ROW.itemsize
    values = ROW_VALUES.unpack_from(rows, 1 * ROW.itemsize)
    assert values == rows[1].tolist()
    assert [type(value) for value in values] == [type(value) for value in rows[1].tolist()]

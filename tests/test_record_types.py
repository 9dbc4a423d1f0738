"""`direct_init` (pipeline/dataclass_init.py): the result types it speeds up behave as dataclass-made ones."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import numpy as np
import pytest

from imgsearch.index.types import ImageHit, Match, VectorQuery
from pipeline.dataclass_init import direct_init
from pipeline.records import Box, ObjectKind

BOX = Box(1.5, 2.0, 30.0, 40.25)
MATCH = Match(3, ObjectKind.OBJECT, "cat", BOX, 0.75, part=1)
HIT = ImageHit("a" * 64, 0.75, 640, 480, (MATCH,))
QUERY = VectorQuery(np.ones(4, dtype=np.float32) / 2, "model", k=10, labels=("cat",), offset=20)
VALUES = [BOX, MATCH, HIT, QUERY]


def _name(value: object) -> str:
    return type(value).__name__


@pytest.mark.parametrize("value", VALUES, ids=_name)
def test_init_takes_exactly_the_fields_in_order_with_their_defaults(value: object) -> None:
    fields = dataclasses.fields(value)  # type: ignore[arg-type]
    parameters = list(inspect.signature(type(value).__init__).parameters.values())[1:]
    assert [parameter.name for parameter in parameters] == [field.name for field in fields]
    assert [parameter.default for parameter in parameters] == [
        inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default for field in fields
    ]


@pytest.mark.parametrize("value", VALUES, ids=_name)
def test_built_by_keyword_or_position_it_holds_what_was_given_and_stays_frozen(value: object) -> None:
    fields = dataclasses.fields(value)  # type: ignore[arg-type]
    given = [getattr(value, field.name) for field in fields]
    by_keyword = type(value)(**{field.name: item for field, item in zip(fields, given, strict=True)})
    by_position = type(value)(*given)
    for rebuilt in (by_keyword, by_position):
        assert vars(rebuilt).keys() == {field.name for field in fields}
        assert all(getattr(rebuilt, field.name) is item for field, item in zip(fields, given, strict=True))
    unpickled = pickle.loads(pickle.dumps(value))
    assert repr(unpickled) == repr(value) and vars(unpickled).keys() == vars(value).keys()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, fields[0].name, given[0])


def test_the_hashable_ones_hash_and_compare_as_before() -> None:
    assert Box(1.5, 2.0, 30.0, 40.25) == BOX and hash(Box(1.5, 2.0, 30.0, 40.25)) == hash(BOX)
    assert dataclasses.replace(BOX, x2=31.0) == Box(1.5, 2.0, 31.0, 40.25) != BOX
    assert len({MATCH, Match(3, ObjectKind.OBJECT, "cat", BOX, 0.75, part=1)}) == 1


def test_defaults_fill_what_is_left_out() -> None:
    assert Match(3, ObjectKind.OBJECT, "cat", BOX, 0.75).part == 0
    query = VectorQuery(QUERY.vector, "model")
    assert (query.k, query.kinds, query.labels, query.min_similarity, query.offset, query.tags) == (
        12,
        (ObjectKind.OBJECT,),
        (),
        None,
        0,
        (),
    )
    assert dataclasses.replace(QUERY, k=1).k == 1 and dataclasses.replace(QUERY, k=1).offset == 20


def test_a_missing_argument_is_the_usual_type_error() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'y2'"):
        Box(1.0, 2.0, 3.0)  # type: ignore[call-arg]


def test_classes_it_cannot_speed_up_are_refused() -> None:
    @dataclasses.dataclass
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True)
    class WithFactory:
        x: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        x: int

    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x >= 0

    for cls in (Mutable, WithFactory, Slotted, Checked):
        with pytest.raises(TypeError, match="direct_init"):
            direct_init(cls)

"""A faster `__init__` for frozen dataclasses built once per search result.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`, ~150 ns a field on Python
3.11. A search builds a box, a match and a hit for each result, and a query per search; the embedded index's
search at a small beam spent a fifth of its time beyond the graph walk on them (bench/embedded_knn.py).
`direct_init` gives such a class an `__init__` that writes the instance dict instead: the same signature, the same
values, still frozen afterwards. It is generated, as dataclasses generates its own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

Frozen = TypeVar("Frozen", bound=type)


def direct_init(cls: Frozen) -> Frozen:
    """Apply above `@dataclass(frozen=True)`: plain positional-or-keyword fields, plain defaults, no slots."""
    params = dataclasses.fields(cls)
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: direct_init is for frozen dataclasses")
    if "__slots__" in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: direct_init needs an instance dict and no __post_init__")
    namespace: dict[str, Any] = {}
    arguments = []
    for field in params:
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: direct_init takes plain fields only")
        if field.default is dataclasses.MISSING:
            arguments.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            arguments.append(f"{field.name}=_default_{field.name}")
    stores = "".join(f"    values[{field.name!r}] = {field.name}\n" for field in params)
    exec(f"def __init__(self, {', '.join(arguments)}):\n    values = self.__dict__\n{stores}", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls

"""The Ray engine's storing end, apart from the models: a writer process imports no torch (it stays small).

`BatchWriter` is a Ray actor storing processed batches with `BatchStore`, the local ingestor's own code;
`Analyzed` is what travels to it from the model actors; `WorkerFailure` is a source's failure as the driver gets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from imgsearch.backends import build_blob_store, build_index
from imgsearch.batch_store import Batch, BatchStore
from imgsearch.index.types import ImageDocument
from imgsearch.settings import Settings
from pipeline.records import Processed


class WorkerFailure(Exception):
    """A source's failure as a worker saw it, carried to the driver: the code and message the job records, the same
    as the local engine's (the original exception may not survive pickling: `ImageRejected` takes two arguments)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[type[WorkerFailure], tuple[str, str]]:
        return WorkerFailure, (self.code, str(self))

    @classmethod
    def of(cls, error: Exception) -> WorkerFailure:
        code = getattr(error, "code", type(error).__name__)
        return cls(str(getattr(code, "value", code)), str(error))


@dataclass(frozen=True)
class Analyzed:
    """One source after the models, on its way to a writer (one object a row: Ray Data turns a column of Nones
    into floats)."""

    item: Processed | WorkerFailure
    existing: ImageDocument | None = None  # the document, when the image was found already indexed


class BatchWriter:
    """A Ray actor storing processed batches: blobs, then one bulk document request (`BatchStore`)."""

    def __init__(self, values: dict[str, Any], tags: tuple[str, ...]) -> None:
        settings = Settings(**values)
        self.tags = tags
        blobs = build_blob_store(settings)
        blobs.ensure()  # the buckets, when nothing opened the stores before this run
        # The index is made by the analyzers (they know the models' id); a writer gets batches only after that.
        self.store = BatchStore(build_index(settings), blobs)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        analyzed: list[Analyzed] = list(batch["analyzed"])
        pending: Batch = [(str(name), one.item) for name, one in zip(batch["source"], analyzed, strict=True)]
        already_indexed = {one.existing.image_id: one.existing for one in analyzed if one.existing is not None}
        try:
            outcomes = [outcome for _, outcome in self.store.store(pending, self.tags, already_indexed)]
        except Exception as error:  # noqa: BLE001 (a store that is down: every source of the batch fails)
            outcomes = [error] * len(pending)
        shipped = [WorkerFailure.of(o) if isinstance(o, Exception) else o for o in outcomes]
        return {"source": batch["source"], "outcome": objects_column(shipped)}


def objects_column(values: list[Any]) -> np.ndarray:
    """A column of Python objects (numpy would otherwise try to turn tuples and dataclasses into dimensions)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column

"""The versioned indices of an alias (`<alias>-v<schema>-<timestamp>`, one per model stack over time) as
`IndexGenerations`: `imgsearch reindex` builds one beside the alias, then swaps the alias to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from elasticsearch import Elasticsearch

from imgsearch.index.base import VectorIndex
from imgsearch.index.es_errors import es_call
from imgsearch.index.es_mapping import ShardLayout
from imgsearch.index.generations import ImageListing, IndexGenerations

if TYPE_CHECKING:
    from imgsearch.index.elasticsearch import ElasticsearchIndex

SCHEMA_VERSION = 1


def index_name_for(alias: str, first: bool = False) -> str:
    """A new versioned index: stamped with the time, or, for the alias's `first` one, with zeros, so that processes
    creating it at the same moment (Ray actors, API replicas) agree on one name and only one create succeeds."""
    stamp = "0" * 20 if first else datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{alias}-v{SCHEMA_VERSION}-{stamp}"


def versioned_indices(client: Elasticsearch, alias: str) -> list[str]:
    """Every index the alias has had or is being built for, oldest first."""
    pattern = re.compile(rf"^{re.escape(alias)}-v\d+-\d{{20}}$")
    found = client.indices.get(index=f"{alias}-v*", expand_wildcards="open,closed", allow_no_indices=True)
    return sorted(name for name in found if pattern.match(name))


class ElasticsearchGenerations(IndexGenerations):
    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        mappings_dir: Path,
        owns_client: bool = False,
        layout: ShardLayout | None = None,
    ) -> None:
        self.client = client
        self.layout = layout
        self.alias = alias
        self.mappings_dir = mappings_dir
        self.owns_client = owns_client
        self._aliased = self._handle(None)

    def _handle(self, name: str | None, refresh: str | bool = "wait_for") -> ElasticsearchIndex:
        from imgsearch.index.elasticsearch import ElasticsearchIndex

        return ElasticsearchIndex(self.client, self.alias, self.mappings_dir, refresh=refresh, index_name=name,
                                  layout=self.layout)  # fmt: skip

    def in_use(self) -> str | None:
        return self._aliased.current_index()

    def listing(self, name: str) -> ImageListing:
        return self._handle(name)

    def create(self, model_id: str, dim: int) -> str:
        return self._aliased.create_detached(model_id, dim)

    def open(self, name: str) -> VectorIndex | None:
        if name not in self._existing():
            return None
        # Refreshed once, before the swap, instead of after every bulk request.
        return self._handle(name, refresh=False)

    def switch(self, name: str) -> None:
        self._aliased.swap_alias(name)

    def not_in_use(self) -> list[str]:
        in_use = self.in_use()
        return [name for name in self._existing() if name != in_use]

    def drop(self, name: str) -> bool:
        self._aliased.drop_index(name)
        return True

    @es_call
    def _existing(self) -> list[str]:
        return versioned_indices(self.client, self.alias)

    def close(self) -> None:
        if self.owns_client:
            self.client.close()

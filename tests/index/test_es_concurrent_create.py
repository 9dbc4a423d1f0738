"""Processes that open a fresh alias at the same moment (Ray actors, API replicas) create one index between them."""

from __future__ import annotations

import threading
import uuid

import pytest
from elasticsearch import Elasticsearch

from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.es_generations import versioned_indices
from imgsearch.maintenance import drop_es_alias
from imgsearch.settings import REPO_ROOT

pytestmark = pytest.mark.integration


def test_concurrent_ensure_on_a_fresh_alias_makes_one_write_index(es: Elasticsearch) -> None:
    alias = f"test-race-{uuid.uuid4().hex[:12]}"
    handles = [ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings") for _ in range(4)]
    start = threading.Barrier(len(handles))
    errors: list[BaseException] = []

    def ensure(handle: ElasticsearchIndex) -> None:
        start.wait()
        try:
            handle.ensure("race-model", 8)
        except BaseException as error:  # noqa: BLE001 (collected and asserted on below)
            errors.append(error)

    threads = [threading.Thread(target=ensure, args=(handle,)) for handle in handles]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(versioned_indices(es, alias)) == 1
        assert {handle.current_index() for handle in handles} == set(versioned_indices(es, alias))
    finally:
        drop_es_alias(es, alias)

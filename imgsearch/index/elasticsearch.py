"""The Elasticsearch back end: one document per image, objects nested, kNN over object vectors with inner hits."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError
from elasticsearch.exceptions import GeneralAvailabilityWarning
from elasticsearch.helpers import pack_dense_vector, streaming_bulk

from imgsearch.errors import BackendUnavailable, IndexReplaced, InvalidRequest, ModelMismatch
from imgsearch.index import es_documents, paging
from imgsearch.index.base import VectorIndex
from imgsearch.index.cursor import decode_browse_cursor, encode_browse_cursor
from imgsearch.index.es_errors import (
    ELASTICSEARCH,
    UNAVAILABLE_STATUSES,
    all_shards_answered,
    es_call,
    reason,
    root_type,
)
from imgsearch.index.es_generations import index_name_for
from imgsearch.index.es_mapping import ShardLayout, images_index_body
from imgsearch.index.types import (
    BrowsePage,
    ImageDocument,
    IndexEntry,
    IndexStats,
    SearchPage,
    VectorQuery,
    WriteOutcome,
)
from pipeline.records import ObjectKind

MAX_LABELS_IN_STATS = 1000
# 100,000 2048-d vectors merge in about a minute on two cores. A merge may also never start: Elasticsearch
# schedules none while its disk is nearly full (indices.merge.disk.watermark.high), so nobody waits forever.
FORCE_MERGE_WAIT_S = 1800.0
MAX_NUM_CANDIDATES = 10_000  # Elasticsearch's limit for a kNN search's k and num_candidates
# Images each part of an AND query keeps, per image wanted: a result must be among every part's nearest.
AND_CANDIDATES = 10
BLOCKED = "cluster_block_exception"
# A process whose models the index does not hold looks again this often for an alias that `imgsearch reindex`
# has moved to an index of its models.
FOLLOW_ALIAS_EVERY_S = 1.0
# A search answered 404 for a shard, not the index (a node stopping): tried again this often, this far apart.
SHARD_MOVED_ATTEMPTS = 4
SHARD_MOVED_PAUSE_S = 0.25


class ElasticsearchIndex(VectorIndex):
    """A versioned index behind an alias, so `imgsearch reindex` can build a new one and swap the alias.

    A handle reads and writes the index that was behind the alias when it first looked (`index_name`: one given,
    for an index being built). After a swap it goes on answering searches from that index, which is kept until
    `imgsearch reindex --drop-old`, and refuses writes (`IndexReplaced`); a handle whose models the index did not
    hold moves to the new index once the alias points at one of its models.
    """

    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        mappings_dir: Path,
        num_candidates: int = 100,
        refresh: str | bool = "wait_for",
        owns_client: bool = False,
        index_name: str | None = None,
        layout: ShardLayout | None = None,
    ) -> None:
        self.client = client
        self.layout = layout
        self.owns_client = owns_client
        self.alias = alias
        self.mappings_dir = mappings_dir
        self.num_candidates = num_candidates
        # "wait_for": an ingest call returns once its image is searchable.
        self.refresh = refresh
        self._meta: dict[str, Any] | None = None
        self._index = index_name
        self._detached = index_name is not None  # an index not behind the alias (yet): written to directly
        self._followed_at = 0.0

    @es_call
    def current_index(self) -> str | None:
        """The index behind the alias now (its write index), or None when there is none."""
        try:
            behind = self.client.indices.get_alias(name=self.alias)
        except NotFoundError:
            return None
        writes = [name for name, info in behind.items() if info["aliases"][self.alias].get("is_write_index")]
        return (writes or sorted(behind))[0]

    @property
    def index_name(self) -> str | None:
        """The concrete index this handle reads and writes (resolved from the alias on first use)."""
        if self._index is None:
            self._index = self.current_index()
        return self._index

    @property
    def _reads(self) -> str:
        return self.index_name or self.alias

    @es_call
    def ensure(self, model_id: str, dim: int) -> None:
        if self.model_id() is None:
            self._create(model_id, dim)
        self.check_model(model_id)

    def _create(self, model_id: str, dim: int) -> None:
        body = images_index_body(self.mappings_dir, dim, model_id, self.layout)
        body["aliases"] = {self.alias: {"is_write_index": True}}
        try:
            self.client.indices.create(index=index_name_for(self.alias, first=True), **body)
        except ApiError as error:
            if error.status_code != 400 or "already_exists" not in str(error):
                raise
        self._meta, self._index = None, None

    @es_call
    def create_detached(self, model_id: str, dim: int) -> str:
        """A new empty index for `model_id`, not behind the alias: `imgsearch reindex` fills it, then swaps."""
        name = index_name_for(self.alias)
        self.client.indices.create(index=name, **images_index_body(self.mappings_dir, dim, model_id, self.layout))
        return name

    @es_call
    def swap_alias(self, new_index: str) -> None:
        """Point the alias at `new_index` in one atomic step (searches through it never see both or neither)."""
        old_index = self.current_index()
        self.client.indices.refresh(index=new_index)
        actions: list[dict[str, Any]] = [{"add": {"index": new_index, "alias": self.alias, "is_write_index": True}}]
        if old_index is not None and old_index != new_index:
            actions.insert(0, {"remove": {"index": old_index, "alias": self.alias}})
        self.client.indices.update_aliases(actions=actions)
        if old_index is not None and old_index != new_index:
            # Writes still on their way to the old index from a process that opened it fail from now on, so one
            # last look at it (the re-index's catch-up) sees everything it will ever hold.
            self.client.indices.add_block(index=old_index, block="write")

    @es_call
    def drop_index(self, name: str) -> None:
        if name == self.current_index():
            raise InvalidRequest(f"{name} is the index in use: it is not dropped")
        self.client.indices.delete(index=name)

    def _index_meta(self) -> dict[str, Any]:
        """The `_meta` of the index behind the alias (model id, dims), read once; empty when there is none."""
        if self._meta is None:
            try:
                mappings = self.client.indices.get_mapping(index=self._reads)
            except NotFoundError:
                return {}
            self._meta = next(iter(mappings.values()))["mappings"].get("_meta", {})
        return self._meta

    def check_model(self, model_id: str) -> None:
        try:
            super().check_model(model_id)
        except ModelMismatch:
            if not self._follow_alias():
                raise
            super().check_model(model_id)

    @es_call
    def _follow_alias(self) -> bool:
        """Whether the alias has moved to another index since this handle looked (then the handle moves too)."""
        now = time.monotonic()
        if self._detached or now - self._followed_at < FOLLOW_ALIAS_EVERY_S:
            return False
        self._followed_at = now
        current = self.current_index()
        if current is None or current == self._index:
            return False
        self._index, self._meta = current, None
        return True

    @es_call
    def check_writable(self, model_id: str) -> None:
        self.check_model(model_id)
        self._check_not_replaced()

    def _check_not_replaced(self) -> None:
        if self._detached:
            return
        opened, current = self.index_name, self.current_index()
        if opened is not None and current != opened:
            raise self._replaced(current)

    def _replaced(self, current: str | None = None) -> IndexReplaced:
        return IndexReplaced(
            f"`imgsearch reindex` replaced the index this process opened ({self.index_name}) with "
            f"{current or 'another'}: searches still read the old one, writes are refused; restart with the "
            "configured models"
        )

    @contextmanager
    def _writes_refused_when_blocked(self) -> Iterator[None]:
        """A replaced index is write-blocked (`swap_alias`): Elasticsearch's refusal becomes `IndexReplaced`."""
        try:
            yield
        except ApiError as error:
            if error.status_code == 403 and BLOCKED in str(error):
                raise self._replaced() from error
            raise

    @es_call
    def model_id(self) -> str | None:
        return self._index_meta().get("model_id")

    @es_call
    def dim(self) -> int | None:
        return self._index_meta().get("dims")

    @es_call
    def add(self, entries: Sequence[IndexEntry]) -> dict[str, WriteOutcome]:
        for entry in entries:
            self.checked_vectors(entry)
        outcomes: dict[str, WriteOutcome] = {}
        failures: list[tuple[int, str]] = []
        # op_type "create" makes a repeated id a 409 instead of an overwrite: that is our duplicate signal.
        actions = (
            {
                "_op_type": "create",
                "_index": self._reads,
                "_id": entry.document.image_id,
                "_source": es_documents.to_source(entry),
            }
            for entry in entries
        )
        for ok, item in streaming_bulk(
            self.client,
            actions,
            raise_on_error=False,
            max_retries=3,
            initial_backoff=1,
            refresh=self.refresh,
            # 2048-d vectors as JSON are ~200 kB a document: stay well under ES's indexing-pressure limit.
            max_chunk_bytes=20 * 1024 * 1024,
        ):
            result = item["create"]
            if ok:
                outcomes[result["_id"]] = WriteOutcome.CREATED
            elif result.get("status") == 409:
                # A second copy in the same batch must not hide that the first one was created.
                outcomes.setdefault(result["_id"], WriteOutcome.DUPLICATE)
            else:
                failures.append((int(result.get("status") or 500), f"{result['_id']}: {result.get('error')}"))
        if any(status == 403 and BLOCKED in message for status, message in failures):
            raise self._replaced()
        if failures:
            status, first = failures[0]
            message = f"Elasticsearch refused {len(failures)} documents, first: {first}"
            if status in UNAVAILABLE_STATUSES:
                raise BackendUnavailable(ELASTICSEARCH, message)
            raise InvalidRequest(message)
        return outcomes

    @es_call
    def get(self, image_id: str) -> ImageDocument | None:
        try:
            found = self.client.get(index=self._reads, id=image_id, source_excludes=["objects.vector"])
        except NotFoundError:
            return None
        return es_documents.from_source(image_id, found["_source"])

    @es_call
    def get_many(self, image_ids: Sequence[str]) -> dict[str, ImageDocument]:
        if not image_ids:
            return {}
        try:
            found = self.client.mget(index=self._reads, ids=list(dict.fromkeys(image_ids)),
                                     source_excludes=["objects.vector"])  # fmt: skip
        except NotFoundError:
            return {}
        return {doc["_id"]: es_documents.from_source(doc["_id"], doc["_source"]) for doc in found["docs"]
                if doc.get("found")}  # fmt: skip

    @es_call
    def vectors(self, image_id: str) -> np.ndarray | None:
        try:
            found = self._search_whole(
                query={"ids": {"values": [image_id]}},
                source=False,
                fields=["objects.vector"],
                size=1,
            )
        except NotFoundError:
            return None
        hits = found["hits"]["hits"]
        if not hits:
            return None
        return es_documents.vectors_from_fields(hits[0]["fields"])

    @es_call
    def delete(self, image_id: str) -> bool:
        try:
            with self._writes_refused_when_blocked():
                self.client.delete(index=self._reads, id=image_id, refresh=self.refresh)
        except NotFoundError:
            return False
        return True

    @es_call
    def set_tags(self, image_id: str, tags: Sequence[str]) -> ImageDocument | None:
        # A partial update keeps the vectors: Elasticsearch restores them from the index (exclude_source_vectors).
        try:
            with self._writes_refused_when_blocked():
                self.client.update(index=self._reads, id=image_id, doc={"tags": list(tags)}, refresh=self.refresh)
        except NotFoundError:
            return None
        return self.get(image_id)

    @es_call
    def browse(self, cursor: str | None, limit: int, tags: Sequence[str] = ()) -> BrowsePage:
        search_after = list(decode_browse_cursor(cursor, self.name)) if cursor else None
        found = self._search_whole(
            query={"bool": {"filter": [{"term": {"tags": tag}} for tag in tags]}},
            size=limit + 1,
            sort=[{"created_at": "desc"}, {"image_id": "desc"}],
            search_after=search_after,
            source_excludes=["objects.vector"],
        )
        hits = found["hits"]["hits"]
        images = [es_documents.from_source(hit["_id"], hit["_source"]) for hit in hits[:limit]]
        more = len(hits) > limit
        return BrowsePage(images, encode_browse_cursor(self.name, *hits[limit - 1]["sort"]) if more and limit else None)

    @es_call
    def search(self, query: VectorQuery) -> SearchPage:
        part_vectors = self.check_query(query)  # float32, as pack_dense_vector needs
        if len(part_vectors) > 1:
            return self._search_all_parts(query, part_vectors, paging.wanted(query))
        knn = self.knn_section(query, part_vectors[0])
        knn["inner_hits"] = {"name": "matches", "size": query.matches_per_image, "_source": False}
        # A page of k: whether a next one exists is in the total (the kNN's `wanted` images), so the image after the
        # page is not fetched with its inner hits just to be counted.
        found = self._searched(knn=knn, from_=query.offset, size=query.k, source=es_documents.HIT_SOURCE)
        return self._page(query, found, parts=1)

    def knn_section(self, query: VectorQuery, vector: np.ndarray) -> dict[str, Any]:
        """The kNN section of a one-part search, without the inner hits that name its matches (bench/index_recall.py
        times it bare as the floor under the product's request)."""
        wanted = paging.wanted(query)
        knn: dict[str, Any] = {
            "field": "objects.vector",
            # Base64 of big-endian float32 (Elasticsearch ≥ 9.3 reads it for float vectors): less to parse.
            "query_vector": pack_dense_vector(vector),
            "k": wanted,
            "num_candidates": max(query.num_candidates or self.num_candidates, wanted),
            "filter": list(self._filters(query)),
        }
        if query.min_similarity is not None:
            # For dot_product this bounds the raw dot product, i.e. the cosine of unit vectors.
            knn["similarity"] = query.min_similarity
        return knn

    @staticmethod
    def _page(query: VectorQuery, found: Any, parts: int) -> SearchPage:
        hits = [es_documents.hit_from_search(hit, parts=parts) for hit in found["hits"]["hits"]]
        return SearchPage(hits, paging.next_offset(query, found["hits"]["total"]["value"] - query.offset))

    def _search_all_parts(self, query: VectorQuery, part_vectors: list[np.ndarray], wanted: int) -> SearchPage:
        """ "This AND that": a `bool` that must match one nested kNN clause per part, each naming its inner hits.

        Each clause keeps its part's nearest images (more than a page: images must be in every clause's set to
        count), and the bool's score is the sum of the clauses' (1 + cosine) / 2.
        """
        per_part = min(MAX_NUM_CANDIDATES, max(query.num_candidates or self.num_candidates, AND_CANDIDATES * wanted))
        filters = list(self._filters(query))
        clauses = []
        for number, vector in enumerate(part_vectors):
            knn: dict[str, Any] = {
                "field": "objects.vector",
                "query_vector": pack_dense_vector(vector),
                "k": per_part,
                "num_candidates": per_part,
                "filter": filters,
            }
            if query.min_similarity is not None:
                knn["similarity"] = query.min_similarity
            name = es_documents.part_hits_name(number)
            inner_hits = {"name": name, "size": query.matches_per_image, "_source": False}
            clauses.append({"nested": {"path": "objects", "score_mode": "max", "query": {"knn": knn},
                                       "inner_hits": inner_hits}})  # fmt: skip
        found = self._searched(
            query={"bool": {"must": clauses}},
            from_=query.offset,
            size=query.k,
            source=es_documents.HIT_SOURCE,
            sort=["_score", {"image_id": "asc"}],
            track_scores=True,
        )
        return self._page(query, found, parts=len(part_vectors))

    def _search_whole(self, **request: Any) -> Any:
        """A search of the read index that every shard answered. Partial results (a node down with no other copy
        of a shard) come back as an error instead: they would hide images from a search without a word, and drop
        them from a reindex that pages through `documents_after`."""
        return self.client.search(index=self._reads, allow_partial_search_results=False, **request)

    def _searched(self, **request: Any) -> Any:
        for attempt in range(SHARD_MOVED_ATTEMPTS):
            try:
                return self._search_whole(**request)
            except BadRequestError as error:
                raise InvalidRequest(f"Elasticsearch refused the query: {reason(error)}") from error
            except NotFoundError as error:
                if root_type(error) == "index_not_found_exception":
                    raise IndexReplaced(
                        f"the index this process opened ({self._reads}) is gone, dropped after `imgsearch reindex`? "
                        "Restart with the configured models"
                    ) from error
                # Another 404 (a shard copy closed while the search ran, as a node stops): the other copy answers
                # once the cluster has promoted it, a moment later.
                if attempt == SHARD_MOVED_ATTEMPTS - 1:
                    raise BackendUnavailable(ELASTICSEARCH, f"HTTP 404: {reason(error)}") from error
                time.sleep(SHARD_MOVED_PAUSE_S)
        raise AssertionError("unreachable")

    @es_call
    def documents_after(self, image_id: str | None, limit: int) -> list[ImageDocument]:
        found = self._search_whole(
            size=limit,
            sort=[{"image_id": "asc"}],
            search_after=[image_id] if image_id else None,
            source_excludes=["objects.vector"],
        )
        return [es_documents.from_source(hit["_id"], hit["_source"]) for hit in found["hits"]["hits"]]

    @es_call
    def image_count(self) -> int:
        return int(all_shards_answered(self.client.count(index=self._reads))["count"])

    @es_call
    def make_writes_visible(self) -> None:
        self.client.indices.refresh(index=self._reads)

    @staticmethod
    def _filters(query: VectorQuery) -> Iterator[dict[str, Any]]:
        # Each filter is over nested or top-level fields alone, which nested kNN needs for correct pre-filtering.
        if set(query.kinds) != set(ObjectKind):
            # Only when it excludes something: ES evaluates a kNN filter again for each image's inner hits, which
            # doubled a search's CPU in bench/index_recall.py (100K vectors, 384-d: ~8 ms against ~4 ms).
            yield {"terms": {"objects.kind": [kind.value for kind in query.kinds]}}
        if query.labels:
            yield {"terms": {"objects.label": list(query.labels)}}
        if query.exclude_ids:
            yield {"bool": {"must_not": {"ids": {"values": list(query.exclude_ids)}}}}
        for tag in query.tags:  # every one of them
            yield {"term": {"tags": tag}}

    @es_call
    def stats(self) -> IndexStats:
        if self.model_id() is None:
            return IndexStats(images=0, objects=0)
        found = self._search_whole(
            size=0,
            track_total_hits=True,
            aggs={
                "objects": {
                    "nested": {"path": "objects"},
                    "aggs": {
                        "detected": {
                            "filter": {"term": {"objects.kind": ObjectKind.OBJECT.value}},
                            "aggs": {"labels": {"terms": {"field": "objects.label", "size": MAX_LABELS_IN_STATS}}},
                        }
                    },
                }
            },
        )
        detected = found["aggregations"]["objects"]["detected"]
        store = self.client.indices.stats(index=self._reads, metric="store")["_all"]["primaries"]["store"]
        mappings = next(iter(self.client.indices.get_mapping(index=self._reads).values()))["mappings"]
        return IndexStats(
            images=found["hits"]["total"]["value"],
            objects=detected["doc_count"],
            labels={bucket["key"]: bucket["doc_count"] for bucket in detected["labels"]["buckets"]},
            size_bytes=store["size_in_bytes"],
            model_id=mappings["_meta"].get("model_id"),
            dim=mappings["_meta"].get("dims"),
        )

    @es_call
    def optimize(self) -> str:
        """Force-merge to one segment: each segment is searched on its own, so one graph is the cheapest to search.

        Elasticsearch's advice against force-merging an index that is still written to is about segments over
        5 GB, which the merge policy would then leave alone; a personal gallery stays far below that.
        """
        if self.model_id() is None:
            return "no index yet: nothing to optimise"
        before = self.segment_count()
        started = time.monotonic()
        task = self.client.indices.forcemerge(index=self._reads, max_num_segments=1, wait_for_completion=False)["task"]
        while not self._task_completed(task):
            if time.monotonic() - started > FORCE_MERGE_WAIT_S:
                return (
                    f"the merge of {before} segments is still running after {FORCE_MERGE_WAIT_S:.0f} s "
                    f"(task {task}); Elasticsearch starts no merge while its disk is nearly full"
                )
            time.sleep(1.0)
        self.client.indices.refresh(index=self._reads)
        return f"{before} segments merged into {self.segment_count()} in {time.monotonic() - started:.0f} s"

    def _task_completed(self, task_id: str) -> bool:
        # The client marks the task API "technical preview"; it has been in Elasticsearch since 5.0.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeneralAvailabilityWarning)
            return bool(self.client.tasks.get(task_id=task_id)["completed"])

    @es_call
    def segment_count(self) -> int:
        """Lucene segments of the primary shard (each one is searched on its own)."""
        stats = self.client.indices.stats(index=self._reads, metric="segments")
        return int(stats["_all"]["primaries"]["segments"]["count"])

    @es_call
    def ping(self) -> None:
        health = self.client.options(request_timeout=2, max_retries=0).cluster.health()
        if health["status"] not in ("green", "yellow"):
            raise BackendUnavailable(ELASTICSEARCH, f"the cluster is {health['status']}")

    def close(self) -> None:
        if self.owns_client:
            self.client.close()

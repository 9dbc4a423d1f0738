"""Choose the index and blob store once, from settings: servers when configured, embedded files otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.index.base import VectorIndex
from imgsearch.settings import Settings
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.storage.filesystem import FilesystemBlobStore
from imgsearch.storage.minio_store import MinioBlobStore

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from imgsearch.index.generations import IndexGenerations
    from imgsearch.job_store import JobStore


def build_index(settings: Settings) -> VectorIndex:
    if settings.uses_elasticsearch:
        from imgsearch.index.elasticsearch import ElasticsearchIndex

        return ElasticsearchIndex(
            elasticsearch_client(settings),
            settings.es_index_alias,
            settings.mappings_dir,
            num_candidates=settings.num_candidates,
            owns_client=True,
            layout=settings.shard_layout,
        )
    from imgsearch.index.embedded import EmbeddedIndex, generations

    root = settings.data_dir
    return EmbeddedIndex(generations.current_dir(root), ef_search_default=settings.num_candidates, root=root)


def build_generations(settings: Settings) -> IndexGenerations:
    """The index in use and the ones built beside it, for `imgsearch reindex`."""
    if settings.uses_elasticsearch:
        from imgsearch.index.es_generations import ElasticsearchGenerations

        client = elasticsearch_client(settings)
        return ElasticsearchGenerations(client, settings.es_index_alias, settings.mappings_dir, owns_client=True,
                                        layout=settings.shard_layout)  # fmt: skip
    from imgsearch.index.embedded.generations import EmbeddedGenerations

    return EmbeddedGenerations(settings.data_dir, ef_search_default=settings.num_candidates)


def build_blob_store(settings: Settings) -> BlobStore:
    if settings.uses_s3:
        buckets = {BlobKind.ORIGINAL: settings.s3_bucket_originals, BlobKind.THUMBNAIL: settings.s3_bucket_thumbnails}
        return MinioBlobStore(minio_client(settings), buckets, batch_uploads=settings.s3_batch_uploads)
    return FilesystemBlobStore(settings.data_dir / "blobs")


def build_job_store(settings: Settings, client: Elasticsearch | None) -> JobStore:
    """Job records beside the images: an index next to Elasticsearch's alias (through `client`), or a SQLite file
    in the data dir."""
    from imgsearch.job_store import ElasticsearchJobStore, SqliteJobStore

    if settings.uses_elasticsearch and client is not None:
        return ElasticsearchJobStore(client, settings.es_index_alias, settings.shard_layout.replicas)
    return SqliteJobStore(settings.data_dir / "jobs.sqlite3")

"""Choose the index and blob store once, from settings: servers when configured, embedded files otherwise."""

from __future__ import annotations

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.index.base import VectorIndex
from imgsearch.settings import Settings
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.storage.filesystem import FilesystemBlobStore
from imgsearch.storage.minio_store import MinioBlobStore


def build_index(settings: Settings) -> VectorIndex:
    if settings.uses_elasticsearch:
        from imgsearch.index.elasticsearch import ElasticsearchIndex

        return ElasticsearchIndex(
            elasticsearch_client(settings),
            settings.es_index_alias,
            settings.mappings_dir,
            num_candidates=settings.num_candidates,
            owns_client=True,
        )
    from imgsearch.index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.data_dir / "index", ef_search_default=settings.num_candidates)


def build_blob_store(settings: Settings) -> BlobStore:
    if settings.uses_s3:
        buckets = {BlobKind.ORIGINAL: settings.s3_bucket_originals, BlobKind.THUMBNAIL: settings.s3_bucket_thumbnails}
        return MinioBlobStore(minio_client(settings), buckets)
    return FilesystemBlobStore(settings.data_dir / "blobs")

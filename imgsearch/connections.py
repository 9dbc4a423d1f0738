"""Clients for the configured servers, built from settings in one place."""

from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from minio import Minio

from imgsearch.settings import Settings


def elasticsearch_client(settings: Settings) -> Elasticsearch:
    """An Elasticsearch client that retries on 429 and timeouts (bulk helpers rely on it).

    orjson writes the float32 query vector and reads the hits in less CPU than the standard json module.
    """
    if settings.es_url is None:
        raise ValueError("IMGSEARCH_ES_URL is not set")
    auth = None
    if settings.es_username and settings.es_password:
        auth = (settings.es_username, settings.es_password.get_secret_value())
    return Elasticsearch(
        str(settings.es_url),
        basic_auth=auth,
        request_timeout=settings.es_request_timeout_s,
        retry_on_timeout=True,
        retry_on_status=(429, 502, 503, 504),
        max_retries=3,
        serializer=OrjsonSerializer(),
    )


def minio_client(settings: Settings) -> Minio:
    if settings.s3_endpoint is None:
        raise ValueError("IMGSEARCH_S3_ENDPOINT is not set")
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )

"""Clients for the configured servers, built from settings in one place."""

from __future__ import annotations

import certifi
import urllib3
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from minio import Minio

from imgsearch.settings import Settings
from imgsearch.url_fetch import FetchPolicy, UrlFetcher


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
        max_retries=settings.es_max_retries,
        serializer=OrjsonSerializer(),
    )


def minio_client(settings: Settings) -> Minio:
    """A MinIO client whose requests give up within seconds when the server is down or hangs.

    The SDK's own pool waits up to 5 minutes a read and retries five times with back-off (18 s before a refused
    connection was reported); ours keeps its retry on 5xx answers but with the settings' bounds.
    """
    if settings.s3_endpoint is None:
        raise ValueError("IMGSEARCH_S3_ENDPOINT is not set")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=settings.s3_connect_timeout_s, read=settings.s3_read_timeout_s),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=urllib3.Retry(total=settings.s3_max_retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
        http_client=http,
    )


def url_fetcher(settings: Settings) -> UrlFetcher:
    """The SSRF-safe fetcher for images named by URL, under the settings' size and time limits."""
    policy = FetchPolicy(
        max_bytes=settings.max_upload_bytes,
        timeout_s=settings.url_fetch_timeout_s,
        allowed_networks=tuple(settings.url_fetch_allowed_networks),
    )
    return UrlFetcher(policy)

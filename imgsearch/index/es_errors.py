"""Elasticsearch failures as domain errors: an outage is `BackendUnavailable`, never a client library exception."""

from __future__ import annotations

from typing import Any

from elastic_transport import ConnectionError as EsConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from imgsearch.errors import BackendUnavailable, outages_translated

ELASTICSEARCH = "Elasticsearch"
# 429: a full write or search queue; 5xx: a node that is starting, recovering shards, or has none for the index.
UNAVAILABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def _root_cause(error: ApiError) -> dict[str, object]:
    info = error.info if isinstance(error.info, dict) else {}
    causes = info.get("error", {}).get("root_cause") or [info.get("error", {})]
    return causes[0] if isinstance(causes[0], dict) else {}


def reason(error: ApiError) -> str:
    """The innermost reason Elasticsearch gives, without the request echo."""
    return str(_root_cause(error).get("reason") or error.message)


def root_type(error: ApiError) -> str:
    """The innermost error type Elasticsearch names (`index_not_found_exception`, `shard_not_found_exception`)."""
    return str(_root_cause(error).get("type") or "")


def unavailable(error: Exception) -> BackendUnavailable | None:
    """The outage this error means, or None when it is an answer about the request itself."""
    if isinstance(error, EsConnectionError | ConnectionTimeout):
        # The class name only: the message repeats the node URL, which may carry credentials.
        return BackendUnavailable(ELASTICSEARCH, f"no answer ({type(error).__name__})")
    if isinstance(error, ApiError) and error.status_code in UNAVAILABLE_STATUSES:
        return BackendUnavailable(ELASTICSEARCH, f"HTTP {error.status_code}: {reason(error)}")
    return None


def all_shards_answered(response: Any) -> Any:
    """The response, when every shard it covers answered; a count over some shards only is an outage, since the
    images on the missing ones would silently drop out of it."""
    shards = response["_shards"]
    if shards.get("failed", 0):
        failures = shards.get("failures") or [{}]
        cause = failures[0].get("reason", {}).get("type", "unknown")
        raise BackendUnavailable(ELASTICSEARCH, f"{shards['failed']} of {shards['total']} shards failed ({cause})")
    return response


# Connection failures, time-outs and 429/5xx answers become `BackendUnavailable`; other answers stay as they are.
es_call = outages_translated((EsConnectionError, ConnectionTimeout, ApiError), unavailable)

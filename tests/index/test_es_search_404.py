"""A search's 404 is a replaced index only when Elasticsearch says so; a shard closing under a stopping node is
tried again (pure logic: a stand-in client answers as Elasticsearch does)."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import NotFoundError

from imgsearch.errors import BackendUnavailable, IndexReplaced
from imgsearch.index import elasticsearch as es_index
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.settings import REPO_ROOT


def not_found(error_type: str) -> NotFoundError:
    meta = ApiResponseMeta(404, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9200))
    body = {"error": {"root_cause": [{"type": error_type, "reason": f"{error_type} here"}]}, "status": 404}
    return NotFoundError(error_type, meta, body)


class Answers:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def search(self, **_: Any) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def index_with(client: Answers) -> ElasticsearchIndex:
    return ElasticsearchIndex(client, "images", REPO_ROOT / "es_mappings", index_name="images-v1-0")  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(es_index, "SHARD_MOVED_PAUSE_S", 0.0)


def test_index_not_found_means_the_index_was_replaced() -> None:
    client = Answers(not_found("index_not_found_exception"))
    with pytest.raises(IndexReplaced):
        index_with(client)._searched(size=1)
    assert client.calls == 1


def test_a_shard_that_moved_is_searched_again_and_answers() -> None:
    client = Answers(not_found("shard_not_found_exception"), {"hits": {"hits": []}})
    assert index_with(client)._searched(size=1) == {"hits": {"hits": []}}
    assert client.calls == 2


def test_a_shard_that_stays_missing_is_an_outage_not_a_replaced_index() -> None:
    client = Answers(*[not_found("shard_not_found_exception")] * es_index.SHARD_MOVED_ATTEMPTS)
    with pytest.raises(BackendUnavailable, match="shard_not_found_exception here"):
        index_with(client)._searched(size=1)
    assert client.calls == es_index.SHARD_MOVED_ATTEMPTS

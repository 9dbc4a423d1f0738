"""On the three-node cluster `scripts/test` starts (`scripts/services up --es-nodes 3`): an index with one replica
keeps answering the same searches while the node holding its primary is stopped, and turns green when it is back."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from imgsearch.devservices.__main__ import build_services, es_cluster
from imgsearch.devservices.elasticsearch import ElasticsearchService
from imgsearch.devservices.layout import Layout, default_home, default_state
from imgsearch.errors import BackendUnavailable
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.es_mapping import ShardLayout
from imgsearch.index.types import VectorQuery
from imgsearch.maintenance import drop_es_alias
from imgsearch.settings import REPO_ROOT, Settings
from tests.index.conftest import DIM, MODEL_ID, make_corpus

pytestmark = pytest.mark.integration
NODES = 3


@pytest.fixture(scope="module")
def cluster_nodes(es: Elasticsearch, server_settings: Settings) -> list[ElasticsearchService]:
    names = sorted(node["name"] for node in es.cat.nodes(format="json", h="name"))
    if len(names) != NODES:
        pytest.fail(f"this test needs the {NODES}-node cluster scripts/test starts (scripts/services up --es-nodes "
                    f"{NODES}); {server_settings.es_url} has {names}")  # fmt: skip
    single, _ = build_services(server_settings, Layout(default_home(), default_state()))
    nodes = es_cluster(single, NODES)
    assert sorted(node.node_name for node in nodes) == names
    return nodes


@pytest.fixture
def replicated(es: Elasticsearch) -> Iterator[ElasticsearchIndex]:
    alias = f"test-cluster-{uuid.uuid4().hex[:12]}"
    index = ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings", refresh=True, layout=ShardLayout(1, "1"))
    index.ensure(MODEL_ID, DIM)
    yield index
    drop_es_alias(es, alias)


def top_ids(index: ElasticsearchIndex, query: VectorQuery) -> list[str]:
    return [hit.image_id for hit in index.search(query).hits]


def test_searches_keep_their_answers_while_a_node_is_down_and_the_cluster_heals(
    es: Elasticsearch, cluster_nodes: list[ElasticsearchService], replicated: ElasticsearchIndex
) -> None:
    corpus = make_corpus(60, seed=4)
    replicated.add(corpus)
    concrete = replicated.current_index()
    assert concrete is not None
    es.cluster.health(index=concrete, wait_for_status="green", timeout="60s")
    queries = [VectorQuery(vector=corpus[n].vectors[1], model_id=MODEL_ID, k=5) for n in (3, 17, 29, 41, 55)]
    expected = [top_ids(replicated, query) for query in queries]
    assert all(len(ids) == 5 for ids in expected)

    # The node to stop: the one with the primary, unless that is the node the client talks to (then the replica's).
    copies = {row["prirep"]: row["node"] for row in es.cat.shards(index=concrete, format="json")}
    assert set(copies) == {"p", "r"} and copies["p"] != copies["r"]
    by_name = {node.node_name: node for node in cluster_nodes}
    client_node = cluster_nodes[0].node_name
    stopped = by_name[copies["p"] if copies["p"] != client_node else copies["r"]]

    answered: list[tuple[float, bool]] = []  # (time, same answers as before)
    errors: list[BaseException] = []
    done = threading.Event()

    def search_loop() -> None:
        while not done.is_set():
            try:
                answered.append((time.monotonic(), [top_ids(replicated, q) for q in queries] == expected))
            except BaseException as error:  # noqa: BLE001 (collected and asserted on below)
                errors.append(error)
                return

    loop = threading.Thread(target=search_loop)
    loop.start()
    try:
        assert stopped.stop()
        down_at = time.monotonic()
        # The process has exited, but the master may not have applied its leaving yet: wait for it to.
        health = es.cluster.health(
            index=concrete, wait_for_nodes=str(NODES - 1), wait_for_status="yellow", timeout="60s"
        )
        assert (health["timed_out"], health["number_of_nodes"]) == (False, NODES - 1)
        deadline = time.monotonic() + 60
        while sum(at > down_at for at, _ in answered) < 20 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        answered_while_down = sum(at > down_at for at, _ in answered)
        stopped.start()  # waits until it answers; then its copy recovers
        healed = es.cluster.health(index=concrete, wait_for_status="green", timeout="120s")
    finally:
        done.set()
        loop.join(30)
    assert errors == []
    assert answered_while_down >= 20
    assert all(same for _, same in answered), "a search answered differently while a node was down"
    assert (healed["status"], healed["number_of_nodes"]) == ("green", NODES)
    assert es.cluster.health(wait_for_status="green", timeout="60s")["status"] == "green"


@pytest.fixture
def unreplicated(es: Elasticsearch) -> Iterator[ElasticsearchIndex]:
    alias = f"test-cluster-{uuid.uuid4().hex[:12]}"
    index = ElasticsearchIndex(es, alias, REPO_ROOT / "es_mappings", refresh=True, layout=ShardLayout(NODES, "0"))
    index.ensure(MODEL_ID, DIM)
    yield index
    drop_es_alias(es, alias)


def test_a_shard_with_no_copy_left_is_an_outage_not_a_smaller_answer(
    es: Elasticsearch, cluster_nodes: list[ElasticsearchService], unreplicated: ElasticsearchIndex
) -> None:
    """Three shards and no replicas: with one node stopped, a search, a count and the reindex's paging would each
    see two thirds of the images. They fail as an outage instead (the API's 503), and answer in full once it is
    back."""
    corpus = make_corpus(60, seed=5)
    unreplicated.add(corpus)
    concrete = unreplicated.current_index()
    assert concrete is not None
    es.cluster.health(index=concrete, wait_for_status="green", timeout="60s")
    query = VectorQuery(vector=corpus[7].vectors[1], model_id=MODEL_ID, k=60)
    expected = top_ids(unreplicated, query)
    assert len(expected) == 60

    holders = {row["node"] for row in es.cat.shards(index=concrete, format="json")}
    # Not the node the client talks to (the first): its answer would be a connection error, not a shard's absence.
    stopped = next(node for node in cluster_nodes[1:] if node.node_name in holders)
    assert stopped.stop()
    try:
        health = es.cluster.health(index=concrete, wait_for_nodes=str(NODES - 1), timeout="60s")
        assert (health["timed_out"], health["status"]) == (False, "red")
        with pytest.raises(BackendUnavailable, match="Elasticsearch"):
            unreplicated.search(query)
        with pytest.raises(BackendUnavailable, match="Elasticsearch"):
            unreplicated.documents_after(None, 100)
        with pytest.raises(BackendUnavailable, match="shards failed"):
            unreplicated.image_count()
        with pytest.raises(BackendUnavailable, match="Elasticsearch"):
            unreplicated.stats()
    finally:
        stopped.start()
    assert es.cluster.health(index=concrete, wait_for_status="green", timeout="120s")["status"] == "green"
    assert top_ids(unreplicated, query) == expected
    assert unreplicated.image_count() == 60
    assert len(unreplicated.documents_after(None, 100)) == 60
    assert es.cluster.health(wait_for_status="green", timeout="60s")["status"] == "green"

"""docker-compose.yml stays in step with the dev services and keeps what users rely on."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from imgsearch.devservices.elasticsearch import ES_VERSION
from imgsearch.settings import REPO_ROOT


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_elasticsearch_image_matches_the_dev_services_version(compose: dict[str, Any]) -> None:
    assert compose["services"]["elasticsearch"]["image"].endswith(f":{ES_VERSION}")


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"elasticsearch", "minio", "api"}
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in named, f"{name} mounts {source}, which is not a named volume"


def test_api_waits_for_healthy_servers(compose: dict[str, Any]) -> None:
    depends_on = compose["services"]["api"]["depends_on"]
    assert {dependency["condition"] for dependency in depends_on.values()} == {"service_healthy"}


def test_env_example_documents_every_variable_compose_reads() -> None:
    compose_text = (REPO_ROOT / "docker-compose.yml").read_text()
    example = (REPO_ROOT / ".env.example").read_text()
    for variable in set(re.findall(r"\$\{(IMGSEARCH_[A-Z0-9_]+)", compose_text)):
        assert re.search(rf"^{variable}=", example, re.MULTILINE), variable


@pytest.fixture(scope="module")
def cluster_profile() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.cluster.yml").read_text())


def test_the_multi_node_profile_is_three_nodes_that_find_each_other(
    compose: dict[str, Any], cluster_profile: dict[str, Any]
) -> None:
    services = cluster_profile["services"]
    nodes = {name: services[name]["environment"] for name in ("elasticsearch", "es02", "es03")}
    node_names = {name: environment["node.name"] for name, environment in nodes.items()}
    assert sorted(node_names.values()) == ["es01", "es02", "es03"]
    for name, environment in nodes.items():
        assert environment["cluster.name"] == "imgsearch"
        assert sorted(environment["cluster.initial_master_nodes"].split(",")) == ["es01", "es02", "es03"]
        assert sorted(environment["discovery.seed_hosts"].split(",")) == sorted(set(nodes) - {name})
    # The first node is the main file's, turned from single-node into a cluster member.
    assert compose["services"]["elasticsearch"]["environment"]["discovery.type"] == "single-node"
    assert nodes["elasticsearch"]["discovery.type"] == "multi-node"
    for name in ("es02", "es03"):
        assert services[name]["image"] == compose["services"]["elasticsearch"]["image"]
        assert services[name]["healthcheck"]["test"]
        (mount,) = services[name]["volumes"]
        assert mount.split(":", 1)[0] in cluster_profile["volumes"]
    api = services["api"]
    assert set(api["depends_on"]) == {"es02", "es03"}
    assert api["environment"]["IMGSEARCH_ES_REPLICAS"] == "1"

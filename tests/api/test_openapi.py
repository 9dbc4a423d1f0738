"""The OpenAPI document is whole: every `$ref` resolves inside it, and the hand-written bodies match the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.schemas import SearchParameters
from imgsearch.settings import Settings
from pipeline.runner import Pipeline


@pytest.fixture(scope="module")
def document(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(es_url=None, s3_endpoint=None, data_dir=tmp_path_factory.mktemp("openapi"))
    with TestClient(create_app(settings, pipeline)) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), f"{reference} points outside the document"
    node: Any = document
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{reference} does not resolve (no {part!r})"
        node = node[part]
    return node


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = set(references(document))
    assert "#/components/schemas/SearchRequest" in found and "#/components/schemas/ObjectKind" in found
    for reference in found:
        assert isinstance(resolve(document, reference), dict)


@pytest.mark.parametrize(
    ("path", "body"), [("/api/v1/images", "UrlIngestRequest"), ("/api/v1/search", "SearchRequest"),
                       ("/api/v1/jobs/sync", "SyncRequest")],
)  # fmt: skip
def test_json_bodies_the_routes_read_themselves_are_described(document: dict[str, Any], path: str, body: str) -> None:
    content = document["paths"][path]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{body}"}


def test_the_multipart_search_form_lists_every_search_parameter(document: dict[str, Any]) -> None:
    form = document["paths"]["/api/v1/search"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {"file", "query_id", *SearchParameters.model_fields}
    assert "required" not in form  # a file, or the query_id of an earlier search
    content = document["paths"]["/api/v1/search"]["post"]["requestBody"]["content"]
    plain_form = content["application/x-www-form-urlencoded"]["schema"]
    assert plain_form["required"] == ["query_id"] and "file" not in plain_form["properties"]


def test_the_search_documents_sessions_targets_and_and_queries(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    request = schemas["SearchRequest"]["properties"]
    assert {"target", "objects", "boxes", "query_id", "all_matches"} <= set(request)
    assert set(request["target"]["enum"]) == {"auto", "image"}
    response = schemas["SearchResponse"]["properties"]
    assert "query_id" in response and "parts" in schemas["QueryPublic"]["properties"]
    assert {"auto", "object", "kind"} <= set(schemas["UsedQuery"]["properties"])
    assert "part" in schemas["MatchPublic"]["properties"]
    assert "410" in document["paths"]["/api/v1/search"]["post"]["responses"]


def test_no_schema_in_the_document_keeps_local_definitions(document: dict[str, Any]) -> None:
    assert "$defs" not in str(document)

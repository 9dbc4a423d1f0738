"""The OpenAPI document: request bodies that routes read themselves are components like every other schema.

Routes that check the API key before reading a body (api/body.py) cannot declare it as a parameter, so their
bodies are described by hand; a model's own JSON schema pasted there would point at `#/$defs/...`, which does not
exist in the document. Here each such model and the models it uses become `components/schemas` entries.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

COMPONENT_REF = "#/components/schemas/{model}"


def body_ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to `model` for a hand-written request body; `install_openapi` adds the component."""
    return {"$ref": COMPONENT_REF.format(model=model.__name__)}


def install_openapi(app: FastAPI, body_models: tuple[type[BaseModel], ...]) -> None:
    """Build the document once, with `body_models` (and what they refer to) among its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for model in body_models:
                schema = model.model_json_schema(ref_template=COMPONENT_REF)
                for name, definition in schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components.setdefault(model.__name__, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

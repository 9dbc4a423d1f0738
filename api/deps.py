"""Typed dependencies shared by the routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from api.errors import Unauthorized
from api.services import AppServices


def get_services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


ServicesDep = Annotated[AppServices, Depends(get_services)]


def require_api_key(
    services: ServicesDep, x_api_key: Annotated[str | None, Header(description="needed when a key is set")] = None
) -> None:
    """Writes need the configured key, compared in constant time; with no key configured, writes are open."""
    expected = services.settings.api_key
    if expected is None:
        return
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("this server needs an X-API-Key header for writes")


ApiKeyDep = Annotated[None, Depends(require_api_key)]

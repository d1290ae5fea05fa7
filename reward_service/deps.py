"""What routes receive from the application, as typed FastAPI dependencies.

Routers that serve scores or statistics declare ``dependencies=[RequireToken]``, so no
route of theirs can forget the token check; scoring routes also declare ``RequireJson``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reward_service.admission import InFlightLimit
from reward_service.batch import BatchScorer
from reward_service.metrics import ServiceMetrics
from reward_service.settings import ServiceSettings
from reward_service.stats import StatsStore


def _settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def _scorer(request: Request) -> BatchScorer:
    return request.app.state.scorer


def _metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


def _stats(request: Request) -> StatsStore:
    return request.app.state.stats


def _in_flight(request: Request) -> InFlightLimit:
    return request.app.state.in_flight


def _scorer_version(request: Request) -> str:
    return request.app.state.scorer_version


Settings = Annotated[ServiceSettings, Depends(_settings)]
Scorer = Annotated[BatchScorer, Depends(_scorer)]
Metrics = Annotated[ServiceMetrics, Depends(_metrics)]
Stats = Annotated[StatsStore, Depends(_stats)]
ScorerVersion = Annotated[str, Depends(_scorer_version)]
InFlight = Annotated[InFlightLimit, Depends(_in_flight)]


def token_accepted(settings: ServiceSettings, given: str | None) -> bool:
    """Whether ``given`` is the configured token (always, when none is set), compared in
    constant time."""
    if settings.api_token is None:
        return True
    expected = settings.api_token.get_secret_value().encode()
    return hmac.compare_digest((given or "").encode(), expected)


_BEARER = HTTPBearer(
    scheme_name="API token",
    description="The service's REWARD_SERVICE_API_TOKEN.",
    auto_error=False,
)
"""Declares the bearer scheme in the OpenAPI (the Authorize button of ``/docs``; the app
leaves the schemes out when the service has no token)."""


def _require_token(
    settings: Settings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> None:
    """Refuse the request unless it carries the configured bearer token."""
    given = credentials.credentials if credentials is not None else None
    if not token_accepted(settings, given):
        raise HTTPException(
            401,
            "missing or wrong 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )


RequireToken = Depends(_require_token)


JSON_MEDIA_TYPE = "application/json"


def _require_json(request: Request) -> None:
    """Refuse a body not declared ``Content-Type: application/json`` (parameters such as
    ``charset`` allowed): a web page can post text/plain or a form to 127.0.0.1 without a
    CORS preflight, never JSON."""
    declared = request.headers.get("content-type", "")
    if declared.partition(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        raise HTTPException(
            415,
            f"the body must be sent as 'Content-Type: {JSON_MEDIA_TYPE}' (got {declared[:100]!r})",
        )


RequireJson = Depends(_require_json)

"""What routes receive from the application, as typed FastAPI dependencies.

Routers that serve scores or statistics declare ``dependencies=[RequireToken]``, so no
route of theirs can forget the token check.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

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


def token_accepted(settings: ServiceSettings, given: str | None, prefix: str = "") -> bool:
    """Whether ``given`` is ``prefix`` + the configured token (always, when none is set),
    compared in constant time."""
    if settings.api_token is None:
        return True
    expected = f"{prefix}{settings.api_token.get_secret_value()}".encode()
    return hmac.compare_digest((given or "").encode(), expected)


def _require_token(request: Request, settings: Settings) -> None:
    """Refuse the request unless it carries the configured bearer token."""
    if not token_accepted(settings, request.headers.get("authorization"), prefix="Bearer "):
        raise HTTPException(
            401,
            "missing or wrong 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )


RequireToken = Depends(_require_token)

"""What routes receive from the application, as typed FastAPI dependencies.

A route takes the running service as one dependency, ``state: State``. Routers that serve
scores or statistics declare ``dependencies=[RequireToken]``, so no route of theirs can
forget the token check; scoring routes also declare ``RequireJson``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reward_service.api.admission import InFlightLimit
from reward_service.api.metrics import ServiceMetrics
from reward_service.engine import BatchScorer
from reward_service.record import RecordWriter
from reward_service.settings import ServiceSettings
from reward_service.stats import StatsStore


@dataclass(frozen=True)
class ServiceState:
    """What a running service holds, built once by the app's lifespan (``app.state.service``).

    Attributes:
        settings: the service's settings.
        scorer: the batch scorer, on the scoring pool.
        metrics: the Prometheus metrics.
        stats: where batches are recorded and ``/stats`` is served from.
        in_flight: the bound on the items and body bytes being served.
        scorer_version: every component a verdict depends on, with its version.
        record: where every scored item is kept (``REWARD_SERVICE_RECORD_DIR``), or None.
    """

    settings: ServiceSettings
    scorer: BatchScorer
    metrics: ServiceMetrics
    stats: StatsStore
    in_flight: InFlightLimit
    scorer_version: str
    record: RecordWriter | None = None


async def service_state(request: Request) -> ServiceState:
    """The running service's state, from the request's app."""
    return request.app.state.service


State = Annotated[ServiceState, Depends(service_state)]
"""A route's one dependency on the running service: ``state: State``."""


TOKEN_QUERY_KEY = "token"
"""The query parameter that carries the token for clients that send no headers (OpenRLHF);
the access log never shows its value (:mod:`reward_service.api.log_redaction`)."""


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


async def _require_token(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> None:
    """Refuse the request unless it carries the configured bearer token."""
    given = credentials.credentials if credentials is not None else None
    if not token_accepted(state.settings, given):
        raise HTTPException(
            401,
            "missing or wrong 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )


RequireToken = Depends(_require_token)


JSON_MEDIA_TYPE = "application/json"


async def _require_json(request: Request) -> None:
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

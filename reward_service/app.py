"""The FastAPI application: built by :func:`create_app`, its pool owned by the lifespan.

This is where the parts meet: the engine (:mod:`reward_service.engine`), the statistics
(:mod:`reward_service.stats`), the record (:mod:`reward_service.record`), the HTTP layer
(:mod:`reward_service.api`) and the OpenRLHF route
(:mod:`reward_service.integrations.openrlhf`). Ray Serve builds on it
(:mod:`reward_service.replicas`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from reward_service import __version__
from reward_service.api import (
    CLIENT_CLOSED_REQUEST,
    InFlightLimit,
    ScoreRequestCounter,
    ServiceMetrics,
    ServiceState,
)
from reward_service.api.log_redaction import redact_access_logs
from reward_service.api.routes import ops, record, score, stats
from reward_service.api.schemas import ScoreRequest
from reward_service.engine import VerdictSharing, open_batch_scorer
from reward_service.errors import RETRY_AFTER_S, ClientDisconnected, RetryLater
from reward_service.integrations import openrlhf
from reward_service.record import RecordWriter
from reward_service.scoring import scorer_version
from reward_service.settings import ServiceSettings
from reward_service.stats import StatsRecorder, StatsStore

logger = logging.getLogger("reward_service")

SWAGGER_UI = "/static/swagger-ui"
"""swagger-ui-dist from the npm registry, vendored with its licence (static/swagger-ui)."""

SCORER_VERSION = scorer_version()


def _without_security(schema: dict[str, Any]) -> None:
    """Drop the token schemes: a service without a token asks for none."""
    schema.get("components", {}).pop("securitySchemes", None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.pop("security", None)


def _openapi_with_request_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the request models, which the scoring routes parse themselves
    (bounded reading, orjson), with the token schemes only when the running service has a
    token."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        service = getattr(app.state, "service", None)
        if service is not None and service.settings.api_token is None:
            _without_security(schema)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ScoreRequest, openrlhf.OpenRLHFRequest):
            request_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(request_schema.pop("$defs", {}))
            components[model.__name__] = request_schema
        app.openapi_schema = schema
    return app.openapi_schema


async def _retry_later(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After: nothing was scored, and the client's retry will be."""
    return JSONResponse(
        {"detail": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def _client_disconnected(request: Request, exc: Exception) -> Response:
    """Nobody reads it; 499 (nginx's "client closed request") is what the metrics count."""
    return Response(status_code=CLIENT_CLOSED_REQUEST)


StatsOpener = Callable[[ServiceSettings, ServiceMetrics], AbstractAsyncContextManager[StatsStore]]
"""Opens where the service records its statistics, for the app's lifetime."""


@asynccontextmanager
async def open_local_stats(
    settings: ServiceSettings, metrics: ServiceMetrics
) -> AsyncIterator[StatsRecorder]:
    """This process's statistics, read back from the statistics file when there is one."""
    recorder = StatsRecorder(
        settings.stats_steps,
        jsonl_path=settings.stats_file,
        on_write_failure=metrics.stats_failures.inc,
        untagged_gap_s=settings.stats_step_gap_s,
        alarm_settings=settings.alarm_settings(),
    )
    try:
        yield recorder
    finally:
        recorder.close()


def process_name() -> str:
    """This process among every writer of a shared record: its host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def open_record_writer(
    settings: ServiceSettings, metrics: ServiceMetrics, replica: str
) -> AsyncIterator[RecordWriter | None]:
    """The record's writer when ``REWARD_SERVICE_RECORD_DIR`` is set (else None), its lost
    rows counted in the metrics; closed (what is queued written) off the event loop."""
    if settings.record_dir is None:
        yield None
        return
    writer = RecordWriter(
        settings.record_dir,
        replica,
        max_steps=settings.record_max_steps,
        max_bytes=settings.record_max_bytes,
        on_lost=metrics.record_rows_lost.inc,
    )
    logger.info("recording every scored item in %s as %s", settings.record_dir, writer.replica)
    try:
        yield writer
    finally:
        await asyncio.to_thread(writer.close)


def _warn_if_open_to_the_network(settings: ServiceSettings) -> None:
    """Say so when a service without a token listens beyond this host: /stats and /record
    hold the model's responses."""
    if settings.api_token is None and not _loopback(settings.host):
        logger.warning(
            "no REWARD_SERVICE_API_TOKEN: /score, /stats and /record are open to anyone who "
            "can reach %s:%d",
            settings.host,
            settings.port,
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name
        return host == "localhost"


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each problem's place, message and type, never echoing what was sent (a
    path or query parameter may hold a credential)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    problems = [
        {key: error[key] for key in ("type", "loc", "msg") if key in error} for error in errors
    ]
    return JSONResponse({"detail": jsonable_encoder(problems)}, status_code=422)


def create_app(
    settings: ServiceSettings | None = None,
    open_stats: StatsOpener = open_local_stats,
    share_verdicts: Callable[[ServiceSettings, str], VerdictSharing | None] | None = None,
    replica_name: Callable[[], str] = process_name,
) -> FastAPI:
    """Build the service; settings come from the environment when not given.

    Ray Serve replicas (``deploy/ray_serve_app.py``) share one statistics store
    (``open_stats``) and their verdicts (``share_verdicts(settings, scorer_version)``,
    called at start-up; it may block); ``replica_name`` names this process's files in a
    record it may share with others (called at start-up).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or ServiceSettings()
        token = resolved.api_token
        redact_access_logs(None if token is None else token.get_secret_value())
        _warn_if_open_to_the_network(resolved)
        metrics = ServiceMetrics()
        # before the pool starts: an unwritable stats file stops start-up without workers
        shared = None
        if share_verdicts is not None:
            shared = await asyncio.to_thread(share_verdicts, resolved, SCORER_VERSION)
        async with (
            open_record_writer(resolved, metrics, replica_name()) as record_writer,
            open_stats(resolved, metrics) as stats_store,
            open_batch_scorer(resolved, metrics.worker_restarts.inc, shared) as scorer,
        ):
            in_flight = InFlightLimit(resolved.max_inflight_items, resolved.max_inflight_bytes)
            metrics.watch(in_flight, scorer.pool)
            metrics.watch_alarms(stats_store.open_alarms)
            app.state.service = ServiceState(
                settings=resolved,
                scorer=scorer,
                metrics=metrics,
                stats=stats_store,
                in_flight=in_flight,
                scorer_version=SCORER_VERSION,
                record=record_writer,
            )
            logger.info("scoring pool ready with %d workers", resolved.workers)
            yield

    app = FastAPI(
        title="reward-service",
        version=__version__,
        summary="Multi-signal math rewards (verify + format + reflect) for RL fine-tuning.",
        lifespan=lifespan,
        docs_url=None,  # served below from the package's own copy of Swagger UI
        redoc_url=None,
        redirect_slashes=False,  # a redirect would repeat the URL, query and all
    )
    app.add_middleware(ScoreRequestCounter)
    app.add_exception_handler(RetryLater, _retry_later)
    app.add_exception_handler(ClientDisconnected, _client_disconnected)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(score.router)
    app.include_router(openrlhf.router)
    app.include_router(ops.router)
    app.include_router(stats.router)
    app.include_router(record.router)
    app.mount("/static", StaticFiles(directory=stats.STATIC_DIR), name="static")
    app.openapi = lambda: _openapi_with_request_schema(app)  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The OpenAPI page, with Swagger UI from the package: it works offline."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="reward-service API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        )

    return app

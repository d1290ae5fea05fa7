"""Operations: readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reward_service.api.deps import ServiceState, State
from reward_service.api.schemas import HealthResponse, RecordHealth

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health(state: State, response: Response) -> HealthResponse:
    """200 when a verification would run now: a probe went through the scoring pool in
    the last second or two, or waits behind work still within its limits (``busy``);
    503 while a broken pool is replaced or the probe failed. A stuck pool is replaced.
    With the record on, ``record`` holds its counts (a disk that fails it fails no request,
    and leaves readiness alone)."""
    pool = state.scorer.pool
    status = await pool.health()
    if status not in ("ok", "busy"):
        response.status_code = 503
    return HealthResponse(
        status=status,
        workers=pool.workers,
        scorer_version=state.scorer_version,
        record=_record_health(state),
    )


def _record_health(state: ServiceState) -> RecordHealth | None:
    if state.record is None:
        return None
    status = state.record.status
    return RecordHealth(
        rows_written=status.rows_written,
        rows_lost=status.rows_lost,
        rows_pending=status.rows_pending,
        failing=status.failing,
    )


@router.get("/metrics", response_class=Response)
def metrics(state: State) -> Response:
    """Prometheus text format."""
    # Not async: the alarm gauges read the statistics (under their lock, as /stats does),
    # in FastAPI's thread pool, off the event loop that scores.
    body = generate_latest(state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""Operations: readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reward_service.schemas import HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health(request: Request, response: Response) -> HealthResponse:
    """Ready (200) only while the scoring pool is up; a broken pool starts being replaced."""
    state = request.app.state
    pool = state.scorer.pool
    ready = pool.check()
    if not ready:
        response.status_code = 503
    return HealthResponse(
        status="ok" if ready else "starting",
        workers=pool.workers,
        scorer_version=state.scorer_version,
    )


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""Reward statistics: ``GET /stats`` (JSON) and ``GET /dashboard`` (a self-refreshing page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from reward_service.deps import RequireToken, Stats

STATIC_DIR = Path(__file__).parents[1] / "static"
DASHBOARD_PAGE = Path(__file__).parents[1] / "stats" / "dashboard.html"

router = APIRouter(tags=["statistics"])


@router.get("/stats", dependencies=[RequireToken], responses={401: {}, 503: {}})
def stats(
    recorder: Stats, limit: Annotated[int | None, Query(ge=1, le=100_000)] = None
) -> dict[str, Any]:
    """Per-step signal means, format failure rates, answers, calibration and latency.

    Holds model responses and answers, so it needs the token when one is set.
    """
    # Not async: the snapshot (a thousand steps, or a call to the replicas' shared
    # statistics) runs in FastAPI's thread pool, off the event loop that scores.
    return recorder.snapshot(limit)


@router.get("/dashboard", response_class=FileResponse)
async def dashboard() -> FileResponse:
    """Charts of ``/stats`` over steps and the latest responses; refreshes itself.

    The page holds no data of its own: it asks for the token when ``/stats`` needs one
    and sends it with its own requests.
    """
    return FileResponse(DASHBOARD_PAGE, media_type="text/html")

"""Reward statistics: ``GET /stats`` (JSON) and ``GET /dashboard`` (a self-refreshing page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).parents[1] / "static"

router = APIRouter(tags=["statistics"])


@router.get("/stats")
async def stats(
    request: Request, limit: Annotated[int | None, Query(ge=1, le=100_000)] = None
) -> dict[str, Any]:
    """Per-step signal means, format failure rates, answers, calibration and latency."""
    return request.app.state.stats.snapshot(limit)


@router.get("/dashboard", response_class=FileResponse)
async def dashboard() -> FileResponse:
    """Charts of ``/stats`` over steps and the latest responses; refreshes itself."""
    return FileResponse(STATIC_DIR / "dashboard.html", media_type="text/html")

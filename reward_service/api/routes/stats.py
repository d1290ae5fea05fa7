"""Reward statistics: ``GET /stats`` (JSON) and ``GET /dashboard`` (a self-refreshing page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import FileResponse

from reward_service.api.deps import RequireToken, State
from reward_service.errors import NoSuchResponse

PACKAGE = Path(__file__).parents[2]
STATIC_DIR = PACKAGE / "static"
DASHBOARD_PAGE = PACKAGE / "stats" / "dashboard.html"

router = APIRouter(tags=["statistics"])


@router.get(
    "/stats",
    dependencies=[RequireToken],
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 401: {}, 503: {}},
)
def stats(state: State, limit: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> Response:
    """Per-step values as columns (``series``), the panels that plot them, a summary of the
    last step, the latest and failed responses and the alarms (``alarms``): what
    ``/dashboard`` draws.

    At most STATS_MAX_BYTES (2 MiB): past it the oldest steps are left out
    (``steps_left_out``). Holds model responses and answers, so it needs the token when
    one is set.
    """
    # Not async: the view (a thousand steps, or a call to the replicas' keeper) is built
    # in FastAPI's thread pool, off the event loop that scores.
    return Response(state.stats.snapshot_json(limit), media_type="application/json")


@router.get(
    "/stats/responses/{row_id}",
    dependencies=[RequireToken],
    responses={401: {}, 404: {}, 503: {}},
)
def response_text(state: State, row_id: int) -> dict[str, Any]:
    """One row of the response tables of ``/stats`` (by its ``id``) with the response's text
    (its first 2,000 and last 6,000 characters), while the row is kept."""
    try:
        row = state.stats.response(row_id)  # off the event loop too: it may ask the keeper
    except NoSuchResponse:
        raise HTTPException(404, f"no such response: {row_id}") from None
    if row is None:
        raise HTTPException(404, f"response {row_id} is no longer kept")
    return row


@router.get("/dashboard", response_class=FileResponse)
async def dashboard() -> FileResponse:
    """Charts of ``/stats`` over steps and the latest responses; refreshes itself.

    The page holds no data of its own: it asks for the token when ``/stats`` needs one
    and sends it with its own requests.
    """
    return FileResponse(DASHBOARD_PAGE, media_type="text/html")

"""The record, step by step: ``GET /record/steps``, one step's responses paged and filtered,
and one response's whole text.

Each reads the record's files (every replica's, in a folder they share) off the event
loop, at most :data:`READS_AT_ONCE` steps at a time, and needs the token like ``/stats``:
the record holds model outputs.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from reward_service.api.deps import RequireToken, ServiceState, State
from reward_service.api.schemas import MAX_STEP
from reward_service.record import NotARecord, Record, open_record
from reward_service.record.browse import PAGE_ROWS_MAX, StepQuery, item_text, step_page
from reward_service.record.browse import Status as ItemStatus
from reward_service.record.browse import Verdict as ItemVerdict

router = APIRouter(prefix="/record", tags=["record"], dependencies=[RequireToken])

READS_AT_ONCE = 2
"""Steps read at once (each holds one step's rows in memory while it is read)."""
_READS = threading.BoundedSemaphore(READS_AT_ONCE)

StepNumber = Annotated[int, Path(ge=0, le=MAX_STEP, description="The step, as /stats numbers it.")]
MAX_ITEM = 2**31 - 1
"""The highest position in a batch the record holds (its ``item`` column is 32-bit)."""


def _record(state: ServiceState) -> Record:
    """The record's folder as a reader sees it (nothing written yet: no steps).

    Raises:
        HTTPException: 404 when the record is off.
    """
    folder = state.settings.record_dir
    if folder is None:
        raise HTTPException(404, "the record is off: set REWARD_SERVICE_RECORD_DIR to keep it")
    try:
        return open_record(folder)
    except NotARecord:  # not made yet (a read-only disk since start-up): it holds nothing
        return Record(())


def _not_held(record: Record, step: int) -> HTTPException:
    steps = record.steps()
    held = f"it holds steps {steps[0]}-{steps[-1]}" if steps else "it holds no steps yet"
    return HTTPException(404, f"step {step} is not in the record ({held})")


@router.get("/steps", responses={401: {}, 404: {}})
def steps(state: State) -> dict[str, list[int]]:
    """The steps the record holds, in order."""
    return {"steps": _record(state).steps()}


@router.get("/steps/{step}", responses={401: {}, 404: {}, 422: {}})
def step_items(
    state: State,
    step: StepNumber,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_ROWS_MAX)] = 50,
    answer: Annotated[
        str | None, Query(max_length=200, description="An answer as /stats names it.")
    ] = None,
    verdict: Annotated[ItemVerdict | None, Query(description="What the reflection says.")] = None,
    status: ItemStatus | None = None,
) -> dict[str, Any]:
    """The responses of ``step`` (in the order they were answered), ``limit`` from
    ``offset`` on, of those matching the filters, each with its signals and answer
    section; ``answers`` lists the step's most frequent answers with their counts."""
    record = _record(state)
    query = StepQuery(offset, limit, answer, verdict, status)
    with _READS:
        page = step_page(record, step, query)
    if page is None:
        raise _not_held(record, step)
    return page


@router.get("/steps/{step}/items/{batch}/{item}", responses={401: {}, 404: {}, 422: {}})
def item_with_text(
    state: State,
    step: StepNumber,
    batch: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+-\d+$")],
    item: Annotated[int, Path(ge=0, le=MAX_ITEM)],
) -> dict[str, Any]:
    """One response of the record with its whole text (``batch`` and ``item`` as
    ``/record/steps/{step}`` lists them)."""
    record = _record(state)
    with _READS:
        found = item_text(record, step, batch, item)
    if found is None:
        raise HTTPException(404, f"no item {batch}/{item} in step {step} of the record")
    return found

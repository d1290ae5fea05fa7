"""Clients that leave: their work is dropped and they are counted as 499.

uvicorn does not cancel a request whose client disconnected; :func:`unless_client_leaves`
watches for the disconnect beside the work and cancels the work (its tasks that have not
started are dropped, see ``fair_queue``) when it comes first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

from reward_service.errors import ClientDisconnected

Result = TypeVar("Result")

CLIENT_CLOSED_REQUEST = 499
"""nginx's "client closed request": the client went away before its answer was sent."""


async def unless_client_leaves(request: Request, work: Awaitable[Result]) -> Result:
    """``work``'s result; if the client disconnects first, ``work`` is cancelled and
    :class:`ClientDisconnected` is raised."""
    scoring = asyncio.ensure_future(work)
    try:
        await asyncio.sleep(0)  # its first step: a request whose verdicts are cached is done
    except BaseException:  # this request itself is cancelled (shutdown): so is its work
        scoring.cancel()
        raise
    if scoring.done():
        return scoring.result()
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({scoring, gone}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this request itself is cancelled (shutdown): so is its work
        scoring.cancel()
        raise
    finally:
        gone.cancel()
    if not scoring.done():
        scoring.cancel()
        raise ClientDisconnected("the client went away; its work was dropped")
    return scoring.result()


async def _disconnected(request: Request) -> None:
    """Return once the client has disconnected (the body is read: nothing else comes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass

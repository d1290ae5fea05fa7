"""Work whose client left is cancelled, and the request ends as 499."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from fastapi import FastAPI, Request

from reward_service.api.disconnects import unless_client_leaves
from reward_service.bench.local_server import serve_in_thread
from reward_service.errors import ClientDisconnected


def _app(cancelled: threading.Event, statuses: list[object]) -> FastAPI:
    app = FastAPI()

    async def work_that_never_ends() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    @app.post("/work")
    async def work(request: Request) -> str:
        try:
            return await unless_client_leaves(request, work_that_never_ends())
        except ClientDisconnected as exc:
            statuses.append(exc)
            raise

    @app.post("/quick")
    async def quick(request: Request) -> str:
        async def answer() -> str:
            return "done"

        return await unless_client_leaves(request, answer())

    return app


def test_the_work_of_a_client_that_leaves_is_cancelled() -> None:
    cancelled, statuses = threading.Event(), []
    with serve_in_thread(_app(cancelled, statuses)) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/work", timeout=0.5)
        assert cancelled.wait(60), "the work went on after its client left"
        assert httpx.post(f"{url}/quick", timeout=60).json() == "done"
    assert len(statuses) == 1 and isinstance(statuses[0], ClientDisconnected)

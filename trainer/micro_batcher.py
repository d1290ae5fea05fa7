"""Turn one-at-a-time async calls into batched ones: flush at N items or after T ms."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """Collects submitted items and sends them together with ``send``.

    A batch goes out when ``max_items`` are waiting or ``flush_ms`` after its first item
    arrived, whichever is first. If ``send`` raises, or returns a wrong number of results,
    every item of that batch raises; if it is cancelled, they are cancelled: no caller is
    ever left waiting. Use it from one event loop.

    Args:
        send: scores a list of items, returning one result per item, in order.
        max_items: largest batch.
        flush_ms: longest wait of the first item of a batch.
    """

    def __init__(
        self,
        send: Callable[[list[Item]], Awaitable[list[Result]]],
        max_items: int,
        flush_ms: float,
    ) -> None:
        self._send = send
        self.max_items = max_items
        self.flush_s = flush_ms / 1000
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """Queue ``item`` and wait for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self.max_items:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.flush_s, self.flush)
        return await future

    def flush(self) -> None:
        """Send what is waiting now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._deliver(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        futures = [future for _, future in batch]
        try:
            results = await self._send([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"send returned {len(results)} results for {len(batch)} items")
        except Exception as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled: so are the callers, rather than waiting forever
            for future in futures:
                future.cancel()
            raise
        for future, result in zip(futures, results, strict=True):
            if not future.done():
                future.set_result(result)

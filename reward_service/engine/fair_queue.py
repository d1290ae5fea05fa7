"""Fair sharing of the scoring processes between requests.

A process pool runs tasks first come, first served, so a one-item request would wait
behind every chunk of a big request that arrived before it. Here each request's tasks
wait in a queue of their own, and a free process takes the next task of the next request
that has waited longest for a turn: a small request waits for at most one task per busy
process (and a task is at most one turn long, see ``pool.TURN_CPU_S``).
A task whose caller stopped waiting (its client went away) is dropped before it starts.

A slot is held exactly as long as its task runs: a task is a coroutine started as an
asyncio task, so whatever it raises ends up with its caller, never in a callback, and
its slot is given back when it ends however it ends.

The request a task belongs to is a context variable: :func:`owned_by` sets it around a
request's work, and every task started inside inherits it (asyncio copies the context).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

_OWNER: contextvars.ContextVar[object] = contextvars.ContextVar("scoring_owner", default=None)

Start = Callable[[], Coroutine[Any, Any, Any]]


@contextlib.contextmanager
def owned_by(owner: object) -> Iterator[None]:
    """Tasks submitted inside this block are queued as ``owner``'s."""
    token = _OWNER.set(owner)
    try:
        yield
    finally:
        _OWNER.reset(token)


class FairQueue:
    """Runs at most ``capacity`` tasks at once, taking turns between owners.

    Args:
        capacity: tasks running at once (the number of processes).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.running = 0
        self._queues: dict[object, deque[tuple[Start, asyncio.Future[Any]]]] = {}
        self._tasks: dict[object, int] = {}  # owners with tasks queued or running: how many
        self._last_turn: dict[object, int] = {}  # those owners that have run: when they last did
        self._turns = 0

    @property
    def queued(self) -> int:
        """Tasks waiting for a turn."""
        return sum(map(len, self._queues.values()))

    async def run(self, start: Start) -> Any:
        """Queue the coroutine function ``start`` (the task); its result once it has run."""
        owner = _OWNER.get()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(owner, deque()).append((start, done))
        self._tasks[owner] = self._tasks.get(owner, 0) + 1
        self._dispatch()
        return await done

    def _dispatch(self) -> None:
        while self.running < self.capacity and self._queues:
            # the owner whose last turn is oldest; a newcomer (never ran) goes first
            owner = min(self._queues, key=lambda o: self._last_turn.get(o, -1))
            queue = self._queues[owner]
            start, done = queue.popleft()
            if not queue:
                del self._queues[owner]
            if done.cancelled():  # nobody waits for it any more
                self._forget(owner)
                continue
            self._turns += 1
            self._last_turn[owner] = self._turns
            self.running += 1
            task = asyncio.ensure_future(start())  # runs later: nothing raises here
            task.add_done_callback(
                lambda finished, owner=owner, done=done: self._finish(finished, owner, done)
            )

    def _forget(self, owner: object) -> None:
        """One task of ``owner``'s is over; its turns are forgotten with its last task."""
        self._tasks[owner] -= 1
        if not self._tasks[owner]:
            del self._tasks[owner]
            self._last_turn.pop(owner, None)

    def _finish(
        self, finished: asyncio.Future[Any], owner: object, done: asyncio.Future[Any]
    ) -> None:
        self.running -= 1
        self._forget(owner)
        if not done.cancelled():
            if finished.cancelled():
                done.cancel()
            elif finished.exception() is not None:
                done.set_exception(finished.exception())  # type: ignore[arg-type]
            else:
                done.set_result(finished.result())
        elif not finished.cancelled():
            finished.exception()  # retrieved: its caller left, nobody else will
        self._dispatch()

"""A process pool with hard, killable per-item timeouts, behind an asyncio interface.

Work goes to the processes (``reward_service.engine.worker``) in chunks, taking turns between
requests (``fair_queue``); a task is at most one turn long, and hands the rest of its
chunk back to wait for its request's next turn. A task that overruns its wall-clock
limit (a hang in C code that no signal interrupts, a stopped process) or whose process
dies (memory limit, segfault) is killed by pebble, its process replaced, and its items
run again one per task, each under its own hard limit, so only the culprit fails.

A pool that breaks as a whole is replaced: pebble's own error state, its fork server
killed (the workers die with it and read as lost) or stopped (it is killed), or a task that
outlives its hard limit by ``WATCHDOG_GRACE_S`` (pebble lost it). Every task still running
on a broken pool ends at once with :class:`PoolUnavailable`, never with made-up results, so
no request and no process slot is left waiting on it; until the new pool has answered, work
is refused with :class:`PoolUnavailable` (the service answers 503: retry).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import pebble

from reward_service.engine.fair_queue import FairQueue, owned_by
from reward_service.engine.library_internals import forkserver_pid, is_pool_failure
from reward_service.engine.worker import (
    PROBE_PAIR,
    TURN_CPU_S,
    analyze_chunk,
    init_worker,
    verify_chunk,
    warm_up,
)
from reward_service.errors import PoolUnavailable
from reward_service.scoring import ResponseAnalysis, VerifyOutcome

logger = logging.getLogger("reward_service.engine.pool")

Item = TypeVar("Item")
Result = TypeVar("Result")
Health = Literal["ok", "busy", "starting", "unavailable"]

CHUNK_GRACE_S = 1.0
"""Wall time a task gets beyond its CPU allowance before it is killed and split up."""
WALL_PER_CPU_S = 2.5
"""A task's wall-clock limit per CPU-second it may use: a worker getting 40% of a core
still finishes, while a hang in C code (no signal reaches it) is still killed."""
ANALYSIS_S_PER_MB = 2.0
"""Wall time an analysis task gets per MB of its longest response (analysis is linear,
~1 s/MB at worst), on top of one turn's limit: a long response is never killed for its size."""
WATCHDOG_GRACE_S = 10.0
"""How long past its hard limit a task may stay unanswered before the pool is taken for
wedged and replaced (pebble itself kills at the limit, then waits up to 3 s for the end)."""
WARM_UP_S = 120.0
"""How long a new pool's processes may take to verify their first answer."""
ALIVE_FRESH_S = 1.5
"""How long a task that went through the pool vouches for it in the health check."""
PROBE_WAIT_S = 2.0
"""How long the health check waits for its probe before answering from what it knows."""
LONGEST_RESPONSE_MB = 1.05
"""The longest response an analysis task holds (the default 1 MiB response limit)."""
MONITOR_EVERY_S = 0.5
"""How often pebble's own view of the pool (broken or not) is read."""


def describe_failure(exc: Exception) -> str:
    """What happened to an item whose task failed, for its result's error message."""
    if isinstance(exc, pebble.ProcessExpired):
        return f"its scoring process died (exit code {exc.exitcode})"
    return f"{type(exc).__name__}: {exc}"


def _chunks(items: Sequence[Item], chunk_size: int) -> list[Sequence[Item]]:
    return [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]


class _Generation:
    """One pebble pool and the tasks outstanding on it, which :meth:`fail` ends at once."""

    def __init__(self, pool: pebble.ProcessPool) -> None:
        self.pool = pool
        self._outstanding: set[asyncio.Future[Any]] = set()

    def track(self, future: concurrent.futures.Future[Result]) -> asyncio.Future[Result]:
        """An asyncio future with ``future``'s outcome, unless :meth:`fail` comes first."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Result] = loop.create_future()

        def copy(finished: concurrent.futures.Future[Result]) -> None:
            if outcome.done():
                return
            if finished.cancelled():
                outcome.cancel()
            elif (exc := finished.exception()) is not None:
                outcome.set_exception(exc)
            else:
                outcome.set_result(finished.result())

        def from_pebble(finished: concurrent.futures.Future[Result]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(copy, finished)

        self._outstanding.add(outcome)
        outcome.add_done_callback(self._outstanding.discard)
        future.add_done_callback(from_pebble)
        return outcome

    def fail(self, exc: PoolUnavailable) -> None:
        for outcome in list(self._outstanding):
            if not outcome.done():
                outcome.set_exception(exc)


def _retire(pool: pebble.ProcessPool) -> threading.Thread:
    """Stop ``pool`` and its processes in a thread of its own (joining may take a while)."""

    def stop() -> None:
        try:
            pool.stop()
            pool.join()
        except Exception:
            logger.exception("stopping a broken scoring pool failed")

    thread = threading.Thread(target=stop, name="retire-scoring-pool", daemon=True)
    thread.start()
    return thread


def _kill_stopped_fork_server() -> None:
    """SIGKILL multiprocessing's fork server if it is stopped (SIGSTOP, a debugger): it
    would take every new pool's requests for processes and answer none, and multiprocessing
    starts a new one only once it is gone. Linux only (``/proc``); elsewhere nothing."""
    pid = forkserver_pid()
    if pid is None:
        return
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return
    if state in ("T", "t"):
        logger.error("the fork server (pid %d) is stopped; killing it to start a new one", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class ScoringPool:
    """``workers`` scoring processes behind an asyncio interface.

    Args:
        workers: number of processes.
        item_timeout_s: CPU-time limit for verifying one item; a task may take
            ``(TURN_CPU_S + item_timeout_s) * WALL_PER_CPU_S + CHUNK_GRACE_S`` of wall time.
        memory_mb: address-space limit of each process.
        max_answer_chars: longest answer the workers parse.
        on_worker_restart: called each time a process is killed or dies and is replaced.
    """

    def __init__(
        self,
        workers: int,
        item_timeout_s: float,
        memory_mb: int,
        max_answer_chars: int,
        on_worker_restart: Callable[[], None] = lambda: None,
    ) -> None:
        self.workers = workers
        self.item_timeout_s = item_timeout_s
        self._initargs = (memory_mb, item_timeout_s, max_answer_chars)
        self._on_worker_restart = on_worker_restart
        self._generation = _Generation(self._new_pool())
        self._queue = FairQueue(capacity=workers)
        self._rebuilding: asyncio.Task[None] | None = None
        self._retired: list[threading.Thread] = []
        self._alive_at = -math.inf
        self._probe: asyncio.Task[bool] | None = None
        self._probe_since = 0.0
        self._monitor: asyncio.Task[None] | None = None

    def _new_pool(self) -> pebble.ProcessPool:
        # the fork server is started again here if it died (multiprocessing.forkserver)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["reward_service.engine.worker"])
        return pebble.ProcessPool(
            max_workers=self.workers,
            initializer=init_worker,
            initargs=self._initargs,
            context=context,
        )

    @property
    def tasks_running(self) -> int:
        """Tasks on a process now."""
        return self._queue.running

    @property
    def tasks_queued(self) -> int:
        """Tasks waiting for a process (their requests' turns)."""
        return self._queue.queued

    @property
    def turn_wall_s(self) -> float:
        """The wall-clock limit of one verification task: one turn and one item."""
        return (TURN_CPU_S + self.item_timeout_s) * WALL_PER_CPU_S + CHUNK_GRACE_S

    async def wait_ready(self) -> None:
        """Return once the workers have answered; raises if they cannot verify. From then
        on, a pool that pebble finds broken is replaced even while no request runs."""
        await self._warm_up(self._generation.pool)
        self._monitor = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Replace the pool as soon as pebble reports it broken (pebble has no event for
        it, so it is polled; while a task runs, its own outcome usually says it first)."""
        while True:
            await asyncio.sleep(MONITOR_EVERY_S)
            generation = self._generation
            if self._rebuilding is None and not generation.pool.active:
                self._replace(generation, "pebble reports the pool broken")

    async def _warm_up(self, pool: pebble.ProcessPool) -> None:
        # the first schedule starts the processes (and maybe the fork server): not on the loop
        futures = await asyncio.to_thread(
            lambda: [pool.schedule(warm_up, timeout=WARM_UP_S) for _ in range(self.workers)]
        )
        async with asyncio.timeout(WARM_UP_S + WATCHDOG_GRACE_S):
            answers = await asyncio.gather(*map(asyncio.wrap_future, futures))
        if not all(answers):
            raise RuntimeError("scoring workers failed their warm-up verification")
        self._alive_at = time.monotonic()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the processes, waiting up to ``timeout_s`` for running work; no orphans."""
        for task in (self._rebuilding, self._probe, self._monitor):
            if task is not None:
                task.cancel()
        pool = self._generation.pool
        pool.close()
        try:
            pool.join(timeout=timeout_s)
        except TimeoutError:
            logger.warning("scoring work still running after %gs; stopping it", timeout_s)
        if pool.active:
            pool.stop()
            pool.join()
        for thread in self._retired:
            thread.join(timeout=timeout_s)

    async def health(self) -> Health:
        """``ok`` when a task (or this check's probe verification) went through the pool in
        the last ``ALIVE_FRESH_S``; ``busy`` while the probe waits behind work that is
        still within its limits; ``starting`` while a broken pool is replaced;
        ``unavailable`` when the probe failed. A probe stuck past every limit replaces
        the pool."""
        if self._rebuilding is not None:
            return "starting"
        if time.monotonic() - self._alive_at < ALIVE_FRESH_S:
            return "ok"
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._run_probe())
            self._probe_since = time.monotonic()
        done, _ = await asyncio.wait({self._probe}, timeout=PROBE_WAIT_S)
        if done:
            if self._probe.result():
                return "ok"
            return "starting" if self._rebuilding is not None else "unavailable"
        if time.monotonic() - self._probe_since < self._probe_stuck_s:
            return "busy"
        self._replace(self._generation, "the health probe never got a process")
        return "starting"

    @property
    def _probe_stuck_s(self) -> float:
        """Past this, a waiting probe means no task is moving: the probe gets the next free
        process, every running task ends within its limit or its watchdog replaces the pool."""
        longest_task = self.turn_wall_s + ANALYSIS_S_PER_MB * LONGEST_RESPONSE_MB
        return longest_task + WATCHDOG_GRACE_S + self.turn_wall_s

    async def _run_probe(self) -> bool:
        try:
            with owned_by(object()):
                ((outcome, _),) = await self._submit(
                    verify_chunk, ([PROBE_PAIR],), self.turn_wall_s
                )
        except Exception as exc:
            logger.warning("health probe failed: %s: %s", type(exc).__name__, exc)
            return False
        return outcome.equal

    def _replace(self, generation: _Generation, reason: object) -> None:
        """Start replacing ``generation``'s pool (once), ending its outstanding tasks."""
        if generation is not self._generation or self._rebuilding is not None:
            return
        logger.error("the scoring pool broke (%s); replacing it", reason)
        generation.fail(PoolUnavailable("the scoring pool broke and is being replaced"))
        self._rebuilding = asyncio.get_running_loop().create_task(self._rebuild(generation))

    async def _rebuild(self, broken: _Generation) -> None:
        self._retired.append(_retire(broken.pool))
        while True:
            _kill_stopped_fork_server()
            self._generation = _Generation(self._new_pool())
            try:
                await self._warm_up(self._generation.pool)
                break
            except Exception:
                logger.exception("a new scoring pool failed to start; trying again")
                self._retired.append(_retire(self._generation.pool))
                await asyncio.sleep(1.0)
        self._retired = [thread for thread in self._retired if thread.is_alive()]
        self._rebuilding = None
        logger.warning("scoring pool replaced; %d workers ready", self.workers)

    async def analyze(self, responses: Sequence[str]) -> list[ResponseAnalysis | Exception]:
        """Analyze responses in chunks; an item that fails alone comes back as its exception.

        Raises:
            PoolUnavailable: the pool broke; nothing was analyzed.
        """

        def wall_limit_s(chunk: Sequence[str]) -> float:
            return self.turn_wall_s + ANALYSIS_S_PER_MB * max(map(len, chunk)) / 1e6

        return await self.map(
            analyze_chunk, responses, self._chunk_size(responses, 512), wall_limit_s
        )

    async def verify(
        self, pairs: Sequence[tuple[str | None, str]]
    ) -> list[tuple[VerifyOutcome, float] | Exception]:
        """Verify (answer, ground truth) pairs in chunks; each result with its CPU seconds.

        Raises:
            PoolUnavailable: the pool broke; nothing was verified.
        """
        return await self.map(verify_chunk, pairs, self._chunk_size(pairs, 16))

    def _chunk_size(self, items: Sequence[Any], largest: int) -> int:
        """About four chunks per worker, so the work spreads evenly."""
        return max(1, min(largest, math.ceil(len(items) / (self.workers * 4))))

    async def map(
        self,
        function: Callable[[Sequence[Item]], list[Result]],
        items: Sequence[Item],
        chunk_size: int,
        wall_limit_s: Callable[[Sequence[Item]], float] | None = None,
    ) -> list[Result | Exception]:
        """Run ``function`` over chunks of ``items`` with the pool's timeouts and recovery.

        ``function`` must be importable by the workers and return the results of a
        non-empty prefix of its chunk (the rest is sent again in a later turn);
        ``wall_limit_s`` gives a task's hard limit (default: one turn's). An item whose
        one-item task still fails comes back as the exception.

        Raises:
            PoolUnavailable: the pool broke; its replacement has been started.
        """
        limit = wall_limit_s or (lambda chunk: self.turn_wall_s)
        per_chunk = await asyncio.gather(
            *(self._run_chunk(function, chunk, limit) for chunk in _chunks(items, chunk_size))
        )
        return [result for chunk_results in per_chunk for result in chunk_results]

    async def _run_chunk(
        self,
        function: Callable[[Sequence[Item]], list[Result]],
        chunk: Sequence[Item],
        wall_limit_s: Callable[[Sequence[Item]], float],
        first_try: bool = True,
    ) -> list[Result | Exception]:
        """Run a chunk turn by turn; if a task fails, run its items again one per task so
        only the culprit fails: every item gets two tries before a process death (which
        may come from outside: a kill, the kernel's OOM killer) is its result."""
        results: list[Result | Exception] = []
        while len(results) < len(chunk):
            rest = chunk[len(results) :]
            try:
                done = await self._submit(function, (rest,), wall_limit_s(rest))
            except PoolUnavailable:
                raise
            except Exception as exc:
                self._note_failure(exc)
                died = isinstance(exc, pebble.ProcessExpired)
                if len(rest) == 1 and not (first_try and died):
                    return [*results, exc]
                singles = await asyncio.gather(
                    *(self._run_chunk(function, [item], wall_limit_s, False) for item in rest)
                )
                return results + [result for (result,) in singles]
            if not done:
                raise ValueError(f"{function.__name__} returned no result for its chunk")
            results.extend(done[: len(rest)])
        return results

    async def _submit(
        self, function: Callable[..., Result], args: tuple[Any, ...], timeout: float
    ) -> Result:
        """Run one task when the fair queue gives its request a turn (see fair_queue)."""
        return await self._queue.run(lambda: self._run_task(function, args, timeout))

    async def _run_task(
        self, function: Callable[..., Result], args: tuple[Any, ...], timeout: float
    ) -> Result:
        if self._rebuilding is not None:
            raise PoolUnavailable("the scoring pool is being replaced; retry shortly")
        generation = self._generation
        try:
            future = generation.pool.schedule(function, args=args, timeout=timeout)
        except RuntimeError as exc:  # pebble refuses work: its pool is broken
            self._replace(generation, exc)
            raise PoolUnavailable("the scoring pool broke and is being replaced") from exc
        outcome = generation.track(future)
        try:
            done, _ = await asyncio.wait({outcome}, timeout=timeout + WATCHDOG_GRACE_S)
        finally:
            if not outcome.done():  # cancelled, or past the watchdog: nobody waits for it
                outcome.cancel()
                future.cancel()  # pebble stops the process if the task has started
        if not done:
            self._replace(generation, f"a task outlived its {timeout:g}s limit")
            raise PoolUnavailable("the scoring pool stopped answering and is being replaced")
        try:
            result = outcome.result()
        except PoolUnavailable:
            raise
        except Exception as exc:
            if is_pool_failure(exc, generation.pool):
                self._replace(generation, f"{type(exc).__name__}: {exc}")
                raise PoolUnavailable("the scoring pool broke and is being replaced") from exc
            raise
        self._alive_at = time.monotonic()
        return result

    def _note_failure(self, exc: Exception) -> None:
        if isinstance(exc, (TimeoutError, pebble.ProcessExpired)):
            self._on_worker_restart()

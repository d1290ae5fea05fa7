"""A process pool with hard, killable per-item timeouts, and the work its processes run.

Work goes to the processes in chunks, one round-trip per chunk. Inside a worker each
item runs under a soft deadline measured in the worker's own CPU time (``ITIMER_PROF``:
the worker's main thread is ours), so a verdict does not depend on how busy the machine
is, and a slow sympy step reports "timeout" and the chunk goes on. A chunk that still
overruns a generous wall-clock limit (a hang in C code that no signal interrupts) or
whose process dies (memory limit, segfault) is killed by pebble, its process replaced,
and its items run again one per task, each under its own hard limit, so only the culprit
fails. A pool that breaks as a whole (its fork server killed) is replaced; meanwhile
requests get :class:`PoolUnavailable`, never made-up results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import resource
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import pebble
from math_verify.errors import TimeoutException

from reward_service.fair_queue import FairQueue
from reward_service.scoring import (
    MultiSignalMathReward,
    ResponseAnalysis,
    VerifyOutcome,
    timed_out,
)

logger = logging.getLogger("reward_service.pool")

Item = TypeVar("Item")
Result = TypeVar("Result")

CHUNK_GRACE_S = 1.0
"""Wall time a chunk gets beyond its items' limits before it is killed and split up."""
WALL_PER_CPU_S = 2.5
"""A chunk's wall-clock limit per CPU-second its items may use: a worker getting 40% of a
core still finishes, while a hang in C code (no signal reaches it) is still killed."""
ANALYSIS_S_PER_MB = 2.0
"""Wall time an analysis chunk gets per MB of responses (analysis is linear, ~1 s/MB at
worst), on top of one item's limit: a chunk of long responses is never killed for its size."""


class PoolUnavailable(RuntimeError):
    """The pool broke as a whole and is being replaced; the work was not done. Retry."""


_WORKER_REWARD: MultiSignalMathReward | None = None
_WORKER_ITEM_TIMEOUT_S = 0.0
_WORKER_MEMORY_BYTES = 0
MEMORY_PEAK_SHARE = 0.9
"""A verification whose resident memory peaked past this share of the worker's limit is
not trusted: math-verify catches the MemoryError inside its grader and answers "not
equal", so the peak is how the worker sees that it ran out of memory."""


def _init_worker(memory_mb: int, item_timeout_s: float, max_answer_chars: int) -> None:
    """Cap the worker's address space and build its reward (no in-process alarm of its own)."""
    global _WORKER_REWARD, _WORKER_ITEM_TIMEOUT_S, _WORKER_MEMORY_BYTES
    limit = memory_mb * 1024 * 1024
    _WORKER_MEMORY_BYTES = limit
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # The soft deadline below replaces math-verify's alarm, so its "timeout disabled"
    # and "timeout during parsing" warnings would only be noise in the service log.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _WORKER_REWARD = MultiSignalMathReward(verify_timeout_s=None, max_answer_chars=max_answer_chars)
    _WORKER_ITEM_TIMEOUT_S = item_timeout_s


def _worker_reward() -> MultiSignalMathReward:
    if _WORKER_REWARD is None:
        raise RuntimeError("worker used before its initializer ran")
    return _WORKER_REWARD


@contextlib.contextmanager
def _cpu_deadline(seconds: float) -> Iterator[None]:
    """Raise math-verify's TimeoutException in this (main) thread once it has used
    ``seconds`` of CPU time: the same input gets the same verdict on a busy machine."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutException(f"item used {seconds:g}s of CPU time")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _reset_peak_memory() -> None:
    """Start a new resident-memory high-water mark (Linux: ``/proc/self/clear_refs``)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _peak_memory_bytes() -> int:
    """The resident-memory high-water mark since the last reset (0 where unknown)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _ran_out_of_memory(outcome: VerifyOutcome) -> VerifyOutcome:
    """``outcome``, or an error if it is "not equal" from a verification that ran out of
    memory (swallowed inside math-verify): never a cacheable verdict."""
    peak = _peak_memory_bytes()
    if outcome.equal or outcome.status != "ok" or peak < MEMORY_PEAK_SHARE * _WORKER_MEMORY_BYTES:
        return outcome
    return VerifyOutcome(
        False,
        "error",
        f"verification ran out of memory (peak {peak >> 20} MiB of the "
        f"{_WORKER_MEMORY_BYTES >> 20} MiB limit)",
    )


def _verify_one(pred: str | None, ground_truth: str) -> tuple[VerifyOutcome, float]:
    started = time.process_time()
    _reset_peak_memory()
    try:
        with _cpu_deadline(_WORKER_ITEM_TIMEOUT_S):
            outcome = _ran_out_of_memory(_worker_reward().verify(pred, ground_truth))
    except TimeoutException:
        outcome = timed_out(_WORKER_ITEM_TIMEOUT_S)
    return outcome, time.process_time() - started


def verify_chunk(pairs: Sequence[tuple[str | None, str]]) -> list[tuple[VerifyOutcome, float]]:
    """Worker task: verify (answer, ground truth) pairs; each result with its seconds."""
    return [_verify_one(pred, ground_truth) for pred, ground_truth in pairs]


def analyze_chunk(responses: Sequence[str]) -> list[ResponseAnalysis]:
    """Worker task: extract answers, check formats and read verdicts."""
    reward = _worker_reward()
    return [reward.analyze(response) for response in responses]


def _warm_up() -> bool:
    """Worker task: one real verification, so lazy parser set-up happens before traffic."""
    return _worker_reward().verify("\\frac{1}{2}", "0.5").equal


def _pool_failure(exc: Exception, pool: pebble.ProcessPool) -> bool:
    """Whether ``exc`` says the pool is broken, rather than that this task failed (a task's
    own errors come from its worker, with the worker's ``traceback`` attached; its death
    is ``ProcessExpired``; its hard limit ``TimeoutError``)."""
    if not pool.active or isinstance(exc, BrokenProcessPool):
        return True
    return type(exc) is RuntimeError and not hasattr(exc, "traceback")


def _chunks(items: Sequence[Item], chunk_size: int) -> list[Sequence[Item]]:
    return [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]


class ScoringPool:
    """``workers`` scoring processes behind an asyncio interface.

    Args:
        workers: number of processes.
        item_timeout_s: CPU-time limit for verifying one item; a chunk of n items may take
            ``n * item_timeout_s * WALL_PER_CPU_S + CHUNK_GRACE_S`` of wall time.
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
        self._pool = self._new_pool()
        self._queue = FairQueue(capacity=workers)
        self._rebuilding: asyncio.Task[None] | None = None

    def _new_pool(self) -> pebble.ProcessPool:
        # the fork server is started again here if it died (multiprocessing.forkserver)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["reward_service.pool"])
        return pebble.ProcessPool(
            max_workers=self.workers,
            initializer=_init_worker,
            initargs=self._initargs,
            context=context,
        )

    @property
    def active(self) -> bool:
        """True while the pool accepts work (False while a broken pool is replaced)."""
        return self._rebuilding is None and bool(self._pool.active)

    async def wait_ready(self) -> None:
        """Return once the workers have answered; raises if they cannot verify."""
        warm = [self._submit(_warm_up, (), timeout=120) for _ in range(self.workers)]
        if not all(await asyncio.gather(*warm)):
            raise RuntimeError("scoring workers failed their warm-up verification")

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the processes, waiting up to ``timeout_s`` for running work; no orphans."""
        if self._rebuilding is not None:
            self._rebuilding.cancel()
        self._pool.close()
        try:
            self._pool.join(timeout=timeout_s)
        except TimeoutError:
            logger.warning("scoring work still running after %gs; stopping it", timeout_s)
        if self._pool.active:
            self._pool.stop()
            self._pool.join()

    def check(self) -> bool:
        """Whether the pool accepts work; a pool found broken starts being replaced (call
        it from the event loop: the health check does, so a broken pool heals unasked)."""
        if self._rebuilding is None and not self._pool.active:
            self._replace_broken_pool(self._pool)
        return self.active

    def _replace_broken_pool(self, broken: pebble.ProcessPool) -> None:
        """Start replacing ``broken`` (once); work is refused until the new pool is ready."""
        if self._rebuilding is not None or broken is not self._pool:
            return
        logger.error("the scoring pool broke (fork server or workers gone); replacing it")
        self._rebuilding = asyncio.get_running_loop().create_task(self._rebuild(broken))

    async def _rebuild(self, broken: pebble.ProcessPool) -> None:
        broken.stop()
        await asyncio.to_thread(broken.join)
        while True:
            self._pool = self._new_pool()
            try:
                await self.wait_ready()
                break
            except Exception:
                logger.exception("a new scoring pool failed to start; trying again")
                self._pool.stop()
                await asyncio.sleep(1.0)
        self._rebuilding = None
        logger.warning("scoring pool replaced; %d workers ready", self.workers)

    async def analyze(self, responses: Sequence[str]) -> list[ResponseAnalysis | Exception]:
        """Analyze responses in chunks; an item that fails alone comes back as its exception.

        Raises:
            PoolUnavailable: the pool broke; nothing was analyzed.
        """

        def wall_limit_s(chunk: Sequence[str]) -> float:
            return self._one_item_wall_s + ANALYSIS_S_PER_MB * sum(map(len, chunk)) / 1e6

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
        per_item = self.item_timeout_s * WALL_PER_CPU_S
        return await self.map(
            verify_chunk,
            pairs,
            self._chunk_size(pairs, 16),
            lambda chunk: len(chunk) * per_item + CHUNK_GRACE_S,
        )

    @property
    def _one_item_wall_s(self) -> float:
        """The wall-clock limit of a one-item chunk."""
        return self.item_timeout_s * WALL_PER_CPU_S + CHUNK_GRACE_S

    def _chunk_size(self, items: Sequence[Any], largest: int) -> int:
        """About four chunks per worker, so the work spreads evenly."""
        return max(1, min(largest, math.ceil(len(items) / (self.workers * 4))))

    async def _submit(
        self, function: Callable[..., Result], args: tuple[Any, ...], timeout: float
    ) -> Result:
        """Run one task when the fair queue gives its request a turn (see fair_queue)."""

        def start() -> asyncio.Future[Result]:
            return asyncio.wrap_future(self._pool.schedule(function, args=args, timeout=timeout))

        return await self._queue.run(start)

    async def map(
        self,
        function: Callable[[Sequence[Item]], list[Result]],
        items: Sequence[Item],
        chunk_size: int,
        wall_limit_s: Callable[[Sequence[Item]], float] | None = None,
    ) -> list[Result | Exception]:
        """Run ``function`` over chunks of ``items`` with the pool's timeouts and recovery.

        ``function`` must be importable by the workers and return one result per item;
        ``wall_limit_s`` gives a chunk's hard limit (default: one item's). An item whose
        one-item task still fails comes back as the exception.

        Raises:
            PoolUnavailable: the pool broke; its replacement has been started.
        """
        wall_limit_s = wall_limit_s or (lambda chunk: self._one_item_wall_s)
        per_chunk = await asyncio.gather(
            *(
                self._run_chunk(function, chunk, wall_limit_s)
                for chunk in _chunks(items, chunk_size)
            )
        )
        return [result for chunk_results in per_chunk for result in chunk_results]

    async def _run_chunk(
        self,
        function: Callable[[Sequence[Item]], list[Result]],
        chunk: Sequence[Item],
        wall_limit_s: Callable[[Sequence[Item]], float],
    ) -> list[Result | Exception]:
        """Run a chunk; if it fails, run its items one per task so only the culprit fails."""
        if self._rebuilding is not None:
            raise PoolUnavailable("the scoring pool is being replaced; retry shortly")
        pool = self._pool
        if not pool.active:  # broke between requests
            self._replace_broken_pool(pool)
            raise PoolUnavailable("the scoring pool broke and is being replaced")
        try:
            return await self._submit(function, (chunk,), wall_limit_s(chunk))
        except Exception as exc:
            if _pool_failure(exc, pool):  # the pool itself broke, not this chunk
                self._replace_broken_pool(pool)
                raise PoolUnavailable("the scoring pool broke and is being replaced") from exc
            self._note_failure(exc)
            if len(chunk) == 1:
                return [exc]
        singles = await asyncio.gather(
            *(self._run_chunk(function, [item], wall_limit_s) for item in chunk)
        )
        return [result for (result,) in singles]

    def _note_failure(self, exc: Exception) -> None:
        if isinstance(exc, (TimeoutError, pebble.ProcessExpired)):
            self._on_worker_restart()

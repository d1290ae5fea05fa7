"""A process pool with hard, killable per-item timeouts, and the work its processes run.

Work goes to the processes in chunks, one round-trip per chunk. Inside a worker each
item runs under a soft deadline (``setitimer``: the worker's main thread is ours), so
a slow sympy step reports "timeout" and the chunk goes on. A chunk that still overruns
(a hang in C code that no signal interrupts) or whose process dies (memory limit,
segfault) is killed by pebble, its process replaced, and its items run again one per
task, each under its own hard timeout, so only the culprit fails.
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
from typing import Any, TypeVar

import pebble
from math_verify.errors import TimeoutException

from reward_service.scoring._reward import MultiSignalMathReward, ResponseAnalysis
from reward_service.scoring._verify import VerifyOutcome

Item = TypeVar("Item")
Result = TypeVar("Result")

CHUNK_GRACE_S = 1.0
"""Time a chunk gets beyond one item timeout before it is killed and split up."""

_WORKER_REWARD: MultiSignalMathReward | None = None
_WORKER_ITEM_TIMEOUT_S = 0.0


def _init_worker(memory_mb: int, item_timeout_s: float, max_answer_chars: int) -> None:
    """Cap the worker's address space and build its reward (no in-process alarm of its own)."""
    global _WORKER_REWARD, _WORKER_ITEM_TIMEOUT_S
    limit = memory_mb * 1024 * 1024
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
def _soft_deadline(seconds: float) -> Iterator[None]:
    """Raise math-verify's TimeoutException in this (main) thread after ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutException(f"item exceeded {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _verify_one(pred: str | None, ground_truth: str) -> tuple[VerifyOutcome, float]:
    started = time.perf_counter()
    try:
        with _soft_deadline(_WORKER_ITEM_TIMEOUT_S):
            outcome = _worker_reward().verify(pred, ground_truth)
    except TimeoutException:
        outcome = VerifyOutcome(False, "timeout", f"exceeded {_WORKER_ITEM_TIMEOUT_S:g}s")
    return outcome, time.perf_counter() - started


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


def _chunks(items: Sequence[Item], chunk_size: int) -> list[Sequence[Item]]:
    return [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]


class ScoringPool:
    """``workers`` scoring processes behind an asyncio interface.

    Args:
        workers: number of processes.
        item_timeout_s: hard limit for one item; a chunk gets this plus CHUNK_GRACE_S.
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
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["reward_service.pool"])
        self.workers = workers
        self.item_timeout_s = item_timeout_s
        self._on_worker_restart = on_worker_restart
        self._pool = pebble.ProcessPool(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(memory_mb, item_timeout_s, max_answer_chars),
            context=context,
        )

    @property
    def active(self) -> bool:
        """True while the pool accepts work."""
        return bool(self._pool.active)

    async def wait_ready(self) -> None:
        """Return once the workers have answered; raises if they cannot verify."""
        warm = [self._submit(_warm_up, (), timeout=120) for _ in range(self.workers)]
        if not all(await asyncio.gather(*warm)):
            raise RuntimeError("scoring workers failed their warm-up verification")

    def close(self) -> None:
        """Stop the processes; no orphans are left behind."""
        self._pool.close()
        self._pool.join(timeout=10)
        if self._pool.active:
            self._pool.stop()
            self._pool.join()

    async def analyze(self, responses: Sequence[str]) -> list[ResponseAnalysis | Exception]:
        """Analyze responses in chunks; an item that fails alone comes back as its exception."""
        return await self.map(analyze_chunk, responses, self._chunk_size(responses, 512))

    async def verify(
        self, pairs: Sequence[tuple[str | None, str]]
    ) -> list[tuple[VerifyOutcome, float] | Exception]:
        """Verify (answer, ground truth) pairs in chunks, each under a hard timeout."""
        return await self.map(verify_chunk, pairs, self._chunk_size(pairs, 16))

    def _chunk_size(self, items: Sequence[Any], largest: int) -> int:
        """About four chunks per worker, so the work spreads evenly."""
        return max(1, min(largest, math.ceil(len(items) / (self.workers * 4))))

    def _submit(self, function: Callable[..., Result], args: tuple[Any, ...], timeout: float):
        return asyncio.wrap_future(self._pool.schedule(function, args=args, timeout=timeout))

    async def map(
        self,
        function: Callable[[Sequence[Item]], list[Result]],
        items: Sequence[Item],
        chunk_size: int,
    ) -> list[Result | Exception]:
        """Run ``function`` over chunks of ``items`` with the pool's timeouts and recovery.

        ``function`` must be importable by the workers and return one result per item.
        An item whose one-item task still fails comes back as the exception.
        """
        per_chunk = await asyncio.gather(
            *(self._run_chunk(function, chunk) for chunk in _chunks(items, chunk_size))
        )
        return [result for chunk_results in per_chunk for result in chunk_results]

    async def _run_chunk(
        self, function: Callable[[Sequence[Item]], list[Result]], chunk: Sequence[Item]
    ) -> list[Result | Exception]:
        """Run a chunk; if it fails, run its items one per task so only the culprit fails."""
        try:
            return await self._submit(function, (chunk,), self.item_timeout_s + CHUNK_GRACE_S)
        except Exception as exc:
            self._note_failure(exc)
            if len(chunk) == 1:
                return [exc]
        singles = await asyncio.gather(*(self._run_chunk(function, [item]) for item in chunk))
        return [result for (result,) in singles]

    def _note_failure(self, exc: Exception) -> None:
        if isinstance(exc, (TimeoutError, pebble.ProcessExpired)):
            self._on_worker_restart()

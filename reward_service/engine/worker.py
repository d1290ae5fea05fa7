"""What the scoring processes run: their set-up and their tasks.

Each item runs under a soft deadline measured in the worker's own CPU time
(``ITIMER_PROF``: the worker's main thread is ours), so a verdict does not depend on how
busy the machine is. A task is one turn: it starts no new item once it has used
``TURN_CPU_S`` of CPU and hands back the results it has (always at least one), so a
process is never held for much longer than one item (the rest of the chunk waits for
its request's next turn, see ``fair_queue``).

A worker dies with its fork server (``PR_SET_PDEATHSIG``), so a killed fork server never
leaves workers behind that the pool no longer sees, and it dies at once on the pool's
SIGTERM, even inside C code.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from math_verify.errors import TimeoutException

from reward_service.scoring import (
    MultiSignalMathReward,
    ResponseAnalysis,
    VerifyOutcome,
    timed_out,
)

Item = TypeVar("Item")
Result = TypeVar("Result")

TURN_CPU_S = 0.25
"""CPU time after which a task starts no new item: a task is this plus one item at most."""
MEMORY_PEAK_SHARE = 0.9
"""A verification whose resident memory peaked past this share of the worker's limit is
not trusted: math-verify catches the MemoryError inside its grader and answers "not
equal", so the peak is how the worker sees that it ran out of memory."""
_PR_SET_PDEATHSIG = 1

_WORKER_REWARD: MultiSignalMathReward | None = None
_WORKER_ITEM_TIMEOUT_S = 0.0
_WORKER_MEMORY_BYTES = 0


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent (the fork server) dies."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def init_worker(memory_mb: int, item_timeout_s: float, max_answer_chars: int) -> None:
    """Cap the worker's address space and build its reward (no in-process alarm of its own)."""
    global _WORKER_REWARD, _WORKER_ITEM_TIMEOUT_S, _WORKER_MEMORY_BYTES
    _die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # pebble's stop: at once, even in C code
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


def for_one_turn(items: Sequence[Item], work: Callable[[Item], Result]) -> list[Result]:
    """``work`` over ``items`` until the task has used ``TURN_CPU_S`` of CPU: the results
    of a prefix of ``items`` (at least one item)."""
    started = time.process_time()
    results = []
    for item in items:
        results.append(work(item))
        if time.process_time() - started >= TURN_CPU_S:
            break
    return results


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


def _verify_one(pair: tuple[str | None, str]) -> tuple[VerifyOutcome, float]:
    pred, ground_truth = pair
    started = time.process_time()
    _reset_peak_memory()
    try:
        with _cpu_deadline(_WORKER_ITEM_TIMEOUT_S):
            outcome = _ran_out_of_memory(_worker_reward().verify(pred, ground_truth))
    except TimeoutException:
        outcome = timed_out(_WORKER_ITEM_TIMEOUT_S)
    return outcome, time.process_time() - started


def verify_chunk(pairs: Sequence[tuple[str | None, str]]) -> list[tuple[VerifyOutcome, float]]:
    """Worker task: verify (answer, ground truth) pairs for one turn; each result with its
    CPU seconds."""
    return for_one_turn(pairs, _verify_one)


def analyze_chunk(responses: Sequence[str]) -> list[ResponseAnalysis]:
    """Worker task: extract answers, check formats and read verdicts, for one turn."""
    return for_one_turn(responses, _worker_reward().analyze)


PROBE_PAIR = ("\\frac{1}{2}", "0.5")
"""A verification that is quick and equal: the warm-up, and the health check's probe."""


def warm_up() -> bool:
    """Worker task: one real verification, so lazy parser set-up happens before traffic."""
    return _worker_reward().verify(*PROBE_PAIR).equal

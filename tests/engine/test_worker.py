"""What the scoring processes run: one turn of work per task, each verification under a
deadline on the worker's own CPU clock."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import pebble
import pytest

from reward_service.engine.worker import (
    TURN_CPU_S,
    analyze_chunk,
    for_one_turn,
    init_worker,
    verify_chunk,
    warm_up,
)

ITEM_CPU_S = 0.1


def _burn_cpu(item: str) -> str:
    started = time.process_time()
    while time.process_time() - started < ITEM_CPU_S:
        pass
    return item


def test_a_task_starts_no_new_item_after_its_turn() -> None:
    items = [str(k) for k in range(10)]
    done = for_one_turn(items, _burn_cpu)
    # 0.1 s of CPU each: the third passes the quarter second, the fourth is never started
    assert done == items[: int(TURN_CPU_S // ITEM_CPU_S) + 1] == ["0", "1", "2"]


def test_a_task_always_finishes_its_first_item() -> None:
    assert for_one_turn(["slow"], _burn_cpu) == ["slow"]


@pytest.fixture(scope="module")
def worker() -> Iterator[pebble.ProcessPool]:
    """One scoring process set up as the service sets them up (a 0.3 s CPU deadline)."""
    pool = pebble.ProcessPool(
        max_workers=1,
        initializer=init_worker,
        initargs=(1024, 0.3, 1000),
        context=multiprocessing.get_context("forkserver"),
    )
    yield pool
    pool.stop()
    pool.join()


def test_a_verification_past_its_cpu_deadline_is_a_timeout(worker: pebble.ProcessPool) -> None:
    pairs = [("9^{9^{9^{9^{9}}}}", "12.8"), ("12.8", "12.8")]
    done = worker.schedule(verify_chunk, args=(pairs,)).result(timeout=120)
    (slow, slow_cpu), *rest = done
    assert (slow.status, slow.equal) == ("timeout", False)
    # stopped by its 0.3 s deadline, measured in CPU time: the kernel checks CPU timers at
    # its ticks and counts a busy core's time apart from the process clock read here, so a
    # few ticks either way (0.289 s seen on a core shared with a busy loop)
    assert 0.25 <= slow_cpu < 1.0
    # the slow item used the task's turn: the next one waits for another task
    assert rest == [] or rest[0][0].equal


def test_a_worker_analyses_and_warms_up(worker: pebble.ProcessPool) -> None:
    assert worker.schedule(warm_up).result(timeout=120) is True
    response = "<think>x</think> \\boxed{12.8} <reflection>The answer is correct.</reflection>"
    (analysis,) = worker.schedule(analyze_chunk, args=([response],)).result(timeout=120)
    assert (analysis.pred, analysis.verdict) == ("12.8", "correct")

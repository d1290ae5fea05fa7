"""The killable process pool: hangs, crashes and memory hogs stay with their item."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from reward_service.engine.pool import ScoringPool
from tests.pool_faults import echo_unless_told
from tests.service_process import worker_pids


@pytest.fixture
def pool() -> Iterator[tuple[ScoringPool, list[int]]]:
    restarts: list[int] = []
    # a short CPU limit: the wall limit, (0.25 + 0.1) x 2.5 + 1 s, is then 19x it, so a
    # worker on a crowded machine still reaches its CPU limit before its wall limit
    scoring_pool = ScoringPool(
        workers=2,
        item_timeout_s=0.1,
        memory_mb=512,
        max_answer_chars=1000,
        on_worker_restart=lambda: restarts.append(1),
    )
    asyncio.run(scoring_pool.wait_ready())
    yield scoring_pool, restarts
    scoring_pool.close()


@pytest.mark.parametrize(
    ("culprit", "error", "restarted"),
    [("hang", TimeoutError, True), ("crash", Exception, True), ("hog", MemoryError, False)],
)
def test_only_the_culprit_fails(
    pool: tuple[ScoringPool, list[int]], culprit: str, error: type[Exception], restarted: bool
) -> None:
    scoring_pool, restarts = pool
    items = ["a", "b", culprit, "c", "d", "e"]
    results = asyncio.run(scoring_pool.map(echo_unless_told, items, chunk_size=3))
    assert results[:2] + results[3:] == ["a", "b", "c", "d", "e"]
    assert isinstance(results[2], error)
    assert bool(restarts) is restarted
    assert asyncio.run(scoring_pool.map(echo_unless_told, ["after"], chunk_size=1)) == ["after"]


def test_soft_deadline_reports_timeout_without_killing(pool: tuple[ScoringPool, list[int]]) -> None:
    scoring_pool, restarts = pool
    pairs = [("12.8", "12.8"), ("9^{9^{9^{9^{9}}}}", "12.8"), ("12", "12.8")]
    results = asyncio.run(scoring_pool.verify(pairs))
    statuses = [outcome.status for outcome, _ in results]  # type: ignore[misc]
    equal = [outcome.equal for outcome, _ in results]  # type: ignore[misc]
    assert statuses == ["ok", "timeout", "ok"] and equal == [True, False, False]
    assert restarts == []


def test_close_leaves_no_worker_processes() -> None:
    before = worker_pids()
    scoring_pool = ScoringPool(workers=2, item_timeout_s=1, memory_mb=512, max_answer_chars=100)
    asyncio.run(scoring_pool.wait_ready())
    assert len(worker_pids() - before) == 2
    scoring_pool.close()
    assert worker_pids() - before == set()

"""The statistics keeper as a plain object (Ray makes it an actor): what it answers a
replica."""

from __future__ import annotations

from reward_service.replicas.keeper import StatsKeeper
from reward_service.scoring import MultiSignalMathReward
from reward_service.stats import BatchRecord, ScoredItem
from tests.conftest import make_response

REWARD = MultiSignalMathReward()


def _record(step: int | None, now: float) -> BatchRecord:
    response = make_response("12.8")
    item = ScoredItem(response, "12.8")
    return BatchRecord.of([item], [REWARD.score(response, "12.8")], step, 1.0, now=now)


def test_add_answers_the_step_each_batch_was_counted_in() -> None:
    """A replica files its untagged batches in the record under these numbers."""
    keeper = StatsKeeper(max_steps=10, stats_file=None, step_gap_s=10)
    first = keeper.add([_record(None, 0.0), _record(7, 1.0), _record(None, 2.0)])
    later = keeper.add([_record(None, 30.0)])
    assert (first, later) == ([0, 7, 7], [8])

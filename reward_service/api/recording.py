"""What every scoring route does with a batch once its answer is decided: count it in the
metrics and the statistics, and hand it to the record (when it is on) under the step the
statistics counted it in.

Nothing here delays the answer: the record's batch is made in O(1) (the per-item weights
are worked out later, on the writer's thread) and only queued.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, overload

from reward_service.api.deps import ServiceState
from reward_service.engine import BatchReport
from reward_service.record import RecordWriter, ScoredBatch
from reward_service.scoring import RewardWeights, weights_from_extra_info
from reward_service.stats import ScoredItem

logger = logging.getLogger("reward_service")


class ItemWeights(Sequence[RewardWeights]):
    """The weights each item was scored with: ``base``, or what its ``extra_info`` says
    (as the batch scorer reads it), worked out only when read.

    Args:
        base: the request's weights (the service's defaults when it gave none).
        extra_infos: each item's ``extra_info``, in order.
    """

    def __init__(self, base: RewardWeights, extra_infos: Sequence[Mapping[str, Any] | None]):
        self._base = base
        self._extra_infos = extra_infos

    def __len__(self) -> int:
        return len(self._extra_infos)

    @overload
    def __getitem__(self, index: int) -> RewardWeights: ...
    @overload
    def __getitem__(self, index: slice) -> list[RewardWeights]: ...
    def __getitem__(self, index: int | slice) -> RewardWeights | list[RewardWeights]:
        if isinstance(index, slice):
            return [self._weights(info) for info in self._extra_infos[index]]
        return self._weights(self._extra_infos[index])

    def _weights(self, extra_info: Mapping[str, Any] | None) -> RewardWeights:
        try:
            return weights_from_extra_info(extra_info, self._base) or self._base
        except ValueError:  # scored as an error, with no weights of its own
            return self._base


def item_weights(
    base: RewardWeights, extra_infos: Sequence[Mapping[str, Any] | None]
) -> RewardWeights | ItemWeights:
    """The weights a batch's items were scored with: ``base`` for all of them when no item
    carries an ``extra_info`` (the usual request), else each item's, read when recorded."""
    if all(info is None for info in extra_infos):
        return base
    return ItemWeights(base, extra_infos)


class ToRecord:
    """Files a batch in the record once the statistics say its step (called once; later
    calls do nothing); a batch that gets no step is counted as lost."""

    def __init__(self, writer: RecordWriter, batch: ScoredBatch) -> None:
        self._writer = writer
        self._batch = batch
        self._called = False

    def __call__(self, step: int | None) -> None:
        if self._called:
            return
        self._called = True
        if step is None:
            self._writer.lose(len(self._batch.results), "batches got no step")
        else:
            self._writer.append(step, self._batch)


def record_scored(
    state: ServiceState,
    report: BatchReport,
    items: list[ScoredItem],
    step: int | None,
    elapsed_s: float,
    route: str,
    weights: RewardWeights | ItemWeights,
) -> None:
    """Count a scored batch in the metrics and the statistics, and queue it for the record
    under its step (``route``: the path that scored it; ``weights``: those its items were
    scored with); never raises (logged and counted instead): by now the scores are the
    answer."""
    state.metrics.record_batch(report, elapsed_s)
    to_record = None
    if state.record is not None:
        batch = ScoredBatch(
            items, report.results, weights, route, state.scorer_version, time.time()
        )
        to_record = ToRecord(state.record, batch)
    try:
        state.stats.record(items, report.results, step, elapsed_s * 1e3, on_step=to_record)
    except Exception:
        logger.exception("recording statistics failed; the scores are returned all the same")
        state.metrics.stats_failures.inc()
        if to_record is not None:
            to_record(step)  # a tagged batch is filed all the same; an untagged one is lost

"""What every scoring route does with a batch once its answer is decided: count it in the
metrics and the statistics."""

from __future__ import annotations

import logging

from reward_service.api.deps import ServiceState
from reward_service.engine import BatchReport
from reward_service.stats import ScoredItem

logger = logging.getLogger("reward_service")


def record_scored(
    state: ServiceState,
    report: BatchReport,
    items: list[ScoredItem],
    step: int | None,
    elapsed_s: float,
) -> None:
    """Count a scored batch in the metrics and the statistics; never raises (logged and
    counted instead): by now the scores are the answer."""
    state.metrics.record_batch(report, elapsed_s)
    try:
        state.stats.record(items, report.results, step, elapsed_s * 1e3)
    except Exception:
        logger.exception("recording statistics failed; the scores are returned all the same")
        state.metrics.stats_failures.inc()

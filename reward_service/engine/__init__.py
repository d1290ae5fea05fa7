"""The engine: where scoring runs. A process pool with hard per-item limits, the fair turns
that requests take on it, and the batch scorer that deduplicates and caches verifications.

- :mod:`~reward_service.engine.batch`: :class:`BatchScorer` scores a batch: analysis,
  one verification per distinct answer (cached, shared between concurrent requests), the
  combined reward.
- :mod:`~reward_service.engine.pool`: :class:`ScoringPool`, the processes, their limits
  and their recovery.
- :mod:`~reward_service.engine.fair_queue`: requests take turns on the processes.
- :mod:`~reward_service.engine.worker`: what the processes run.
- :mod:`~reward_service.engine.library_internals`: the private internals of multiprocessing
  and pebble the pool relies on, in one place and tested.

It imports the scoring core and the settings, never the HTTP layer.
"""

from reward_service.engine.batch import (
    TIMEOUT_TTL_S,
    TIMEOUTS_KEPT,
    BatchItem,
    BatchReport,
    BatchScorer,
    VerdictSharing,
    open_batch_scorer,
)
from reward_service.engine.pool import ScoringPool

__all__ = [
    "TIMEOUTS_KEPT",
    "TIMEOUT_TTL_S",
    "BatchItem",
    "BatchReport",
    "BatchScorer",
    "ScoringPool",
    "VerdictSharing",
    "open_batch_scorer",
]

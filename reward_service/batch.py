"""Scoring a whole batch: analyze every response, verify each distinct answer once, combine.

A GRPO group repeats the same few answers many times, so the slow step, symbolic
verification, runs once per distinct (answer, ground truth) pair in a batch, and a
bounded LRU cache keeps verdicts (equal / not equal / timed out) across batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from reward_service.pool import ScoringPool
from reward_service.scoring._reward import (
    MultiSignalMathReward,
    ResponseAnalysis,
    RewardWeights,
    ScoreResult,
    error_result,
    weights_from_extra_info,
)
from reward_service.scoring._verify import VerifyOutcome
from reward_service.settings import ServiceSettings

VerifyKey = tuple[str, str]


@dataclass(frozen=True)
class BatchItem:
    """One response to score.

    Attributes:
        response: the model's full response text.
        ground_truth: the label.
        extra_info: optional per-item data; ``reward_weights`` there overrides the weights.
    """

    response: str
    ground_truth: str
    extra_info: Mapping[str, Any] | None = None


@dataclass
class BatchReport:
    """A scored batch and how it was scored.

    Attributes:
        results: one result per item, in order.
        verified: distinct (answer, ground truth) pairs sent to the pool.
        cache_hits: distinct pairs answered from the cache (ok and timeout verdicts).
        verify_seconds: worker time of each verification, for latency histograms.
    """

    results: list[ScoreResult]
    verified: int = 0
    cache_hits: int = 0
    verify_seconds: list[float] = field(default_factory=list)


def _failure_outcome(exc: Exception) -> VerifyOutcome:
    if isinstance(exc, TimeoutError):
        return VerifyOutcome(False, "timeout", "ran out of time; its worker was killed")
    return VerifyOutcome(False, "error", f"verification failed: {type(exc).__name__}: {exc}"[:300])


class BatchScorer:
    """Scores batches on a :class:`ScoringPool`, deduplicating and caching verifications."""

    def __init__(self, pool: ScoringPool, reward: MultiSignalMathReward, cache_size: int) -> None:
        self.pool = pool
        self.reward = reward
        self._cache: LRUCache[VerifyKey, VerifyOutcome] | None = (
            LRUCache(maxsize=cache_size) if cache_size > 0 else None
        )

    async def score(
        self, items: Sequence[BatchItem], weights: RewardWeights | None = None
    ) -> BatchReport:
        """Score ``items`` with ``weights`` (the reward's own when None); never raises per item."""
        analyses = await self.pool.analyze([item.response for item in items])
        report = BatchReport(results=[])
        keys = [
            (analysis.pred, item.ground_truth)
            if isinstance(analysis, ResponseAnalysis) and analysis.pred is not None
            else None
            for item, analysis in zip(items, analyses, strict=True)
        ]
        outcomes = await self._verify_distinct({key for key in keys if key is not None}, report)
        base = weights or self.reward.weights
        for item, analysis, key in zip(items, analyses, keys, strict=True):
            report.results.append(self._combine(item, analysis, key, outcomes, base))
        return report

    async def _verify_distinct(
        self, keys: set[VerifyKey], report: BatchReport
    ) -> dict[VerifyKey, VerifyOutcome]:
        outcomes: dict[VerifyKey, VerifyOutcome] = {}
        if self._cache is not None:
            outcomes = {key: self._cache[key] for key in keys if key in self._cache}
        report.cache_hits = len(outcomes)
        missing = [key for key in keys if key not in outcomes]
        report.verified = len(missing)
        for key, result in zip(missing, await self.pool.verify(missing), strict=True):
            if isinstance(result, Exception):
                outcome = _failure_outcome(result)
            else:
                outcome, seconds = result
                report.verify_seconds.append(seconds)
            outcomes[key] = outcome
            if self._cache is not None and outcome.status != "error":
                self._cache[key] = outcome
        return outcomes

    def _combine(
        self,
        item: BatchItem,
        analysis: ResponseAnalysis | Exception,
        key: VerifyKey | None,
        outcomes: Mapping[VerifyKey, VerifyOutcome],
        base: RewardWeights,
    ) -> ScoreResult:
        if isinstance(analysis, Exception):
            return error_result(f"analysis failed: {type(analysis).__name__}: {analysis}"[:300])
        try:
            weights = weights_from_extra_info(item.extra_info, base) or base
        except ValueError as exc:
            return error_result(f"invalid weights: {exc}", analysis)
        outcome = outcomes[key] if key is not None else VerifyOutcome(equal=False)
        return self.reward.combine(analysis, outcome, weights)


@contextlib.asynccontextmanager
async def open_batch_scorer(
    settings: ServiceSettings, on_worker_restart: Callable[[], None] = lambda: None
) -> AsyncIterator[BatchScorer]:
    """A ready :class:`BatchScorer` on a fresh pool, closed (no orphans) on exit."""
    pool = ScoringPool(
        workers=settings.workers,
        item_timeout_s=settings.item_timeout_s,
        memory_mb=settings.worker_memory_mb,
        max_answer_chars=settings.max_answer_chars,
        on_worker_restart=on_worker_restart,
    )
    try:
        await pool.wait_ready()
        reward = MultiSignalMathReward(
            settings.alpha,
            settings.beta,
            settings.gamma,
            max_answer_chars=settings.max_answer_chars,
        )
        yield BatchScorer(pool, reward, settings.cache_size)
    finally:
        pool.close()

"""Scoring a whole batch: analyze every response, verify each distinct answer once, combine.

A GRPO group repeats the same few answers many times, so the slow step, symbolic
verification, runs once per distinct (answer, ground truth) pair: once per batch, once
across concurrent batches (a pair being verified for one request is awaited by the
others), and once across time through a bounded LRU cache of final verdicts (equal / not
equal), keyed by a 16-byte digest of the pair so its memory is bounded by its entry
count. A timeout is not final: it is kept for TIMEOUT_TTL_S only, so a burst of the same
hanging answer is not recomputed, and it is verified again after that. Replicas of a Ray
Serve deployment also share their verdicts (:class:`VerdictSharing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cachetools import LRUCache, TTLCache

from reward_service.engine.fair_queue import owned_by
from reward_service.engine.pool import ScoringPool, describe_failure
from reward_service.scoring import (
    MultiSignalMathReward,
    ResponseAnalysis,
    RewardWeights,
    ScoreResult,
    VerifyOutcome,
    error_result,
    timed_out,
    weights_from_extra_info,
)
from reward_service.settings import ServiceSettings

VerifyKey = tuple[str, str]
TIMEOUT_TTL_S = 60.0
"""How long a timed-out pair is answered 'timeout' without being verified again."""
TIMEOUTS_KEPT = 10_000
IN_PROCESS_ANALYSIS_MAX_CHARS = 256 * 1024
"""Batches up to this many response characters are analysed in the server process."""
INLINE_ANALYSIS_MAX_CHARS = 16 * 1024
"""...and up to this many on the event loop itself: a few of verl's streamed samples take
a tenth of a millisecond each (16 ms at the very worst, analysis being linear), less than
handing them to a thread costs."""


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
        cache_hits: distinct pairs answered from the cache, this scorer's or the shared one
            (ok and timeout verdicts).
        verify_seconds: worker time of each verification, for latency histograms.
    """

    results: list[ScoreResult]
    verified: int = 0
    cache_hits: int = 0
    verify_seconds: list[float] = field(default_factory=list)


def _failure_outcome(exc: Exception, item_timeout_s: float) -> VerifyOutcome:
    if isinstance(exc, TimeoutError):  # killed past its wall-clock limit
        return timed_out(item_timeout_s)
    return VerifyOutcome(False, "error", f"verification failed: {describe_failure(exc)}"[:300])


def _digest(key: VerifyKey) -> bytes:
    """What the caches keep of a pair: 16 bytes, however long the answer and the label."""
    answer, label = key
    return hashlib.blake2b(f"{answer}\0{label}".encode(), digest_size=16).digest()


def _analyze_each(
    reward: MultiSignalMathReward, responses: Sequence[str]
) -> list[ResponseAnalysis | Exception]:
    """Analysis in this process: linear scans, no sympy (one item's failure is its own)."""
    analyses: list[ResponseAnalysis | Exception] = []
    for response in responses:
        try:
            analyses.append(reward.analyze(response))
        except Exception as exc:  # a bug of ours must not fail the batch
            analyses.append(exc)
    return analyses


class VerdictSharing(Protocol):
    """Verdicts shared with other scorers (``reward_service.replicas.verdicts``): asked for
    what the cache lacks before verifying, given what was verified."""

    async def lookup(self, digests: list[bytes]) -> dict[bytes, VerifyOutcome]:
        """The known verdicts among ``digests`` (none rather than an error)."""
        ...

    def post(self, outcomes: dict[bytes, VerifyOutcome]) -> None:
        """Share these verdicts (never waits, never raises)."""


class BatchScorer:
    """Scores batches on a :class:`ScoringPool`, deduplicating and caching verifications.

    Args:
        pool: where analysis and verification run.
        reward: the weights and the combination of signals.
        cache_size: verdicts kept across batches (0: none).
        max_response_chars, max_label_chars: an item over either limit is not sent to the
            pool; its result is an ``error`` with score 0 and every signal 0.
        shared: verdicts shared with other replicas, or None.
    """

    def __init__(
        self,
        pool: ScoringPool,
        reward: MultiSignalMathReward,
        cache_size: int,
        max_response_chars: int = 1024 * 1024,
        max_label_chars: int = 1000,
        shared: VerdictSharing | None = None,
    ) -> None:
        self.pool = pool
        self.reward = reward
        self.max_response_chars = max_response_chars
        self.max_label_chars = max_label_chars
        self._cache: LRUCache[bytes, VerifyOutcome] | None = (
            LRUCache(maxsize=cache_size) if cache_size > 0 else None
        )
        self._timeouts: TTLCache[bytes, VerifyOutcome] = TTLCache(
            maxsize=TIMEOUTS_KEPT, ttl=TIMEOUT_TTL_S
        )
        self._in_flight: dict[VerifyKey, asyncio.Future[VerifyOutcome]] = {}
        self._shared = shared

    async def score(
        self, items: Sequence[BatchItem], weights: RewardWeights | None = None
    ) -> BatchReport:
        """Score ``items`` with ``weights`` (the reward's own when None); never raises per item.

        The batch takes turns on the pool with the other batches being scored.

        Raises:
            PoolUnavailable: the pool broke; nothing was scored.
        """
        with owned_by(object()):
            return await self._score(items, weights)

    async def _score(
        self, items: Sequence[BatchItem], weights: RewardWeights | None
    ) -> BatchReport:
        refused = [self._refusal(item) for item in items]
        accepted = [
            item.response for item, refusal in zip(items, refused, strict=True) if not refusal
        ]
        analyzed = iter(await self._analyze(accepted))
        analyses = [refusal or next(analyzed) for refusal in refused]
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
        outcomes = {key: known for key in keys if (known := self._known(key)) is not None}
        report.cache_hits = len(outcomes)
        shared = {
            key: self._in_flight[key] for key in keys - outcomes.keys() if key in self._in_flight
        }
        missing = [key for key in keys if key not in outcomes and key not in shared]
        if missing:
            outcomes.update(await self._verify_missing(missing, report))
        for key, future in shared.items():  # computed for a concurrent request
            try:
                outcomes[key] = await asyncio.shield(future)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # this request itself is being cancelled
                # that request's client went away before its verification ran
                outcomes.update(await self._verify_missing([key], report))
        return outcomes

    async def _analyze(self, responses: list[str]) -> list[ResponseAnalysis | Exception]:
        """Small batches (verl's streamed samples) here, the smallest on the event loop, the
        others in a thread: no round trip to the pool; big ones in the pool, where the
        processes share the work (RESULTS.md)."""
        chars = sum(map(len, responses))
        if chars <= INLINE_ANALYSIS_MAX_CHARS:
            return _analyze_each(self.reward, responses)
        if chars <= IN_PROCESS_ANALYSIS_MAX_CHARS:
            return await asyncio.to_thread(_analyze_each, self.reward, responses)
        return await self.pool.analyze(responses)

    def _known(self, key: VerifyKey) -> VerifyOutcome | None:
        digest = _digest(key)
        if self._cache is not None and digest in self._cache:
            return self._cache[digest]
        return self._timeouts.get(digest)

    async def _verify_missing(
        self, missing: list[VerifyKey], report: BatchReport
    ) -> dict[VerifyKey, VerifyOutcome]:
        """Verify ``missing`` on the pool (after asking the other replicas, when shared);
        concurrent requests for the same keys wait on it."""
        loop = asyncio.get_running_loop()
        futures = {key: loop.create_future() for key in missing}
        self._in_flight.update(futures)
        try:
            outcomes = await self._shared_verdicts(missing, report)
            to_verify = [key for key in missing if key not in outcomes]
            report.verified += len(to_verify)
            results = await self.pool.verify(to_verify) if to_verify else []
        except asyncio.CancelledError:
            for future in futures.values():
                future.cancel()  # whoever shares them verifies them again
            raise
        except BaseException as exc:
            for future in futures.values():
                future.set_exception(exc)
                future.exception()  # retrieved here: no "never retrieved" warning
            raise
        finally:
            for key in missing:
                self._in_flight.pop(key, None)
        verified: dict[VerifyKey, VerifyOutcome] = {}
        for key, result in zip(to_verify, results, strict=True):
            if isinstance(result, Exception):
                outcome = _failure_outcome(result, self.pool.item_timeout_s)
            else:
                outcome, seconds = result
                report.verify_seconds.append(seconds)
            verified[key] = outcome
        if verified and self._shared is not None:
            self._shared.post({_digest(key): outcome for key, outcome in verified.items()})
        outcomes.update(verified)
        for key, outcome in outcomes.items():
            futures[key].set_result(outcome)
            self._remember(key, outcome)
        return outcomes

    async def _shared_verdicts(
        self, missing: list[VerifyKey], report: BatchReport
    ) -> dict[VerifyKey, VerifyOutcome]:
        """The verdicts other replicas already have (counted as cache hits, not verified)."""
        if self._shared is None:
            return {}
        found = await self._shared.lookup([_digest(key) for key in missing])
        outcomes = {key: found[_digest(key)] for key in missing if _digest(key) in found}
        report.cache_hits += len(outcomes)
        return outcomes

    def _remember(self, key: VerifyKey, outcome: VerifyOutcome) -> None:
        if outcome.status == "timeout":
            self._timeouts[_digest(key)] = outcome
        elif outcome.status == "ok" and self._cache is not None:
            self._cache[_digest(key)] = outcome

    def _refusal(self, item: BatchItem) -> ScoreResult | None:
        """The error result of an item over a size limit, else None."""
        for what, text, limit in (
            ("response", item.response, self.max_response_chars),
            ("ground truth", item.ground_truth, self.max_label_chars),
        ):
            if len(text) > limit:
                return error_result(f"{what} has {len(text)} characters, over the limit of {limit}")
        return None

    def _combine(
        self,
        item: BatchItem,
        analysis: ResponseAnalysis | ScoreResult | Exception,
        key: VerifyKey | None,
        outcomes: Mapping[VerifyKey, VerifyOutcome],
        base: RewardWeights,
    ) -> ScoreResult:
        if isinstance(analysis, ScoreResult):
            return analysis
        if isinstance(analysis, Exception):
            return error_result(f"analysis failed: {describe_failure(analysis)}"[:300])
        try:
            weights = weights_from_extra_info(item.extra_info, base) or base
        except ValueError as exc:
            return error_result(f"invalid weights: {exc}", analysis)
        outcome = outcomes[key] if key is not None else VerifyOutcome(equal=False)
        return self.reward.combine(analysis, outcome, weights)


@contextlib.asynccontextmanager
async def open_batch_scorer(
    settings: ServiceSettings,
    on_worker_restart: Callable[[], None] = lambda: None,
    shared: VerdictSharing | None = None,
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
        yield BatchScorer(
            pool,
            reward,
            settings.cache_size,
            max_response_chars=settings.max_response_chars,
            max_label_chars=settings.max_answer_chars,
            shared=shared,
        )
    finally:
        pool.close()

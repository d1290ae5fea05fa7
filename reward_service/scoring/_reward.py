"""The multi-signal reward ``R = alpha * R_verify + beta * R_format + gamma * R_reflect``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from cachetools import LRUCache
from pydantic import Field, Strict
from pydantic.dataclasses import dataclass as validated_dataclass

from reward_service.scoring._extract import answer_region, extract_answer, reflection_text
from reward_service.scoring._format import format_failures
from reward_service.scoring._reflect import Verdict, classify_verdict
from reward_service.scoring._verify import Status, VerifyOutcome, verify_answer

logger = logging.getLogger("reward_service.scoring")

DEFAULT_VERIFY_TIMEOUT_S = 5.0
DEFAULT_MAX_ANSWER_CHARS = 1000
MAX_WEIGHT = 1000.0
"""The largest weight accepted: scores stay finite, whatever a client sends."""

Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT, allow_inf_nan=False)]
"""One signal weight: a finite number in ``[0, MAX_WEIGHT]``.

The one definition of a weight: :class:`RewardWeights`, the HTTP request schema, the
service settings and the trainer settings all use it. Where values arrive typed (Python,
JSON) it is used strictly (``Annotated[Weight, Strict()]``: no strings, no booleans);
the settings read it from environment text.
"""
_StrictWeight = Annotated[Weight, Strict()]
WEIGHT_NAMES = ("alpha", "beta", "gamma")


@validated_dataclass(frozen=True)
class RewardWeights:
    """Weights of the three signals, each a :data:`Weight`.

    Attributes:
        alpha: weight of R_verify, the answer's correctness.
        beta: weight of R_format, the response structure.
        gamma: weight of R_reflect, the reflection's calibration.

    Raises:
        ValueError: a weight is not a number in ``[0, MAX_WEIGHT]`` (pydantic's
            ``ValidationError``, a ``ValueError``).
    """

    alpha: _StrictWeight = 1.0
    beta: _StrictWeight = 0.2
    gamma: _StrictWeight = 0.2

    @property
    def total(self) -> float:
        """The highest score these weights allow."""
        return self.alpha + self.beta + self.gamma

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], base: RewardWeights | None = None
    ) -> RewardWeights:
        """Weights from a mapping such as ``{"alpha": 1.0}``; missing keys come from ``base``."""
        unknown = set(values) - set(WEIGHT_NAMES)
        if unknown:
            raise ValueError(f"unknown weight names: {sorted(unknown)}")
        return cls(**{**asdict(base or DEFAULT_WEIGHTS), **values})


DEFAULT_WEIGHTS = RewardWeights()

WEIGHTS_KEY = "reward_weights"
"""The ``extra_info`` key that may carry per-item weights, e.g. ``{"alpha": 1, "beta": 0.5}``."""


def weights_from_extra_info(
    extra_info: Mapping[str, Any] | None, base: RewardWeights
) -> RewardWeights | None:
    """Per-item weights carried in ``extra_info``, over ``base``; None when it carries none.

    Raises:
        ValueError: the weights are not a mapping of valid weight names and values.
    """
    if not isinstance(extra_info, Mapping) or extra_info.get(WEIGHTS_KEY) is None:
        return None
    weights = extra_info[WEIGHTS_KEY]
    if not isinstance(weights, Mapping):
        raise ValueError(f"extra_info[{WEIGHTS_KEY!r}] must be a mapping")
    return RewardWeights.from_mapping(weights, base=base)


_WARNED: LRUCache[RewardWeights, None] = LRUCache(maxsize=256)


def _warn_if_dominated(weights: RewardWeights) -> None:
    """Log once per weights (of the last 256 seen) when a wrong answer could outscore a
    right one; bounded, since clients choose the weights."""
    if weights in _WARNED:
        return
    _WARNED[weights] = None
    if weights.alpha <= weights.beta + weights.gamma:
        logger.warning(
            "alpha=%s <= beta+gamma=%s: a well-formatted wrong answer can score at least as "
            "much as a right one",
            weights.alpha,
            weights.beta + weights.gamma,
        )


@dataclass(frozen=True)
class ResponseAnalysis:
    """The signals read from a response alone, before its answer is verified.

    Attributes:
        pred: the extracted final answer, or None when there is no boxed answer.
        format_failures: the format rules the response breaks (empty: R_format = 1).
        verdict: the reflection's judgement, "correct", "wrong" or None.
    """

    pred: str | None
    format_failures: tuple[str, ...]
    verdict: Verdict | None


@dataclass(frozen=True)
class ScoreResult:
    """The scored breakdown of one response.

    Attributes:
        score: ``alpha * verify + beta * format + gamma * reflect``.
        verify, format, reflect: the three signals, each 0 or 1.
        pred: the extracted answer, or None.
        verdict: the reflection's judgement, "correct", "wrong" or None.
        format_failures: names of the broken format rules.
        status: "ok", "timeout" or "error"; a timeout or error sets verify to 0.
        error: what went wrong, when status is not "ok".
    """

    score: float
    verify: int
    format: int
    reflect: int
    pred: str | None
    verdict: Verdict | None
    format_failures: tuple[str, ...]
    status: Status
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every field; ``format_failures`` becomes a list."""
        return {
            "score": self.score,
            "verify": self.verify,
            "format": self.format,
            "reflect": self.reflect,
            "pred": self.pred,
            "verdict": self.verdict,
            "format_failures": list(self.format_failures),
            "status": self.status,
            "error": self.error,
        }


def error_result(message: str, analysis: ResponseAnalysis | None = None) -> ScoreResult:
    """A zero-score result that carries ``message``, keeping what ``analysis`` found."""
    return ScoreResult(
        score=0.0,
        verify=0,
        format=0,
        reflect=0,
        pred=analysis.pred if analysis else None,
        verdict=analysis.verdict if analysis else None,
        format_failures=analysis.format_failures if analysis else (),
        status="error",
        error=message,
    )


class MultiSignalMathReward:
    """Scores math responses with ``R = alpha*R_verify + beta*R_format + gamma*R_reflect``.

    ``score`` does everything; ``analyze``, ``verify`` and ``combine`` are its three
    steps, exposed so that a batch scorer can deduplicate the slow middle one.

    Args:
        alpha, beta, gamma: the signal weights (finite, >= 0).
        verify_timeout_s: in-process limit for parsing and comparing one answer, used
            only in a main thread; None for none, and then a caller's own deadline that
            raises math-verify's ``TimeoutException`` (the service's CPU-time limit) gets
            it back, to report the timeout with its own limit.
        max_answer_chars: answers longer than this are not parsed (status "error").
    """

    def __init__(
        self,
        alpha: float = DEFAULT_WEIGHTS.alpha,
        beta: float = DEFAULT_WEIGHTS.beta,
        gamma: float = DEFAULT_WEIGHTS.gamma,
        *,
        verify_timeout_s: float | None = DEFAULT_VERIFY_TIMEOUT_S,
        max_answer_chars: int = DEFAULT_MAX_ANSWER_CHARS,
    ) -> None:
        self.weights = RewardWeights(alpha, beta, gamma)
        self.verify_timeout_s = verify_timeout_s
        self.max_answer_chars = max_answer_chars
        _warn_if_dominated(self.weights)

    def analyze(self, response: str) -> ResponseAnalysis:
        """Extract the answer, check the format and read the reflection's verdict."""
        region = answer_region(response)
        return ResponseAnalysis(
            pred=extract_answer(response, region),
            format_failures=format_failures(response, region),
            verdict=classify_verdict(reflection_text(response)),
        )

    def verify(self, pred: str | None, ground_truth: str) -> VerifyOutcome:
        """Compare an extracted answer with the ground truth; never raises but a caller's
        ``TimeoutException`` (see ``verify_timeout_s``)."""
        if pred is not None and len(pred) > self.max_answer_chars:
            message = f"answer has {len(pred)} characters, over the limit {self.max_answer_chars}"
            return VerifyOutcome(False, "error", message)
        return verify_answer(pred, ground_truth, self.verify_timeout_s)

    def combine(
        self,
        analysis: ResponseAnalysis,
        outcome: VerifyOutcome,
        weights: RewardWeights | None = None,
    ) -> ScoreResult:
        """Weigh the signals into one result (``weights`` overrides this reward's)."""
        weights = weights or self.weights
        _warn_if_dominated(weights)
        verified = int(outcome.equal)
        formatted = int(not analysis.format_failures)
        expected_verdict = "correct" if verified else "wrong"
        reflected = int(analysis.verdict == expected_verdict)
        return ScoreResult(
            score=weights.alpha * verified + weights.beta * formatted + weights.gamma * reflected,
            verify=verified,
            format=formatted,
            reflect=reflected,
            pred=analysis.pred,
            verdict=analysis.verdict,
            format_failures=analysis.format_failures,
            status=outcome.status,
            error=outcome.error,
        )

    def score(
        self, response: str, ground_truth: str, weights: RewardWeights | None = None
    ) -> ScoreResult:
        """Score one response against its ground truth; never raises but a caller's
        ``TimeoutException`` (see ``verify_timeout_s``)."""
        if not isinstance(response, str):
            return error_result(f"response must be a string, got {type(response).__name__}")
        if not isinstance(ground_truth, str):
            return error_result(f"ground truth must be a string, got {type(ground_truth).__name__}")
        try:
            analysis = self.analyze(response)
        except Exception as exc:  # a bug of ours must not crash a training step
            logger.exception("analysis failed")
            return error_result(f"analysis failed: {type(exc).__name__}: {exc}")
        return self.combine(analysis, self.verify(analysis.pred, ground_truth), weights)

"""The scoring core: pure functions, importable without FastAPI or verl.

from reward_service.scoring import MultiSignalMathReward

result = MultiSignalMathReward(alpha=1.0, beta=0.2, gamma=0.2).score(response, "12.8")
result.score, result.verify, result.format, result.reflect

For users: ``MultiSignalMathReward``, ``RewardWeights``, ``ScoreResult``, ``compute_score``,
``label_text``, ``normalize_answer`` (the written form answers are compared in) and
``scorer_version`` (every component a verdict depends on, with its version). The rest is
what the reward service builds on to score batches in steps (analyse responses, verify
distinct answers, combine): ``ResponseAnalysis``,
``VerifyOutcome``, ``timed_out``, ``error_result``, ``weights_from_extra_info``, ``WEIGHTS_KEY``,
``FORMAT_RULES``, and the one definition of a weight, ``Weight`` / ``MAX_WEIGHT``.
"""

from reward_service.scoring._format import FORMAT_RULES
from reward_service.scoring._labels import label_text
from reward_service.scoring._normalize import normalize_answer
from reward_service.scoring._reward import (
    MAX_WEIGHT,
    WEIGHTS_KEY,
    MultiSignalMathReward,
    ResponseAnalysis,
    RewardWeights,
    ScoreResult,
    Weight,
    error_result,
    weights_from_extra_info,
)
from reward_service.scoring._verify import VerifyOutcome, timed_out
from reward_service.scoring._version import scorer_version
from reward_service.scoring.verl_custom_reward import compute_score

__all__ = [
    "FORMAT_RULES",
    "MAX_WEIGHT",
    "WEIGHTS_KEY",
    "MultiSignalMathReward",
    "ResponseAnalysis",
    "RewardWeights",
    "ScoreResult",
    "VerifyOutcome",
    "Weight",
    "compute_score",
    "error_result",
    "label_text",
    "normalize_answer",
    "scorer_version",
    "timed_out",
    "weights_from_extra_info",
]

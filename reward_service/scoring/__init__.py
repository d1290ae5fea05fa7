"""The scoring core: pure functions, importable without FastAPI or verl.

from reward_service.scoring import MultiSignalMathReward

result = MultiSignalMathReward(alpha=1.0, beta=0.2, gamma=0.2).score(response, "12.8")
result.score, result.verify, result.format, result.reflect
"""

from reward_service.scoring._reward import MultiSignalMathReward, RewardWeights, ScoreResult
from reward_service.scoring.verl_custom_reward import compute_score

__all__ = ["MultiSignalMathReward", "RewardWeights", "ScoreResult", "compute_score"]

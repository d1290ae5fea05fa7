"""verl's custom-reward entry point, ``compute_score`` with verl's signature.

Point verl at this file directly (``custom_reward_function.path=<this file>``,
``custom_reward_function.name=compute_score``): it imports only by absolute names, so
it loads by path as well as by module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reward_service.scoring._labels import label_text
from reward_service.scoring._reward import (
    MultiSignalMathReward,
    error_result,
    weights_from_extra_info,
)

_DEFAULT_REWARD = MultiSignalMathReward()


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score one response the way verl's reward managers expect; never raises.

    Returns ``score`` plus every signal (``verify``, ``format``, ``reflect``, ``pred``,
    ``verdict``, ``format_failures``, ``status``, ``error``), so verl logs each one.
    ``data_source`` is accepted for verl's signature; every source is scored as math.
    """
    try:
        ground_truth = label_text(ground_truth)
    except ValueError as exc:
        return error_result(f"invalid ground truth: {exc}").to_dict()
    try:
        weights = weights_from_extra_info(extra_info, _DEFAULT_REWARD.weights)
    except (TypeError, ValueError) as exc:
        return error_result(f"invalid weights: {exc}").to_dict()
    return _DEFAULT_REWARD.score(solution_str, ground_truth, weights).to_dict()

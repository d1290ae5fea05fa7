"""A short run whose alarms are known, as ``/score`` bodies: six steps of 38 items, each
eight GRPO groups of two right answers (16 items) and 20 answers ``13`` (wrong) outside
any group; the first three steps also hold two answers too long to verify (errors).

Its alarms, open ones first:

- ``answer_collapse``, warning, open since step 0: ``13`` is 20 to 22 of the 38 items;
- ``no_learning_signal``, info, open since step 0: every group is all right;
- ``scoring_failures``, warning, steps 0 to 2, closed by the three steps without errors.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import make_response
from tests.stats.simulated_runs import OVERLONG_ANSWER

STEPS = 6
FAILING_STEPS = 3
EXPECTED = [
    ("answer_collapse", "warning", True, 0, STEPS - 1),
    ("no_learning_signal", "info", True, 0, STEPS - 1),
    ("scoring_failures", "warning", False, 0, FAILING_STEPS - 1),
]
"""(kind, severity, open, since_step, last_step) of each alarm, in ``/stats`` order."""


def _item(answer: str, group: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"response": make_response(answer), "ground_truth": "12.8"}
    if group is not None:
        item["group"] = group
    return item


def bodies() -> list[dict[str, Any]]:
    """The run's requests, one per step."""
    requests = []
    for step in range(STEPS):
        items = [_item("12.8", f"{step}-{group}") for group in range(8) for _ in range(2)]
        items += [_item("13") for _ in range(20)]
        last = [OVERLONG_ANSWER] * 2 if step < FAILING_STEPS else ["13"] * 2
        items += [_item(answer) for answer in last]
        requests.append({"step": step, "items": items})
    return requests

"""GRPO groups: the responses sampled for one prompt, and the learning signal they carry.

GRPO's advantage is a response's reward minus its group's mean (over the group's spread), so a
group whose samples all got the same reward teaches nothing. The statistics keep, per group of
a step, four integers that add up exactly whatever order and split the samples arrive in (a
group's samples come in many requests, possibly to several replicas):

    (samples, right answers, sum of scores, sum of squared scores)

with scores in units of 1/SCORE_UNITS. The reward spread is zero exactly when
``samples * squares == sum ** 2``. A step keeps at most GROUPS_KEPT groups: those with the
smallest digests of their ids, which is a uniform sample of the step's groups that is the
same whatever order the batches are merged in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reward_service.stats.sketch import DIGEST_SPACE

GROUPS_KEPT = 128
SCORE_UNITS = 10_000
"""Scores are counted in ten-thousandths: integer sums are exact and order-free."""

Group = tuple[int, int, int, int]
"""samples, right answers, sum of scores, sum of squared scores (scores in SCORE_UNITS)."""


@dataclass
class GroupTable:
    """A step's groups, bounded to GROUPS_KEPT.

    Attributes:
        groups: the kept groups, by the digest of their id.
        overflow: whether the step had more groups than it keeps (then counts are estimated).
    """

    groups: dict[int, Group] = field(default_factory=dict)
    overflow: bool = False

    def add(self, key: int, score: float, right: int) -> None:
        """Count one scored response of the group whose id has digest ``key`` (call
        :meth:`bound` after a batch)."""
        units = round(score * SCORE_UNITS)
        samples, rights, total, squares = self.groups.get(key, (0, 0, 0, 0))
        self.groups[key] = (samples + 1, rights + right, total + units, squares + units * units)

    def merge(self, other: GroupTable) -> None:
        """Add ``other``'s samples (another batch of the same step)."""
        for key, group in other.groups.items():
            old = self.groups.get(key, (0, 0, 0, 0))
            self.groups[key] = (
                old[0] + group[0],
                old[1] + group[1],
                old[2] + group[2],
                old[3] + group[3],
            )
        self.overflow |= other.overflow
        self.bound()

    def bound(self) -> None:
        """Keep the GROUPS_KEPT groups with the smallest digests."""
        if len(self.groups) > GROUPS_KEPT:
            self.overflow = True
            self.groups = {key: self.groups[key] for key in sorted(self.groups)[:GROUPS_KEPT]}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rows ``[digest, samples, right, sum, squares]`` in digest order."""
        rows = [[key, *self.groups[key]] for key in sorted(self.groups)]
        return {"rows": rows, "overflow": self.overflow}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupTable:
        """A table back from :meth:`to_dict`."""
        groups: dict[int, Group] = {}
        for row in data["rows"]:
            key, samples, right, total, squares = (int(value) for value in row)
            groups[key] = (samples, right, total, squares)
        return cls(groups, bool(data["overflow"]))

    def summary(self) -> dict[str, float | None]:
        """What a GRPO researcher reads from the step's groups (None where none was seen).

        - ``groups``: groups in the step (estimated past GROUPS_KEPT, to a whole number);
        - ``group_size``: mean samples per group;
        - ``zero_variance``: share of groups (of 2+ samples) whose samples all got one reward;
        - ``spread``: mean standard deviation of the reward within a group;
        - ``mean_at_k``: mean share of right answers in a group;
        - ``pass_at_k``: share of groups with at least one right answer.
        """
        rows = [self.groups[key] for key in sorted(self.groups)]  # one order: one float sum
        if not rows:
            return dict.fromkeys(SUMMARY_KEYS)
        several = [g for g in rows if g[0] >= 2]
        flat = sum(1 for n, _, total, squares in several if n * squares == total * total)
        spreads = [math.sqrt(max(0, n * sq - total * total)) / n for n, _, total, sq in rows]
        return {
            "groups": self._count(),
            "group_size": sum(g[0] for g in rows) / len(rows),
            "zero_variance": flat / len(several) if several else None,
            "spread": sum(spreads) / len(rows) / SCORE_UNITS,
            "mean_at_k": sum(g[1] / g[0] for g in rows) / len(rows),
            "pass_at_k": sum(1 for g in rows if g[1]) / len(rows),
        }

    def _count(self) -> float:
        if not self.overflow:
            return float(len(self.groups))
        return float(round((len(self.groups) - 1) * DIGEST_SPACE / (max(self.groups) + 1)))


SUMMARY_KEYS = ("groups", "group_size", "zero_variance", "spread", "mean_at_k", "pass_at_k")

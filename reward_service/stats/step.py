"""One step's reward statistics as counts: signal sums, format failures, answers, calibration.

Everything is kept as counts, so merging batches of one step is addition, and the JSONL
file (one line per batch) is re-aggregated by the report exactly as the service does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reward_service.scoring import FORMAT_RULES, ScoreResult

SIGNALS = ("verify", "format", "reflect", "score")
CALIBRATION_CELLS = tuple(
    f"{truth}_{verdict}" for truth in ("right", "wrong") for verdict in ("correct", "wrong", "none")
)
"""(verify, verdict) cells: ``right_correct`` and ``wrong_wrong`` are calibrated reflections."""
NO_ANSWER = "(no answer)"
ANSWERS_KEPT = 50
ANSWER_CHARS_KEPT = 80
"""Answers are counted by their first characters: memory stays bounded whatever the model
writes (a step keeps at most ANSWERS_KEPT x ANSWER_CHARS_KEPT characters of answers)."""
RESPONSE_CHARS_KEPT = 2000
"""The end of each latest response kept for the dashboard."""


def latest_entry(step: int, response: str, result: ScoreResult) -> dict[str, Any]:
    """A scored response for the dashboard: its end, its breakdown, its answer shortened."""
    entry = {"step": step, "response": response[-RESPONSE_CHARS_KEPT:], **result.to_dict()}
    if result.pred is not None:
        entry["pred"] = _answer_key(result.pred)
    return entry


def _answer_key(pred: str | None) -> str:
    if pred is None:
        return NO_ANSWER
    return pred if len(pred) <= ANSWER_CHARS_KEPT else pred[: ANSWER_CHARS_KEPT - 1] + "…"


@dataclass
class StepStats:
    """Counts for one step (one or more batches).

    Attributes:
        step: the trainer's global step, or the service's batch number.
        time: when the last batch of the step was recorded (Unix seconds).
        batches, items: how many batches and items were merged in.
        signal_sums: sums of verify, format, reflect and score.
        format_failures: items breaking each format rule.
        answers: extracted answers and their counts (the most common ANSWERS_KEPT).
        calibration: items per (verify, verdict) cell, see CALIBRATION_CELLS.
        timeouts, errors: items with those statuses.
        latency_ms: summed wall time of the batches.
    """

    step: int
    time: float = 0.0
    batches: int = 0
    items: int = 0
    signal_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0.0))
    format_failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FORMAT_RULES, 0))
    answers: Counter[str] = field(default_factory=Counter)
    calibration: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CALIBRATION_CELLS, 0))
    timeouts: int = 0
    errors: int = 0
    latency_ms: float = 0.0

    @classmethod
    def of_batch(
        cls, step: int, results: Sequence[ScoreResult], latency_ms: float, now: float
    ) -> StepStats:
        """The counts of one scored batch."""
        stats = cls(step=step, time=now, batches=1, items=len(results), latency_ms=latency_ms)
        for result in results:
            for signal in SIGNALS:
                stats.signal_sums[signal] += getattr(result, signal)
            for rule in result.format_failures:
                stats.format_failures[rule] += 1
            stats.answers[_answer_key(result.pred)] += 1
            truth = "right" if result.verify else "wrong"
            stats.calibration[f"{truth}_{result.verdict or 'none'}"] += 1
            stats.timeouts += result.status == "timeout"
            stats.errors += result.status == "error"
        stats.answers = Counter(dict(stats.answers.most_common(ANSWERS_KEPT)))
        return stats

    def merge(self, other: StepStats) -> None:
        """Add ``other``'s counts (a later batch of the same step) to these."""
        self.time = max(self.time, other.time)
        self.batches += other.batches
        self.items += other.items
        for signal in SIGNALS:
            self.signal_sums[signal] += other.signal_sums[signal]
        for rule in FORMAT_RULES:
            self.format_failures[rule] += other.format_failures[rule]
        self.answers = Counter(dict((self.answers + other.answers).most_common(ANSWERS_KEPT)))
        for cell in CALIBRATION_CELLS:
            self.calibration[cell] += other.calibration[cell]
        self.timeouts += other.timeouts
        self.errors += other.errors
        self.latency_ms += other.latency_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts plus the derived means and rates."""
        per_item = 1 / self.items if self.items else 0.0
        calibrated = self.calibration["right_correct"] + self.calibration["wrong_wrong"]
        return {
            "step": self.step,
            "time": self.time,
            "batches": self.batches,
            "items": self.items,
            "signal_sums": self.signal_sums,
            "means": {signal: total * per_item for signal, total in self.signal_sums.items()},
            "format_failures": self.format_failures,
            "format_failure_rates": {r: n * per_item for r, n in self.format_failures.items()},
            "answers": dict(self.answers.most_common()),
            "calibration": self.calibration,
            "calibrated_share": calibrated * per_item,
            "timeouts": self.timeouts,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepStats:
        """Counts back from :meth:`to_dict` (derived fields are ignored)."""
        return cls(
            step=int(data["step"]),
            time=float(data["time"]),
            batches=int(data["batches"]),
            items=int(data["items"]),
            signal_sums={s: float(data["signal_sums"][s]) for s in SIGNALS},
            format_failures={r: int(data["format_failures"][r]) for r in FORMAT_RULES},
            answers=Counter({str(a): int(n) for a, n in data["answers"].items()}),
            calibration={c: int(data["calibration"][c]) for c in CALIBRATION_CELLS},
            timeouts=int(data["timeouts"]),
            errors=int(data["errors"]),
            latency_ms=float(data["latency_ms"]),
        )


def merge_by_step(batches: Iterable[StepStats]) -> list[StepStats]:
    """Batches merged per step, in step order."""
    steps: dict[int, StepStats] = {}
    for batch in batches:
        if batch.step in steps:
            steps[batch.step].merge(batch)
        else:
            steps[batch.step] = StepStats.from_dict(batch.to_dict())
    return [steps[step] for step in sorted(steps)]

"""One step's reward statistics as counts that merge exactly.

Everything is kept as sums, maxima, bottom-k sketches or bounded tables, so merging the
batches of one step in any order and split gives the same counts: the service merges as
batches arrive, the JSONL file (one line per batch) is re-aggregated the same way by the
report, and replicas can add up their batches. :meth:`StepStats.to_dict` is the lossless
record; what ``/stats`` serves is derived from it (:mod:`reward_service.stats.view`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reward_service.scoring import FORMAT_RULES, ScoreResult
from reward_service.stats.answers import SPECIAL_KEYS, answer_key, bounded_key
from reward_service.stats.groups import SCORE_UNITS, GroupTable
from reward_service.stats.sketch import bottom_k, digest

SIGNALS = ("verify", "format", "reflect", "score")
CALIBRATION_CELLS = tuple(
    f"{truth}_{verdict}" for truth in ("right", "wrong") for verdict in ("correct", "wrong", "none")
)
"""(verify, verdict) cells: ``right_correct`` and ``wrong_wrong`` are calibrated reflections."""
ANSWERS_KEPT = 50
"""Most answer keys counted per step, right and wrong each (the most frequent are kept)."""
SOURCES_KEPT = 16
"""Most data sources split out per step; the rest are counted as OTHER_SOURCE."""
SOURCE_CHARS_KEPT = 64
NO_SOURCE = "(none)"
OTHER_SOURCE = "(other)"
LENGTH_FIELDS = ("chars", "chars_max", "tokens", "tokens_items", "tokens_max")
TRUNCATION_FIELDS = ("truncated", "truncation_reported")


@dataclass(frozen=True)
class ScoredItem:
    """What the statistics read from a scored item besides its result.

    Attributes:
        response: the response text.
        ground_truth: its label (a right answer is counted under it).
        data_source: where the example came from, when the trainer said.
        group: the id shared by the responses sampled for one prompt (GRPO's group).
        response_tokens: the response's length in tokens, as the trainer counted it.
        truncated: whether the trainer cut the response at its length limit.
    """

    response: str
    ground_truth: str
    data_source: str | None = None
    group: str | None = None
    response_tokens: int | None = None
    truncated: bool | None = None


@functools.lru_cache(maxsize=256)
def _source_key(data_source: str) -> str:
    """A data source's key: bounded, and distinct for distinct sources however long."""
    return bounded_key(data_source, SOURCE_CHARS_KEPT)


def _top(counter: Counter[str]) -> Counter[str]:
    if len(counter) <= ANSWERS_KEPT:
        return counter
    return Counter(dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:ANSWERS_KEPT]))


@dataclass
class StepStats:
    """Counts for one step (one or more batches).

    Attributes:
        step: the trainer's global step, or the number the service gave untagged batches.
        time: when the last batch of the step was recorded (Unix seconds).
        batches, items: how many batches and items were merged in.
        signal_sums: sums of verify, format, reflect and score.
        format_failures: items breaking each format rule.
        right_answers, wrong_answers: items per answer key (``stats.answers``), the
            ANSWERS_KEPT most frequent of each; timeouts, errors and missing answers are
            wrong-side keys of their own.
        answer_sketch: bottom-k digests of the judged answer keys (distinct answers).
        calibration: items per (verify, verdict) cell, see CALIBRATION_CELLS.
        timeouts, errors: items with those statuses.
        latency_ms: summed wall time of the batches.
        groups: the step's GRPO groups (items that carried a ``group``).
        lengths: summed and largest response length in characters, and in tokens over the
            items whose trainer reported them (``tokens_items``).
        truncation: items the trainer reported cut off, out of those it reported on.
        sources: per data source, ``[items, verify sum, score sum in SCORE_UNITS]``.
    """

    step: int
    time: float = 0.0
    batches: int = 0
    items: int = 0
    signal_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0.0))
    format_failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FORMAT_RULES, 0))
    right_answers: Counter[str] = field(default_factory=Counter)
    wrong_answers: Counter[str] = field(default_factory=Counter)
    answer_sketch: list[int] = field(default_factory=list)
    calibration: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CALIBRATION_CELLS, 0))
    timeouts: int = 0
    errors: int = 0
    latency_ms: float = 0.0
    groups: GroupTable = field(default_factory=GroupTable)
    lengths: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LENGTH_FIELDS, 0))
    truncation: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TRUNCATION_FIELDS, 0))
    sources: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of_batch(
        cls,
        step: int,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        latency_ms: float,
        now: float,
    ) -> StepStats:
        """The counts of one scored batch."""
        stats = cls(step=step, time=now, batches=1, items=len(results), latency_ms=latency_ms)
        sums, failures, cells = stats.signal_sums, stats.format_failures, stats.calibration
        keys: dict[tuple[str | None, str, int, str], tuple[str, bool]] = {}
        group_keys: dict[str, int] = {}
        for item, result in zip(items, results, strict=True):
            verify, status = result.verify, result.status
            sums["verify"] += verify
            sums["format"] += result.format
            sums["reflect"] += result.reflect
            sums["score"] += result.score
            for rule in result.format_failures:
                failures[rule] += 1
            written = (result.pred, item.ground_truth, verify, status)
            if written not in keys:
                keys[written] = answer_key(*written)
            key, right = keys[written]
            (stats.right_answers if right else stats.wrong_answers)[key] += 1
            cells[f"{'right' if verify else 'wrong'}_{result.verdict or 'none'}"] += 1
            if status != "ok":
                stats.timeouts += status == "timeout"
                stats.errors += status == "error"
            if item.group is not None:
                if item.group not in group_keys:
                    group_keys[item.group] = digest(item.group)
                stats.groups.add(group_keys[item.group], result.score, verify)
            source = NO_SOURCE if item.data_source is None else _source_key(item.data_source)
            counts = stats.sources.setdefault(source, [0, 0, 0])
            counts[0] += 1
            counts[1] += verify
            counts[2] += round(result.score * SCORE_UNITS)
        stats._count_lengths(items)
        judged = {key for key, _ in keys.values() if key not in SPECIAL_KEYS}
        stats.answer_sketch = bottom_k(digest(key) for key in judged)
        stats.right_answers = _top(stats.right_answers)
        stats.wrong_answers = _top(stats.wrong_answers)
        stats.groups.bound()
        stats._bound_sources()
        return stats

    def _count_lengths(self, items: Sequence[ScoredItem]) -> None:
        chars = [len(item.response) for item in items]
        tokens = [item.response_tokens for item in items if item.response_tokens is not None]
        cut = [item.truncated for item in items if item.truncated is not None]
        self.lengths = {
            "chars": sum(chars),
            "chars_max": max(chars, default=0),
            "tokens": sum(tokens),
            "tokens_items": len(tokens),
            "tokens_max": max(tokens, default=0),
        }
        self.truncation = {"truncated": sum(cut), "truncation_reported": len(cut)}

    def _bound_sources(self) -> None:
        """Keep the SOURCES_KEPT - 1 largest sources; fold the rest into OTHER_SOURCE."""
        if len(self.sources) <= SOURCES_KEPT:
            return
        ranked = sorted(
            (name for name in self.sources if name != OTHER_SOURCE),
            key=lambda name: (-self.sources[name][0], name),
        )
        other = self.sources.get(OTHER_SOURCE, [0, 0, 0])
        for name in ranked[SOURCES_KEPT - 1 :]:
            other = [a + b for a, b in zip(other, self.sources.pop(name), strict=True)]
        self.sources[OTHER_SOURCE] = other

    def merge(self, other: StepStats) -> None:
        """Add ``other``'s counts (a later batch of the same step) to these."""
        self.time = max(self.time, other.time)
        self.batches += other.batches
        self.items += other.items
        for signal in SIGNALS:
            self.signal_sums[signal] += other.signal_sums[signal]
        for rule in FORMAT_RULES:
            self.format_failures[rule] += other.format_failures[rule]
        self.right_answers.update(other.right_answers)
        self.right_answers = _top(self.right_answers)
        self.wrong_answers.update(other.wrong_answers)
        self.wrong_answers = _top(self.wrong_answers)
        if other.answer_sketch:
            self.answer_sketch = bottom_k(self.answer_sketch + other.answer_sketch)
        for cell in CALIBRATION_CELLS:
            self.calibration[cell] += other.calibration[cell]
        self.timeouts += other.timeouts
        self.errors += other.errors
        self.latency_ms += other.latency_ms
        self.groups.merge(other.groups)
        for name in ("chars", "tokens", "tokens_items"):
            self.lengths[name] += other.lengths[name]
        for name in ("chars_max", "tokens_max"):
            self.lengths[name] = max(self.lengths[name], other.lengths[name])
        for name in TRUNCATION_FIELDS:
            self.truncation[name] += other.truncation[name]
        for name, counts in other.sources.items():
            mine = self.sources.setdefault(name, [0, 0, 0])
            self.sources[name] = [a + b for a, b in zip(mine, counts, strict=True)]
        self._bound_sources()

    def to_dict(self) -> dict[str, Any]:
        """The lossless record: JSON-ready counts (no derived values)."""
        return {
            "step": self.step,
            "time": self.time,
            "batches": self.batches,
            "items": self.items,
            "signal_sums": self.signal_sums,
            "format_failures": self.format_failures,
            "right_answers": dict(self.right_answers),
            "wrong_answers": dict(self.wrong_answers),
            "answer_sketch": self.answer_sketch,
            "calibration": self.calibration,
            "timeouts": self.timeouts,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "groups": self.groups.to_dict(),
            "lengths": self.lengths,
            "truncation": self.truncation,
            "sources": self.sources,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepStats:
        """Counts back from :meth:`to_dict`.

        A record written before answers, groups, lengths and sources were counted loads
        with those empty.
        """
        groups = data.get("groups")
        return cls(
            step=int(data["step"]),
            time=float(data["time"]),
            batches=int(data["batches"]),
            items=int(data["items"]),
            signal_sums={s: float(data["signal_sums"][s]) for s in SIGNALS},
            format_failures={r: int(data["format_failures"][r]) for r in FORMAT_RULES},
            right_answers=_counter(data.get("right_answers", {})),
            wrong_answers=_counter(data.get("wrong_answers", {})),
            answer_sketch=[int(d) for d in data.get("answer_sketch", [])],
            calibration={c: int(data["calibration"][c]) for c in CALIBRATION_CELLS},
            timeouts=int(data["timeouts"]),
            errors=int(data["errors"]),
            latency_ms=float(data["latency_ms"]),
            groups=GroupTable.from_dict(groups) if groups is not None else GroupTable(),
            lengths={n: int(data.get("lengths", {}).get(n, 0)) for n in LENGTH_FIELDS},
            truncation={n: int(data.get("truncation", {}).get(n, 0)) for n in TRUNCATION_FIELDS},
            sources={
                str(name): [int(count) for count in counts]
                for name, counts in data.get("sources", {}).items()
            },
        )


def _counter(counts: dict[str, Any]) -> Counter[str]:
    return Counter({str(key): int(count) for key, count in counts.items()})


def merge_by_step(batches: Iterable[StepStats]) -> list[StepStats]:
    """Batches merged per step, in step order."""
    steps: dict[int, StepStats] = {}
    for batch in batches:
        if batch.step in steps:
            steps[batch.step].merge(batch)
        else:
            steps[batch.step] = StepStats.from_dict(batch.to_dict())
    return [steps[step] for step in sorted(steps)]

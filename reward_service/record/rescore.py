"""Re-scoring a record with the installed scorer: which rewards would differ today.

The record is read one step at a time and scored through the service's batch scorer
(its process pool, timeouts and limits), each item with the weights it was paid with, so
memory stays bounded whatever the run's size. An item is *changed* when its signals,
score, reflection verdict or status differ; a timeout on either side is no verdict, so
such an item is counted apart and never as changed. An item that is not the scorer's to
judge again is left as recorded, counted apart as *not re-scorable*: the route's own
verdict (an OpenRLHF query that does not start with its prompt, recorded whole), or a row
without its response or label. Every changed item can be written to a Parquet file
(:data:`CHANGES_SCHEMA`), one row each, before and after side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from reward_service.engine import BatchItem
from reward_service.errors import PROMPT_NOT_FOUND, PoolUnavailable
from reward_service.record.files import temp_name
from reward_service.record.reader import Record
from reward_service.record.schema import RECORD_SCHEMA
from reward_service.scoring import WEIGHTS_KEY, ScoreResult

logger = logging.getLogger("reward_service.record")

COMPARED = ("verify", "format", "reflect", "score", "verdict", "status")
"""What makes an item changed (a timeout on either side aside)."""
SIDES = ("pred", *COMPARED)
"""What the changes file holds before and after."""
CONTEXT = ("step", "batch", "item", "replica", "group", "data_source", "response", "ground_truth")
"""What the changes file holds once: where the item is and what was scored."""
CHUNK_ITEMS = 4096
"""Items sent to the scorer at once."""
TOP_CHANGES = 20
CHANGES_KEPT = 50_000
"""Distinct changes counted at most; past it the rarest half is forgotten."""
ANSWER_CHARS = 80
POOL_RETRIES = 5
POOL_RETRY_PAUSE_S = 2.0
LAST_STEP = 10**12
"""The highest step the service accepts: an open range of steps ends there."""

CHANGES_SCHEMA = pa.schema(
    [RECORD_SCHEMA.field(name) for name in CONTEXT]
    + [
        RECORD_SCHEMA.field(name).with_name(f"{name}_{side}")
        for name in SIDES
        for side in ("before", "after")
    ]
    + [
        pa.field("scorer_version_before", pa.string()),
        pa.field("scorer_version_after", pa.string()),
    ]
)
"""One row per changed item: where it is, what was scored, each signal before and after."""
_READ = [*CONTEXT, *SIDES, "error", "weights", "scorer_version"]


class Report(Protocol):
    """What a batch scorer answers (``reward_service.engine.BatchReport``)."""

    results: list[ScoreResult]


class Scorer(Protocol):
    """The service's batch scorer (``reward_service.engine.BatchScorer``)."""

    async def score(self, items: Sequence[BatchItem]) -> Report:
        """Score ``items``, each with the weights its ``extra_info`` carries."""
        ...


@dataclass(frozen=True)
class StepSummary:
    """One step re-scored.

    Attributes:
        step: the step.
        items: items in the record for it.
        changed: items whose signals, score, verdict or status differ.
        timeouts: items that timed out before or after (neither changed nor same).
        not_rescorable: items left as recorded (:func:`not_rescorable`).
        mean_before, mean_after: the mean reward as recorded and as re-scored (an item
            left as recorded keeps its reward).
    """

    step: int
    items: int
    changed: int
    timeouts: int
    not_rescorable: int
    mean_before: float
    mean_after: float


@dataclass(frozen=True)
class Change:
    """What changed for an answer: its signals before and after, described."""

    answer: str
    label: str
    before: str
    after: str


@dataclass
class RescoreSummary:
    """A whole re-scoring.

    Attributes:
        scorer_version: the installed scorer's version (after).
        recorded_versions: the record's scorer versions (before), with their item counts.
        steps: each step's summary, in order.
        changes: how many items each change describes (the most frequent ones are kept
            exactly; see :data:`CHANGES_KEPT`).
        incomplete: rows without a response or label (among the not re-scorable ones).
        seconds: how long it took.
    """

    scorer_version: str
    recorded_versions: Counter[str] = field(default_factory=Counter)
    steps: list[StepSummary] = field(default_factory=list)
    changes: Counter[Change] = field(default_factory=Counter)
    incomplete: int = 0
    seconds: float = 0.0

    @property
    def items(self) -> int:
        return sum(step.items for step in self.steps)

    @property
    def changed(self) -> int:
        return sum(step.changed for step in self.steps)

    @property
    def timeouts(self) -> int:
        return sum(step.timeouts for step in self.steps)

    @property
    def not_rescorable(self) -> int:
        return sum(step.not_rescorable for step in self.steps)

    def top_changes(self, count: int = TOP_CHANGES) -> list[tuple[Change, int]]:
        """The ``count`` most frequent changes, with their item counts."""
        return self.changes.most_common(count)


def parse_steps(text: str) -> range:
    """The steps ``A:B`` names, from A up to but not including B, as a Python slice
    (``A:`` from A on, ``:B`` up to B).

    Raises:
        ValueError: ``text`` is not of that form (the message is one line).
    """
    start, colon, stop = text.partition(":")
    try:
        first = int(start) if start.strip() else 0
        end = int(stop) if stop.strip() else LAST_STEP + 1
    except ValueError:
        first = end = -1
    if not colon or first < 0 or end < first:
        raise ValueError(f"steps {text!r}: expected A:B, whole numbers with A <= B (A: or :B)")
    return range(first, end)


def _ignore_progress(summary: StepSummary, done: int, total: int) -> None:
    """The default ``on_step``."""


async def rescore(
    record: Record,
    scorer: Scorer,
    scorer_version: str,
    steps: Container[int] | None = None,
    out: Path | None = None,
    on_step: Callable[[StepSummary, int, int], None] = _ignore_progress,
) -> RescoreSummary:
    """Re-score ``steps`` of ``record`` (all by default) with ``scorer``.

    Args:
        record: the record to re-score.
        scorer: the batch scorer to score with (``open_batch_scorer``'s).
        scorer_version: the version ``scorer`` scores as.
        steps: the steps to re-score (e.g. :func:`parse_steps`'s range; all by default).
        out: where to write the changed items (:data:`CHANGES_SCHEMA`), replaced when done.
        on_step: called after each step with its summary, the steps done and their total.

    Raises:
        PoolUnavailable: the scorer's pool stayed broken through every retry.
        OSError: ``out`` cannot be written.
    """
    started = time.monotonic()
    summary = RescoreSummary(scorer_version)
    wanted = record.held(steps)
    with _changes_file(out) as write_changes:
        for done, step in enumerate(wanted, start=1):
            incomplete = summary.incomplete
            step_summary = await _rescore_step(record, step, scorer, summary, write_changes)
            if summary.incomplete and not incomplete:
                logger.warning(
                    "record: rows without a response or label are not re-scored (the first "
                    "in step %d); they are counted as not re-scorable",
                    step,
                )
            summary.steps.append(step_summary)
            on_step(step_summary, done, len(wanted))
    summary.seconds = time.monotonic() - started
    return summary


async def _rescore_step(
    record: Record,
    step: int,
    scorer: Scorer,
    summary: RescoreSummary,
    write_changes: Callable[[list[dict[str, Any]]], None],
) -> StepSummary:
    """Read, score and compare one step: what it holds is released when this returns."""
    rows = (await asyncio.to_thread(record.read_step, step, _READ)).to_pylist()
    rescorable = [row for row in rows if not_rescorable(row) is None]
    results: list[ScoreResult] = []
    for start in range(0, len(rescorable), CHUNK_ITEMS):
        items = [_item(row) for row in rescorable[start : start + CHUNK_ITEMS]]
        results.extend(await _score_chunk(scorer, items))
    return _compare_step(step, rows, iter(results), summary, write_changes)


async def _score_chunk(scorer: Scorer, items: list[BatchItem]) -> list[ScoreResult]:
    """The chunk's results, retried while the pool is being replaced."""
    for _ in range(POOL_RETRIES - 1):
        with contextlib.suppress(PoolUnavailable):
            return (await scorer.score(items)).results
        await asyncio.sleep(POOL_RETRY_PAUSE_S)
    return (await scorer.score(items)).results


def not_rescorable(row: Mapping[str, Any]) -> str | None:
    """Why a recorded row is left as it was, or None when the scorer judges it again."""
    if row["status"] == "error" and row["error"] == PROMPT_NOT_FOUND:
        return "the route's verdict"
    if row["response"] is None or row["ground_truth"] is None:
        return "incomplete"
    return None


def _item(row: Mapping[str, Any]) -> BatchItem:
    weights = row["weights"]
    complete = weights is not None and None not in weights.values()
    return BatchItem(
        row["response"], row["ground_truth"], {WEIGHTS_KEY: weights} if complete else None
    )


def outcome(before: Mapping[str, Any], after: ScoreResult) -> str:
    """``"timeout"`` when either side timed out, else ``"changed"`` or ``"same"``."""
    if before["status"] == "timeout" or after.status == "timeout":
        return "timeout"
    for name in COMPARED:
        old, new = before[name], getattr(after, name)
        if name == "score" and old is not None:
            if not math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-9):
                return "changed"
        elif old != new:
            return "changed"
    return "same"


def _compare_step(
    step: int,
    rows: list[dict[str, Any]],
    results: Iterator[ScoreResult],
    summary: RescoreSummary,
    write_changes: Callable[[list[dict[str, Any]]], None],
) -> StepSummary:
    """Each row against its result (``results`` holds one per re-scorable row, in order)."""
    changed: list[dict[str, Any]] = []
    timeouts = left = 0
    rewards_after: list[float] = []
    for row in rows:
        summary.recorded_versions[row["scorer_version"]] += 1
        why_not = not_rescorable(row)
        if why_not is not None:
            left += 1
            summary.incomplete += why_not == "incomplete"
            rewards_after.append(row["score"] or 0.0)
            continue
        result = next(results)
        rewards_after.append(result.score)
        kind = outcome(row, result)
        timeouts += kind == "timeout"
        if kind == "changed":
            changed.append(_change_row(row, result, summary.scorer_version))
            _count_change(summary.changes, _change(row, result))
    write_changes(changed)
    return StepSummary(
        step,
        len(rows),
        len(changed),
        timeouts,
        left,
        _mean(row["score"] or 0.0 for row in rows),
        _mean(rewards_after),
    )


def _mean(values: Iterable[float]) -> float:
    numbers = list(values)
    return sum(numbers) / len(numbers) if numbers else math.nan


def _change_row(row: dict[str, Any], result: ScoreResult, version: str) -> dict[str, Any]:
    changed = {name: row[name] for name in CONTEXT}
    for name in SIDES:
        changed[f"{name}_before"] = row[name]
        changed[f"{name}_after"] = getattr(result, name)
    changed["scorer_version_before"] = row["scorer_version"]
    changed["scorer_version_after"] = version
    return changed


def _signals(verify: Any, format_: Any, reflect: Any, verdict: Any, status: Any) -> str:
    said = f"says {verdict}" if verdict else "says nothing"
    text = f"verify {verify} format {format_} reflect {reflect}, {said}"
    return text if status == "ok" else f"{text} ({status})"


def _change(row: Mapping[str, Any], result: ScoreResult) -> Change:
    answer = row["pred"] if row["pred"] is not None else result.pred
    return Change(
        (answer or "")[:ANSWER_CHARS],
        row["ground_truth"][:ANSWER_CHARS],
        _signals(row["verify"], row["format"], row["reflect"], row["verdict"], row["status"]),
        _signals(result.verify, result.format, result.reflect, result.verdict, result.status),
    )


def _count_change(changes: Counter[Change], change: Change) -> None:
    changes[change] += 1
    if len(changes) > CHANGES_KEPT:
        for rare, _ in changes.most_common()[CHANGES_KEPT // 2 :]:
            del changes[rare]


@contextlib.contextmanager
def _changes_file(path: Path | None) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """A writer of changed rows into ``path`` (0o600), which appears only when complete."""
    if path is None:
        yield lambda rows: None
        return
    temp = path.with_name(temp_name(path.name))
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    os.fchmod(descriptor, 0o600)
    try:
        with (
            open(descriptor, "wb") as sink,
            pq.ParquetWriter(sink, CHANGES_SCHEMA, compression="zstd") as writer,
        ):

            def write(rows: list[dict[str, Any]]) -> None:
                if rows:
                    writer.write_table(pa.Table.from_pylist(rows, CHANGES_SCHEMA))

            yield write
        os.rename(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise

"""Re-scoring a record through the service's batch scorer: what changed, and only that."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import stat
import tracemalloc
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reward_service.engine import BatchItem, open_batch_scorer
from reward_service.record import FILE_SCHEMA, Record, RecordWriter, ScoredBatch, open_record
from reward_service.record.files import data_files, step_folder
from reward_service.record.rescore import (
    CHANGES_SCHEMA,
    LAST_STEP,
    RescoreSummary,
    StepSummary,
    parse_steps,
    rescore,
)
from reward_service.scoring import RewardWeights, ScoreResult, scorer_version
from reward_service.settings import ServiceSettings
from reward_service.stats.step import ScoredItem
from tests.record.helpers import items

SETTINGS = ServiceSettings(workers=2, item_timeout_s=0.5)
ODD_WEIGHTS = RewardWeights(alpha=2.0, beta=0.5, gamma=0.1)
HANGS = "9^{9^{9^{9^{9}}}}"
"""An answer whose verification runs past any CPU limit."""

Alter = Callable[[list[ScoreResult]], list[ScoreResult]]
Step = tuple[Sequence[ScoredItem], RewardWeights, Alter]


def unchanged(results: list[ScoreResult]) -> list[ScoreResult]:
    return results


async def score_into(root: Path, steps: dict[int, Step]) -> None:
    """Score each step with the service's scorer and record it, as the service would."""
    async with open_batch_scorer(SETTINGS) as scorer:
        with RecordWriter(root, "replica") as writer:
            for step, (scored, weights, alter) in steps.items():
                batch = [BatchItem(item.response, item.ground_truth) for item in scored]
                results = alter((await scorer.score(batch, weights)).results)
                recorded = ScoredBatch(scored, results, weights, "/score", scorer_version(), 0.0)
                writer.append(step, recorded)


def rescored(
    record: Record | Path, steps: Container[int] | None = None, out: Path | None = None
) -> RescoreSummary:
    async def run() -> RescoreSummary:
        async with open_batch_scorer(SETTINGS) as scorer:
            chosen = open_record(record) if isinstance(record, Path) else record
            return await rescore(chosen, scorer, scorer_version(), steps, out)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three steps scored and recorded by today's scorer, the last with other weights."""
    root = tmp_path_factory.mktemp("record")
    default = RewardWeights()
    steps = {
        0: (items(48, seed=0), default, unchanged),
        1: (items(48, seed=1), default, unchanged),
        2: (items(48, seed=2), ODD_WEIGHTS, unchanged),
    }
    asyncio.run(score_into(root, steps))
    return root


def test_a_record_as_written_rescores_unchanged(written: Path, tmp_path: Path) -> None:
    summary = rescored(written, out=tmp_path / "changes.parquet")
    assert [(step.step, step.items, step.changed, step.timeouts) for step in summary.steps] == [
        (0, 48, 0, 0),
        (1, 48, 0, 0),
        (2, 48, 0, 0),
    ]
    assert all(step.mean_before == pytest.approx(step.mean_after) for step in summary.steps)
    assert summary.recorded_versions == {scorer_version(): 144}
    changes = pq.read_table(tmp_path / "changes.parquet")
    assert changes.num_rows == 0
    assert changes.schema.names == CHANGES_SCHEMA.names
    assert stat.S_IMODE((tmp_path / "changes.parquet").stat().st_mode) == 0o600


def alter_file(path: Path, alter: Callable[[list[dict[str, Any]]], None]) -> None:
    rows = pq.read_table(path).to_pylist()
    alter(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=FILE_SCHEMA), path, compression="zstd")


def test_exactly_the_rows_altered_by_hand_are_found(written: Path, tmp_path: Path) -> None:
    copy = tmp_path / "record"
    shutil.copytree(written, copy)
    original = open_record(copy).read_step(1).to_pylist()

    def alter(rows: list[dict[str, Any]]) -> None:
        rows[3]["verify"] = 1 - rows[3]["verify"]
        rows[5]["verdict"] = "wrong" if rows[5]["verdict"] == "correct" else "correct"
        rows[7]["score"] += 1.0

    [path] = data_files(step_folder(copy, 1))
    alter_file(path, alter)
    summary = rescored(copy, out=tmp_path / "changes.parquet")
    assert [step.changed for step in summary.steps] == [0, 3, 0]
    assert sum(summary.changes.values()) == 3
    changes = pq.read_table(tmp_path / "changes.parquet").to_pylist()
    assert [(row["step"], row["item"]) for row in changes] == [(1, 3), (1, 5), (1, 7)]
    for row in changes:
        before = original[row["item"]]
        assert row["response"] == before["response"]
        assert (row["verify_after"], row["verdict_after"], row["score_after"]) == (
            before["verify"],
            before["verdict"],
            pytest.approx(before["score"]),
        )
        assert row["scorer_version_before"] == row["scorer_version_after"] == scorer_version()
    assert changes[0]["verify_before"] == 1 - original[3]["verify"]
    assert changes[2]["score_before"] == pytest.approx(original[7]["score"] + 1.0)
    only_step_1 = rescored(copy, steps=parse_steps("1:2"))
    assert [(step.step, step.changed) for step in only_step_1.steps] == [(1, 3)]


def response_with(answer: str) -> ScoredItem:
    reflection = "<reflection>The answer is correct.</reflection>"
    return ScoredItem(f"<think>P = kAV^3</think> \\boxed{{{answer}}} {reflection}", "12.8")


def test_a_timeout_on_either_side_is_counted_apart(tmp_path: Path) -> None:
    """Recorded timeout, re-scored ok; recorded ok, re-scored timeout; timeout both times:
    three timeouts, no changed verdict."""
    scored = [response_with("12.8"), response_with(HANGS), response_with(HANGS)]

    def alter(results: list[ScoreResult]) -> list[ScoreResult]:
        assert [result.status for result in results] == ["ok", "timeout", "timeout"]
        return [
            dataclasses.replace(results[0], status="timeout", verify=0, score=0.4),
            results[1],
            dataclasses.replace(results[2], status="ok", error=None),
        ]

    asyncio.run(score_into(tmp_path, {0: (scored, RewardWeights(), alter)}))
    [step] = rescored(tmp_path).steps
    assert (step.items, step.changed, step.timeouts) == (3, 0, 3)


@dataclasses.dataclass(frozen=True)
class WatchedRecord(Record):
    """A record that notes each step it reads, beside the progress reports."""

    events: list[str] = dataclasses.field(default_factory=list)

    def read_step(self, step: int, columns: Sequence[str] | None = None) -> pa.Table:
        self.events.append(f"read {step}")
        return super().read_step(step, columns)


def test_steps_are_read_and_scored_one_at_a_time(written: Path) -> None:
    record = WatchedRecord(open_record(written).folders)

    def progress(summary: StepSummary, done: int, total: int) -> None:
        record.events.append(f"scored {summary.step} ({done}/{total})")

    async def run() -> None:
        async with open_batch_scorer(SETTINGS) as scorer:
            await rescore(record, scorer, scorer_version(), on_step=progress)

    asyncio.run(run())
    assert record.events == [
        "read 0",
        "scored 0 (1/3)",
        "read 1",
        "scored 1 (2/3)",
        "read 2",
        "scored 2 (3/3)",
    ]


def test_memory_is_one_steps_whatever_the_record_holds(tmp_path: Path) -> None:
    steps = {step: (items(96, seed=step), RewardWeights(), unchanged) for step in range(6)}
    asyncio.run(score_into(tmp_path, steps))
    record = open_record(tmp_path)

    async def peaks() -> list[int]:
        no_cache = SETTINGS.model_copy(update={"cache_size": 0})  # its bound is its own
        async with open_batch_scorer(no_cache) as scorer:
            await rescore(record, scorer, scorer_version(), [5])  # what a first run allocates
            measured = []
            tracemalloc.start()
            for chosen in ([0], range(6)):
                tracemalloc.reset_peak()
                assert (await rescore(record, scorer, scorer_version(), chosen)).changed == 0
                measured.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            return measured

    one_step, six_steps = asyncio.run(peaks())
    assert six_steps < 1.5 * one_step


@pytest.mark.parametrize(
    ("text", "steps"),
    [("400:420", range(400, 420)), ("400:", range(400, LAST_STEP + 1)), (":5", range(5))],
)
def test_steps_a_to_b_read_as_a_python_slice(text: str, steps: range) -> None:
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text", ["420:400", "5", "a:b", "-1:3", ""])
def test_steps_that_are_no_range_are_one_line(text: str) -> None:
    with pytest.raises(ValueError, match="expected A:B"):
        parse_steps(text)


def test_a_changes_file_that_cannot_be_written_leaves_nothing_behind(
    written: Path, tmp_path: Path
) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError):
        rescored(written, out=tmp_path / "taken")
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]

"""A record written by the real scorer 0.2.0 (from the repository's history), re-scored by
today's: exactly the verdicts 0.3.0 changed are found."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reward_service.engine import open_batch_scorer
from reward_service.record import RecordWriter, ScoredBatch, open_record
from reward_service.record.rescore import Change, RescoreSummary, outcome, rescore
from reward_service.scoring import MultiSignalMathReward, RewardWeights, ScoreResult, scorer_version
from reward_service.settings import ServiceSettings
from reward_service.stats.step import ScoredItem

REPO = Path(__file__).parents[2]
SCORER_0_2_0 = "8da7f2e9e64a9a3588447153751507b87e6ab3bf"
"""main just before issue 16's merge (d951f2d^1): the last scorer released as 0.2.0, whose
verdicts 0.3.0 changed (answer normalisation, the reflection reader, whole-answer parsing)."""

CHANGED_BY_0_3_0 = [  # (answer, label, reflection)
    ("1\\,000", "1000", "The answer is correct."),
    ("4 \\text{ million}", "4000000", "The answer is correct."),
    ("0.\\overline{6}", "\\frac{2}{3}", "The answer is correct."),
    ("13 = 12.8", "12.8", "The answer is correct."),
    ("\\frac{64}{5}", "12.8", "I have no doubt this is correct."),
    ("13", "12.8", "That's not right."),
    ("12.8", "12.8", "Is the answer correct? No."),
    ("12.8", "12.8", "答案是对的。"),
]
KEPT_BY_0_3_0 = [
    ("12.8", "12.8", "The answer is correct."),
    ("13", "12.8", "The answer is wrong."),
    ("80\\%", "80\\%", "The answer is correct."),
    ("0.8", "80", "The answer is correct."),
]
OLD_SCORER = """
import json, sys
from importlib.metadata import version
import reward_service
from reward_service.scoring import MultiSignalMathReward
reward = MultiSignalMathReward()
print(json.dumps([reward_service.__file__, f"reward-service {reward_service.__version__}; "
                  f"math-verify {version('math-verify')}"]))
for line in sys.stdin:
    print(json.dumps(reward.score(*json.loads(line)).to_dict()))
"""


def response(answer: str, reflection: str) -> str:
    return f"<think>V^3 = 2048</think> \\boxed{{{answer}}} <reflection>{reflection}</reflection>"


@pytest.fixture(scope="module")
def scorer_0_2_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as it was at :data:`SCORER_0_2_0`, unpacked from git."""
    history = shutil.which("git") and subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{SCORER_0_2_0}^{{commit}}"],
        capture_output=True,
    )
    if not history or history.returncode != 0:
        pytest.skip(f"no git history holding {SCORER_0_2_0[:7]} (scorer 0.2.0) in {REPO}")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", SCORER_0_2_0, "reward_service"],
        capture_output=True,
        check=True,
    ).stdout
    folder = tmp_path_factory.mktemp("scorer-0.2.0")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def score_with(package: Path, pairs: list[tuple[str, str]]) -> tuple[str, list[ScoreResult]]:
    """Score ``pairs`` (response, label) with the package in ``package``, in a process of
    its own (``-P``: nothing from the current folder), this environment's dependencies."""
    done = subprocess.run(
        [sys.executable, "-P", "-c", OLD_SCORER],
        input="".join(json.dumps(pair) + "\n" for pair in pairs),
        env={**os.environ, "PYTHONPATH": str(package)},
        capture_output=True,
        text=True,
        check=True,
    )
    first, *lines = done.stdout.splitlines()
    where, version = json.loads(first)
    assert Path(where).is_relative_to(package), where
    results = [json.loads(line) for line in lines]
    return version, [
        ScoreResult(**{**result, "format_failures": tuple(result["format_failures"])})
        for result in results
    ]


def test_rescoring_a_0_2_0_record_finds_the_verdicts_0_3_0_changed(
    scorer_0_2_0: Path, tmp_path: Path
) -> None:
    cases = CHANGED_BY_0_3_0 + KEPT_BY_0_3_0
    items = [ScoredItem(response(answer, said), label) for answer, label, said in cases]
    old_version, old_results = score_with(
        scorer_0_2_0, [(i.response, i.ground_truth) for i in items]
    )
    assert old_version.startswith("reward-service 0.2.0; ")
    record = tmp_path / "record"
    with RecordWriter(record, "replica") as writer:
        weights = RewardWeights()
        writer.append(
            0, ScoredBatch(items, old_results, weights, "/score", old_version, time.time())
        )

    async def run() -> RescoreSummary:
        async with open_batch_scorer(ServiceSettings(workers=2)) as scorer:
            out = tmp_path / "changes.parquet"
            return await rescore(open_record(record), scorer, scorer_version(), out=out)

    summary = asyncio.run(run())
    changes = pq.read_table(tmp_path / "changes.parquet").to_pylist()
    assert [row["item"] for row in changes] == list(range(len(CHANGED_BY_0_3_0)))
    today = MultiSignalMathReward()  # the same verdicts in this process
    old_rows = open_record(record).read_step(0).to_pylist()
    expected = [
        index
        for index, (row, item) in enumerate(zip(old_rows, items, strict=True))
        if outcome(row, today.score(item.response, item.ground_truth)) == "changed"
    ]
    assert [row["item"] for row in changes] == expected
    assert {row["scorer_version_before"] for row in changes} == {old_version}
    assert {row["scorer_version_after"] for row in changes} == {scorer_version()}
    assert (
        summary.changes[
            Change(
                "1\\,000",
                "1000",
                "verify 0 format 1 reflect 0, says correct",
                "verify 1 format 1 reflect 1, says correct",
            )
        ]
        == 1
    )


def test_the_rescore_command_shows_what_0_3_0_changed(
    scorer_0_2_0: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reward-service rescore`` on the 0.2.0 record: the changed items, counted per step,
    and the most frequent changes by answer and label."""
    from typer.testing import CliRunner

    from reward_service.cli import app

    cases = CHANGED_BY_0_3_0 + KEPT_BY_0_3_0
    items = [ScoredItem(response(answer, said), label) for answer, label, said in cases]
    version, results = score_with(scorer_0_2_0, [(i.response, i.ground_truth) for i in items])
    record = tmp_path / "record"
    with RecordWriter(record, "replica") as writer:
        writer.append(3, ScoredBatch(items, results, RewardWeights(), "/score", version, 0.0))
    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    done = CliRunner().invoke(app, ["rescore", str(record), "--out", str(tmp_path / "d.parquet")])
    assert done.exit_code == 0, done.output
    output = " ".join(done.output.split())
    changed = len(CHANGED_BY_0_3_0)
    assert f"│ 3 │ {len(cases)} │ {changed} │ 0 │" in output
    assert f"{len(cases)} items in 1 step: {changed} changed" in output
    assert f"recorded by: {version} ({len(cases)})" in output
    table = done.output.split("Most frequent changes", 1)[1]
    cells = [line.strip("│").split("│") for line in table.splitlines() if line.startswith("│")]
    shown = [(answer.strip(), label.strip()) for answer, label, *_ in cells if answer.strip()]
    assert shown == [(answer, label) for answer, label, _ in CHANGED_BY_0_3_0]
    assert pq.read_table(tmp_path / "d.parquet").num_rows == changed

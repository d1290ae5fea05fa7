"""Reward statistics: exact on a hand-built batch, merged per step, served and reported."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from reward_service.scoring import MultiSignalMathReward
from reward_service.stats import StatsRecorder, StepStats, merge_by_step, read_jsonl
from tests.conftest import make_response

REWARD = MultiSignalMathReward()
BATCH = [
    make_response("12.8", "The answer is correct."),  # right, says correct
    make_response("12.8", "The answer is wrong."),  # right, says wrong
    make_response("12", "The answer is wrong."),  # wrong, says wrong
    make_response("12", "The answer is correct."),  # wrong, says correct
    "\\boxed{12.8}",  # right, no reflection, no format
    "no answer at all",  # wrong, nothing
]


@pytest.fixture
def results():
    return [REWARD.score(response, "12.8") for response in BATCH]


def test_batch_statistics_are_exact(results) -> None:
    stats = StepStats.of_batch(7, results, latency_ms=12.5, now=1000.0).to_dict()
    assert stats["items"] == 6 and stats["step"] == 7 and stats["latency_ms"] == 12.5
    assert stats["signal_sums"] == {
        "verify": 3,
        "format": 4,
        "reflect": 2,
        "score": pytest.approx(4.2),
    }
    assert stats["means"]["verify"] == pytest.approx(0.5)
    assert stats["answers"] == {"12.8": 3, "12": 2, "(no answer)": 1}
    assert stats["calibration"] == {
        "right_correct": 1,
        "right_wrong": 1,
        "right_none": 1,
        "wrong_correct": 1,
        "wrong_wrong": 1,
        "wrong_none": 1,
    }
    assert stats["calibrated_share"] == pytest.approx(2 / 6)
    assert stats["format_failures"] == {
        "think_first": 2,
        "think_block": 2,
        "boxed_answer": 2,
        "reflection_block": 2,
        "clean_ending": 2,
    }
    assert stats["format_failure_rates"]["think_first"] == pytest.approx(2 / 6)
    assert (stats["timeouts"], stats["errors"]) == (0, 0)


def test_batches_of_one_step_merge(results) -> None:
    first = StepStats.of_batch(3, results[:2], 1.0, 1.0)
    second = StepStats.of_batch(3, results[2:], 2.0, 2.0)
    third = StepStats.of_batch(4, results, 4.0, 3.0)
    merged = merge_by_step([first, second, third])
    whole = StepStats.of_batch(3, results, 3.0, 2.0).to_dict()
    assert merged[0].to_dict() == {**whole, "batches": 2}
    assert [s.step for s in merged] == [3, 4]


def test_recorder_numbers_untagged_batches_and_keeps_latest(results, tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(max_steps=2, latest_items=3, jsonl_path=path)
    for step in (None, None, 10, 10, None):
        recorder.record(results, BATCH, step, 1.0)
    snapshot = recorder.snapshot()
    assert [s["step"] for s in snapshot["steps"]] == [10, 11]  # bounded: 0 and 1 dropped
    assert snapshot["steps"][0]["items"] == 12 and snapshot["steps"][0]["batches"] == 2
    assert [item["pred"] for item in snapshot["latest"]] == ["12", "12.8", None]
    assert [s.step for s in read_jsonl(path)] == [0, 1, 10, 11]  # the file keeps everything
    assert recorder.snapshot(limit=1)["steps"][0]["step"] == 11


def test_stats_endpoint_after_scoring(client: httpx.Client) -> None:
    items = [{"response": response, "ground_truth": "12.8"} for response in BATCH]
    client.post("/score", json={"items": items, "step": 900})
    client.post("/score", json={"items": items, "step": 900})
    steps = client.get("/stats").json()["steps"]
    step = next(s for s in steps if s["step"] == 900)
    assert step["items"] == 12 and step["batches"] == 2
    assert step["calibration"]["right_correct"] == 2
    assert client.get("/stats", params={"limit": 0}).status_code == 422


@pytest.mark.report
def test_png_report(results, tmp_path: Path) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from reward_service.cli import app
    from reward_service.stats.report import DPI, FIGURE_SIZE_IN

    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(jsonl_path=path)
    for step in range(5):
        recorder.record(results[: step + 2], BATCH[: step + 2], step, 5.0)
    output = tmp_path / "report.png"
    result = CliRunner().invoke(app, ["report", str(path), "-o", str(output)])
    assert result.exit_code == 0, result.output
    with Image.open(output) as image:
        assert image.size == (FIGURE_SIZE_IN[0] * DPI, FIGURE_SIZE_IN[1] * DPI)
        assert len(image.convert("L").getcolors(256)) > 10  # drawn, not blank


@pytest.mark.report
def test_report_refuses_an_empty_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reward_service.cli import app

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(app, ["report", str(empty)])
    assert result.exit_code != 0 and "no statistics" in result.output


def test_unwritable_stats_file_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        StatsRecorder(jsonl_path=blocker / "stats.jsonl")


@pytest.mark.report
def test_report_skips_and_names_a_malformed_line(results, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reward_service.cli import app

    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(jsonl_path=path)
    recorder.record(results[:2], BATCH[:2], 1, 5.0)
    with path.open("ab") as sink:
        sink.write(b'{"no": "step"}\n{"step": 2, "cut off\n')
    recorder.record(results[:3], BATCH[:3], 2, 5.0)
    output = tmp_path / "report.png"
    result = CliRunner().invoke(app, ["report", str(path), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert f"{path}:2: skipped" in result.output.replace("\n", "")
    assert f"{path}:3: skipped" in result.output.replace("\n", "")
    assert [s.step for s in read_jsonl(path)] == [1, 2]


def test_statistics_keep_short_answers_whatever_the_model_writes() -> None:
    from reward_service.stats import ANSWER_CHARS_KEPT, ANSWERS_KEPT, RESPONSE_CHARS_KEPT

    recorder = StatsRecorder(max_steps=3)
    for step in range(10):
        responses = [f"\\boxed{{{str(step) * 65_000}{k}}}" for k in range(60)]
        recorder.record([REWARD.score(r, "1") for r in responses], responses, step, 1.0)
    snapshot = recorder.snapshot()
    assert [s["step"] for s in snapshot["steps"]] == [7, 8, 9]
    for step in snapshot["steps"]:
        assert len(step["answers"]) <= ANSWERS_KEPT
        assert all(len(answer) <= ANSWER_CHARS_KEPT for answer in step["answers"])
    assert all(len(item["response"]) <= RESPONSE_CHARS_KEPT for item in snapshot["latest"])
    assert len(orjson.dumps(snapshot)) < 100_000  # what /stats sends stays small


@pytest.mark.report
def test_report_step_axes_show_whole_steps(results, tmp_path: Path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    from reward_service.stats.report import write_report

    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(jsonl_path=path)
    for step in (3, 4, 5):
        recorder.record(results, BATCH, step, 1.0)
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    write_report(path, tmp_path / "report.png")
    (figure,) = figures
    for axis in figure.axes:
        ticks = [tick for tick in axis.get_xticks() if 3 <= tick <= 5]
        assert ticks and all(float(tick).is_integer() for tick in ticks)

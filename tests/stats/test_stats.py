"""Reward statistics: exact on a hand-built batch, merged per step in any split, numbered when
untagged, served bounded in bytes, and drawn into the PNG report."""

from __future__ import annotations

import dataclasses
import pickle
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.scoring import MultiSignalMathReward
from reward_service.settings import ServiceSettings
from reward_service.stats import (
    STATS_MAX_BYTES,
    BatchRecord,
    ScoredItem,
    StatsRecorder,
    StepStats,
    merge_by_step,
    read_jsonl,
)
from reward_service.stats.panels import RIGHT_ANSWER_COLORS, WRONG_ANSWER_COLORS
from reward_service.stats.report import summary_lines
from reward_service.stats.step import SOURCE_CHARS_KEPT
from reward_service.stats.view import ANSWERS_SHOWN, LAST_STEP_ANSWERS, served_json, stats_view
from tests.conftest import make_response

REWARD = MultiSignalMathReward()
BATCH = [
    make_response("12.8", "The answer is correct."),  # right, says correct
    make_response("\\frac{64}{5}", "The answer is wrong."),  # right, says wrong
    make_response("12", "The answer is wrong."),  # wrong, says wrong
    make_response("12.0", "The answer is correct."),  # wrong, says correct
    "\\boxed{12.80}",  # right, no reflection, no format
    "no answer at all",  # wrong, nothing
]
GROUPS = ["a", "a", "a", "b", "b", "b"]
TOKENS = [100, 200, 300, 400, 500, 600]
CUT = [False, False, True, None, None, True]
SOURCES = ["pi1", "pi1", "math500", None, "pi1", "math500"]


def items_of(responses: list[str], label: str = "12.8") -> list[ScoredItem]:
    return [
        ScoredItem(response, label, source, group, tokens, cut)
        for response, source, group, tokens, cut in zip(
            responses, SOURCES, GROUPS, TOKENS, CUT, strict=False
        )
    ]


@pytest.fixture
def results():
    return [REWARD.score(response, "12.8") for response in BATCH]


def test_batch_statistics_are_exact(results) -> None:
    stats = StepStats.of_batch(7, items_of(BATCH), results, latency_ms=12.5, now=1000.0)
    record = stats.to_dict()
    assert record["items"] == 6 and record["step"] == 7 and record["latency_ms"] == 12.5
    assert record["signal_sums"] == {
        "verify": 3,
        "format": 4,
        "reflect": 2,
        "score": pytest.approx(4.2),
    }
    # three forms of 12.8 are one right answer; 12 and 12.0 one wrong answer
    assert record["right_answers"] == {"12.8": 3}
    assert record["wrong_answers"] == {"12": 2, "(no answer)": 1}
    assert record["calibration"] == {
        "right_correct": 1,
        "right_wrong": 1,
        "right_none": 1,
        "wrong_correct": 1,
        "wrong_wrong": 1,
        "wrong_none": 1,
    }
    assert record["format_failures"] == {
        "think_first": 2,
        "think_block": 2,
        "boxed_answer": 2,
        "reflection_block": 2,
        "clean_ending": 2,
    }
    assert (record["timeouts"], record["errors"]) == (0, 0)
    assert record["lengths"]["tokens"] == sum(TOKENS) and record["lengths"]["tokens_max"] == 600
    assert record["lengths"]["chars"] == sum(len(r) for r in BATCH)
    assert record["truncation"] == {"truncated": 2, "truncation_reported": 4}
    assert record["sources"]["pi1"][:2] == [3, 3] and record["sources"]["(none)"][:2] == [1, 0]
    row = stats_view([stats])["series"]
    assert row["says_wrong"] == [pytest.approx(2 / 6, abs=1e-4)]
    assert row["says_correct"] == [pytest.approx(2 / 6, abs=1e-4)]
    assert row["distinct_answers"] == [2]  # 12.8 and 12
    assert row["groups"] == [2] and row["group_size"] == [3]
    # group a: right, right, wrong -> pass; group b: wrong, right, wrong -> pass
    assert row["pass_at_k"] == [1.0] and row["mean_at_k"] == [pytest.approx(0.5)]
    assert row["zero_variance"] == [0.0]
    assert row["length_mean"] == [350.0] and row["truncated"] == [0.5]


def test_any_split_and_order_of_a_step_merges_to_the_same_counts(results) -> None:
    rng = random.Random(0)
    items = items_of(BATCH) * 40  # groups a and b, 120 samples each
    scored = results * 40
    whole = StepStats.of_batch(3, items, scored, 0.0, 1.0).to_dict()
    score = whole["signal_sums"].pop("score")  # a float sum: equal up to rounding
    for _ in range(20):
        order = list(range(len(items)))
        rng.shuffle(order)
        cuts = sorted(rng.sample(range(1, len(items)), 9))
        parts = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]
        batches = [
            StepStats.of_batch(3, [items[i] for i in p], [scored[i] for i in p], 0.0, 1.0)
            for p in parts
        ]
        rng.shuffle(batches)
        (merged,) = merge_by_step(batches)
        record = merged.to_dict()
        assert record["signal_sums"].pop("score") == pytest.approx(score, rel=1e-12)
        assert record == {**whole, "batches": 10}


def test_the_record_round_trips_through_json(results) -> None:
    stats = StepStats.of_batch(5, items_of(BATCH), results, 1.5, 2.5)
    again = StepStats.from_dict(orjson.loads(orjson.dumps(stats.to_dict())))
    assert again == stats


def test_a_record_of_the_previous_version_still_loads() -> None:
    old = {
        "step": 1,
        "time": 1.0,
        "batches": 1,
        "items": 1,
        "signal_sums": {"verify": 1, "format": 1, "reflect": 1, "score": 1.4},
        "format_failures": dict.fromkeys(
            ("think_first", "think_block", "boxed_answer", "reflection_block", "clean_ending"), 0
        ),
        "answers": {"12.8": 1},
        "calibration": dict.fromkeys(
            ("right_correct", "right_wrong", "right_none", "wrong_correct", "wrong_wrong"), 0
        )
        | {"wrong_none": 1},
        "timeouts": 0,
        "errors": 0,
        "latency_ms": 3.0,
    }
    stats = StepStats.from_dict(old)
    assert stats.items == 1 and stats.groups.groups == {} and stats.sources == {}


def test_untagged_batches_are_steps_separated_by_quiet_gaps(results, tmp_path: Path) -> None:
    """The recorder's policy: untagged batches less than the gap apart are one step."""
    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(max_steps=3, latest_items=3, jsonl_path=path, untagged_gap_s=10)
    items = items_of(BATCH)
    arrivals = [(None, 0.0), (None, 9.0), (None, 18.5), (None, 30.0), (10, 31.0), (None, 32.0)]
    for step, now in arrivals:
        recorder.record(items, results, step, 1.0, now=now)
    recorder.record(items, results, None, 1.0, now=50.0)  # after a gap: one past the highest
    snapshot = recorder.snapshot()
    # 0: t=0, 9, 18.5 (each within 10 s of the one before); 1: t=30; 10: tagged, and the
    # untagged batch 1 s later joins it; 11: after a quiet gap. Only 3 steps are kept.
    assert snapshot["steps"] == [1, 10, 11]
    assert snapshot["series"]["batches"] == [1, 2, 1]
    assert [s.step for s in read_jsonl(path)] == [0, 1, 10, 11]  # the file keeps everything
    assert [s.items for s in read_jsonl(path)] == [18, 6, 12, 6]
    assert [item["pred"] for item in snapshot["latest"]] == ["12.0", "12.80", None]
    assert recorder.snapshot(limit=1)["steps"] == [11]


def test_the_caller_learns_the_step_each_batch_was_counted_in(results) -> None:
    """``on_step`` is told the step /stats counts the batch in: the trainer's, or the number
    the quiet-gap policy gave it (what the record files the batch under)."""
    recorder = StatsRecorder(untagged_gap_s=10)
    told: list[int | None] = []
    arrivals = [(None, 0.0), (None, 9.0), (None, 30.0), (10, 31.0), (None, 32.0), (None, 50.0)]
    for step, now in arrivals:
        recorder.record(items_of(BATCH), results, step, 1.0, now=now, on_step=told.append)
    assert told == [0, 0, 1, 10, 10, 11]
    counted = Counter(told)
    assert {s["step"]: s["batches"] for s in recorder.step_counts()} == counted


def test_a_batch_record_sent_elsewhere_counts_as_if_recorded_there(
    results, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a Ray Serve replica sends the keeper (pickled, as Ray ships it) is numbered,
    counted and listed by the keeper's recorder exactly as the batch recorded there (both
    made in the same millisecond, where their row numbers start)."""
    with monkeypatch.context() as frozen:
        frozen.setattr(time, "time_ns", lambda: 1_796_614_095_000_000_000)
        here, keeper = StatsRecorder(untagged_gap_s=10), StatsRecorder(untagged_gap_s=10)
    timed_out = dataclasses.replace(results[0], status="timeout", verify=0, error="too slow")
    scored = (items_of(BATCH), [timed_out, *results[1:]])
    for step, now in ((3, 1.0), (None, 2.0), (None, 30.0)):
        here.record(*scored, step, 1.0, now=now)
        sent = pickle.dumps(BatchRecord.of(*scored, step, 1.0, now=now))
        keeper.add(pickle.loads(sent))
    assert [(s["step"], s["batches"]) for s in keeper.step_counts()] == [(3, 2), (4, 1)]
    assert keeper.step_counts() == here.step_counts()
    view = here.snapshot()
    assert keeper.snapshot() == view and len(view["latest"]) == 12 and len(view["failed"]) == 3
    for row in (view["latest"][0], view["failed"][0]):
        assert keeper.response(row["id"]) == here.response(row["id"]) is not None


def test_a_late_batch_joins_its_step_wherever_it_is(results) -> None:
    recorder = StatsRecorder()
    for step in (4, 5, 4, 6, 5):
        recorder.record(items_of(BATCH), results, step, 1.0)
    snapshot = recorder.snapshot()
    assert snapshot["steps"] == [4, 5, 6] and snapshot["series"]["batches"] == [2, 2, 1]


def test_stats_endpoint_after_scoring(client: httpx.Client) -> None:
    items = [
        {"response": r, "ground_truth": "12.8", "group": g, "response_tokens": t}
        for r, g, t in zip(BATCH, GROUPS, TOKENS, strict=True)
    ]
    client.post("/score", json={"items": items, "step": 900})
    client.post("/score", json={"items": items, "step": 900})
    view = client.get("/stats").json()
    index = view["steps"].index(900)
    series = view["series"]
    assert series["items"][index] == 12 and series["batches"][index] == 2
    assert series["cell.right_correct"][index] == 2
    assert series["groups"][index] == 2 and series["group_size"][index] == 6
    assert view["length_unit"] == "tokens"
    assert {panel["id"] for panel in view["panels"]} >= {"answers", "groups", "health", "length"}
    assert client.get("/stats", params={"limit": 0}).status_code == 422


def _control_character_steps(recorder: StatsRecorder, steps: int) -> None:
    """Steps whose answers, responses, data sources and groups are control characters (JSON
    escapes each as 6 bytes) and long, all different, some of them timed out. The results
    are the scorer's for such a response, with each step's own answer."""
    template = REWARD.score("\\boxed{\x01}" + "\x02" * 3000, "1")
    for step in range(steps):
        answers = [chr(1 + (step + k) % 30) * 200 + str(k) for k in range(60)]
        results = [
            dataclasses.replace(template, pred=a, status="timeout" if k % 7 == 0 else "ok")
            for k, a in enumerate(answers)
        ]
        items = [
            ScoredItem(
                f"\\boxed{{{a}}}" + "\x02" * 3000,
                "1",
                "\x03" * 64 + str(k % 20),
                "\x04" * 256 + str(k),
            )
            for k, a in enumerate(answers)
        ]
        recorder.record(items, results, step, 1.0)


def test_stats_are_bounded_in_bytes_as_served() -> None:
    """1,000 steps of control-character answers (6 MB on /stats before the bound)."""
    app = create_app(ServiceSettings(workers=1, stats_steps=1000))
    with serve_in_thread(app) as url:
        _control_character_steps(app.state.service.stats, 1000)
        whole = httpx.get(f"{url}/stats", timeout=60)
        one = httpx.get(f"{url}/stats", params={"limit": 1}, timeout=60)
    assert whole.status_code == one.status_code == 200
    assert len(whole.content) <= STATS_MAX_BYTES
    assert len(one.content) < 64 * 1024  # the response tables, at 3 bytes a character
    view = whole.json()
    assert len(view["steps"]) + view["steps_left_out"] == 1000
    assert "\\u0001" not in whole.text  # answers are served as U+FFFD, not as escapes
    assert all(len(answer["key"]) <= 80 for answer in view["answers"])


def test_the_byte_bound_leaves_out_the_oldest_steps(results) -> None:
    recorder = StatsRecorder()
    _control_character_steps(recorder, 200)
    body = recorder.snapshot_json(max_bytes=40_000)
    view = orjson.loads(body)
    assert len(body) <= 40_000 and view["steps_left_out"] > 0
    assert view["steps"][-1] == 199 and len(view["steps"]) + view["steps_left_out"] == 200
    # the alarms of every kept step stay whole: a seventh of the items time out (the
    # answers, alike in their first 200 characters, are 60 answers: no collapse)
    assert [alarm["kind"] for alarm in view["alarms"]] == ["scoring_failures"]
    assert view["alarms"] == [alarm.to_dict() for alarm in recorder.alarms()]
    small = served_json([StepStats.of_batch(0, items_of(BATCH), results, 1.0, 1.0)])
    assert orjson.loads(small)["steps_left_out"] == 0


def test_unwritable_stats_file_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        StatsRecorder(jsonl_path=blocker / "stats.jsonl")


def test_timed_out_and_failed_items_are_kept_for_their_table(results) -> None:
    recorder = StatsRecorder(latest_items=2, failed_items=3)
    timed_out = dataclasses.replace(results[0], status="timeout", verify=0, error="too slow")
    items = items_of(BATCH)
    for step in range(4):
        recorder.record(items, [timed_out, *results[1:]], step, 1.0)
    snapshot = recorder.snapshot()
    assert [row["step"] for row in snapshot["failed"]] == [1, 2, 3]
    row = snapshot["failed"][-1]
    assert row["status"] == "timeout" and row["error"] == "too slow"
    assert row["answer_section"].startswith("So the velocity is \\boxed{12.8}")
    assert row["answer_section"].endswith("The answer is correct.</reflection>")
    assert "response" not in row and row["response_tokens"] == 100
    assert recorder.response(row["id"])["response"] == BATCH[0]
    assert snapshot["series"]["timeouts"] == [1, 1, 1, 1]


def test_a_long_response_keeps_its_start_and_its_answer_section() -> None:
    response = make_response("12.8", think="x" * 100_000)
    recorder = StatsRecorder()
    recorder.record([ScoredItem(response, "12.8")], [REWARD.score(response, "12.8")], 0, 1.0)
    (row,) = recorder.snapshot()["latest"]
    assert row["chars"] == len(response) and "response" not in row
    assert row["answer_section"].startswith("So the velocity is \\boxed{12.8}")
    kept = recorder.response(row["id"])["response"]
    assert len(kept) < 8100 and "characters left out" in kept
    assert kept.startswith("<think>xxx") and kept.endswith("</reflection>")


def _png_run(tmp_path: Path, results) -> Path:
    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(jsonl_path=path)
    for step in range(5):
        recorder.record(items_of(BATCH)[: step + 2], results[: step + 2], step, 5.0)
    return path


@pytest.mark.report
def test_png_report(results, tmp_path: Path) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from reward_service.cli import app

    output = tmp_path / "report.png"
    result = CliRunner().invoke(
        app, ["report", str(_png_run(tmp_path, results)), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    with Image.open(output) as image:
        assert image.size[0] > 1500 and image.size[1] > 1500
        assert len(image.convert("L").getcolors(256)) > 10  # drawn, not blank


@pytest.mark.report
def test_the_report_draws_the_pages_panels_in_its_colours(
    results, tmp_path: Path, monkeypatch
) -> None:
    """The same panels, titles and series colours as the view the page draws, each legend
    below its plot (off the data), and whole steps on every step axis."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from reward_service.stats.report import write_report

    path = _png_run(tmp_path, results)
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    write_report(path, tmp_path / "report.png")
    (figure,) = figures
    figure.canvas.draw()
    view = stats_view(read_jsonl(path))
    titles = [axis.get_title(loc="left") for axis in figure.axes]
    assert [panel["title"] for panel in view["panels"]] == [
        t for t in titles if t and t not in ("Last step", "Alarms")
    ]
    for panel in view["panels"]:
        axes = [a for a in figure.axes if a.get_title(loc="left") == panel["title"]]
        (axis,) = axes
        if panel["kind"] == "range_bars":
            continue
        legend = axis.get_legend()
        assert legend is not None
        drawn = {
            text.get_text(): handle
            for text, handle in zip(legend.texts, legend.legend_handles, strict=True)
        }
        assert set(drawn) == {s["label"] for s in panel["series"]}
        for series in panel["series"]:
            handle = drawn[series["label"]]
            color = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            assert to_hex(color) == series["color"], (panel["id"], series["label"])
        below = legend.get_window_extent().y1 <= axis.get_window_extent().y0 + 1
        assert below, f"{panel['id']}: the legend overlaps the plot"
        ticks = [tick for tick in axis.get_xticks() if 0 <= tick <= 4]
        assert ticks and all(float(tick).is_integer() for tick in ticks)
        if panel["whole_numbers"]:  # counts, even when every count is zero
            assert all(float(tick).is_integer() for tick in axis.get_yticks()), panel["id"]


@pytest.mark.report
def test_report_refuses_an_empty_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reward_service.cli import app

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(app, ["report", str(empty)])
    assert result.exit_code != 0 and "no statistics" in result.output


@pytest.mark.report
def test_report_skips_and_names_a_malformed_line(results, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reward_service.cli import app

    path = tmp_path / "stats.jsonl"
    recorder = StatsRecorder(jsonl_path=path)
    recorder.record(items_of(BATCH[:2]), results[:2], 1, 5.0)
    with path.open("ab") as sink:
        sink.write(b'{"no": "step"}\n{"step": 2, "cut off\n')
    recorder.record(items_of(BATCH[:3]), results[:3], 2, 5.0)
    output = tmp_path / "report.png"
    result = CliRunner().invoke(app, ["report", str(path), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert f"{path}:2: skipped" in result.output.replace("\n", "")
    assert f"{path}:3: skipped" in result.output.replace("\n", "")
    assert [s.step for s in read_jsonl(path)] == [1, 2]


def _record_step(recorder: StatsRecorder, step: int, answers: dict[str, tuple[str, int]]) -> None:
    """``answers``: answer -> (its label, how many responses give it)."""
    items, results = [], []
    for answer, (label, count) in answers.items():
        result = REWARD.score(make_response(answer), label)
        items += [ScoredItem(make_response(answer), label)] * count
        results += [result] * count
    recorder.record(items, results, step, 1.0)


@pytest.mark.parametrize("right", [True, False], ids=["right", "wrong"])
def test_as_many_answers_of_one_kind_as_a_view_shows_get_colours_of_their_own(
    right: bool,
) -> None:
    """The most answers a view can show of one kind (the run's leaders, then the last step's
    that are new) are each dealt a colour of their own, from their kind's palette."""

    def answers(first: int, count: int, times: int) -> dict[str, tuple[str, int]]:
        values = [str(value) for value in range(first, first + count)]
        return {v: (v if right else "0", times + int(v)) for v in values}

    recorder = StatsRecorder()
    _record_step(recorder, 0, answers(1, ANSWERS_SHOWN, 10))
    _record_step(recorder, 1, answers(ANSWERS_SHOWN + 1, LAST_STEP_ANSWERS, -ANSWERS_SHOWN))
    shown = [a for a in recorder.snapshot()["answers"] if a["right"] is right]
    palette = RIGHT_ANSWER_COLORS if right else WRONG_ANSWER_COLORS
    assert len(shown) == ANSWERS_SHOWN + LAST_STEP_ANSWERS <= len(palette)
    assert sorted(a["color"] for a in shown) == sorted(palette[: len(shown)])
    # dealt in the order the answers first led a step: the run's first leader gets the first
    by_key = {a["key"]: a["color"] for a in shown}
    assert by_key[str(ANSWERS_SHOWN)] == palette[0]


def test_the_report_says_when_no_lengths_were_sent(results) -> None:
    recorder = StatsRecorder()
    recorder.record(items_of(BATCH), results, 1, 1.0)  # token counts
    recorder.record([ScoredItem(r, "12.8") for r in BATCH], results, 2, 1.0)  # none
    lines = summary_lines(recorder.snapshot())
    assert "mean length: no token counts sent   truncated \N{EN DASH}" in lines
    assert not any("None" in line for line in lines)
    recorder.record(items_of(BATCH), results, 3, 1.0)
    assert "mean length 350 tok   truncated 50.0%" in summary_lines(recorder.snapshot())


def test_token_counts_are_whole_numbers(client: httpx.Client) -> None:
    def post(tokens: object) -> int:
        item = {"response": make_response(), "ground_truth": "12.8", "response_tokens": tokens}
        return client.post("/score", json={"items": [item], "step": 901}).status_code

    assert [post(value) for value in (5, 5.0, 0)] == [200, 200, 200]
    assert [post(value) for value in (-1, 2.5, "5", True, 2**63)] == [422] * 5


def test_data_sources_that_differ_past_the_bound_stay_apart(results) -> None:
    stem = "competition_math/" + "x" * 60
    items = [
        ScoredItem(response, "12.8", data_source=f"{stem}/{'algebra' if k % 2 else 'geometry'}")
        for k, response in enumerate(BATCH)
    ]
    sources = StepStats.of_batch(1, items, results, 1.0, 0.0).sources
    assert len(sources) == 2
    assert all(len(name) <= SOURCE_CHARS_KEPT for name in sources)
    assert sum(counts[0] for counts in sources.values()) == len(BATCH)

"""The PNG report lists the alarms of the steps in the statistics file, and stays readable
whatever the file holds."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from reward_service.stats.answers import bounded_key
from reward_service.stats.report import (
    ALARMS_LISTED,
    LABEL_CHARS,
    alarm_lines,
    short_label,
    step_tick,
)
from reward_service.stats.step import SOURCE_CHARS_KEPT
from tests.conftest import make_response
from tests.stats import known_alarms
from tests.stats.test_answers import SUMS


@pytest.mark.report
def test_the_report_lists_the_alarms_the_service_served(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    from reward_service.stats.report import write_report

    stats_file = tmp_path / "stats.jsonl"
    with serve_in_thread(create_app(ServiceSettings(workers=1, stats_file=stats_file))) as url:
        for body in known_alarms.bodies():
            httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()
        view = httpx.get(f"{url}/stats").json()

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    write_report(stats_file, tmp_path / "report.png")
    (figure,) = figures
    (cell,) = [axis for axis in figure.axes if axis.get_title(loc="left") == "Alarms"]
    (text,) = cell.texts
    lines = text.get_text().splitlines()
    assert lines == alarm_lines(view)
    entries: dict[str, list[str]] = {}
    for line in lines:  # a head line, then its message's lines, indented
        if line.startswith("  "):
            entries[next(reversed(entries))].append(line.strip())
        else:
            entries[line] = []
    assert {head: " ".join(words) for head, words in entries.items()} == {
        "WARNING answer_collapse (open, steps 0-5)": view["alarms"][0]["message"],
        "INFO no_learning_signal (open, steps 0-5)": view["alarms"][1]["message"],
        "WARNING scoring_failures (closed, steps 0-2)": view["alarms"][2]["message"],
    }


def _alarm(kind: str, open_: bool, step: int) -> dict:
    return {
        "kind": kind,
        "severity": "warning",
        "open": open_,
        "since_step": step,
        "last_step": step + 1,
        "values": {},
        "message": "Short.",
    }


def test_past_the_listed_alarms_the_rest_are_counted() -> None:
    alarms = [_alarm("truncation", True, 90)] + [
        _alarm("scoring_failures", False, 80 - 10 * k) for k in range(ALARMS_LISTED + 2)
    ]
    lines = alarm_lines({"alarms": alarms})
    assert lines[:2] == ["WARNING truncation (open, steps 90-91)", "  Short."]
    assert len(lines) == 2 * ALARMS_LISTED + 1
    assert lines[-1] == "... and 3 more (closed) alarms"
    assert alarm_lines({"alarms": []}) == ["no alarm"]


SOURCE = "olympiads/" + "a-source-whose-name-runs-on-" * 3
"""A data source of 94 characters (the statistics keep 64)."""
STRAY = 10**12
"""One item tagged far past the run (the last step /score takes)."""


def _figure(stats_file: Path, output: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The report's figure, drawn; with no warning from its layout."""
    import matplotlib.pyplot as plt

    from reward_service.stats.report import write_report

    figures: list[Any] = []
    monkeypatch.setattr(plt, "close", figures.append)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(stats_file, output)
        (figure,) = figures
        figure.canvas.draw()
    assert [str(w.message) for w in caught] == []
    return figure


def _shown(axis: Any, ticks: list[float], labels: list[Any], limits: tuple) -> list[Any]:
    """The tick labels drawn: those of ticks within the axis's limits."""
    low, high = sorted(limits)
    return [label for tick, label in zip(ticks, labels, strict=True) if low <= tick <= high]


def _drawn_boxes(figure: Any) -> dict[tuple[int, int], list[tuple[str, Any]]]:
    """Per cell of the grid, what is drawn there: plot areas, titles, axis labels, tick
    labels and legend entries, with their boxes on the canvas."""
    renderer = figure.canvas.get_renderer()
    cells: dict[tuple[int, int], list[tuple[str, Any]]] = {}
    for axis in figure.axes:
        spec = axis.get_subplotspec()
        texts = [axis._left_title, axis.xaxis.label, axis.yaxis.label, *axis.texts]
        texts += _shown(axis, axis.get_xticks(), axis.get_xticklabels(), axis.get_xlim())
        texts += _shown(axis, axis.get_yticks(), axis.get_yticklabels(), axis.get_ylim())
        texts += axis.get_legend().texts if axis.get_legend() else []
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text()]
        if axis.axison:
            boxes.append(("plot", axis.get_window_extent(renderer)))
        cells.setdefault((spec.rowspan.start, spec.colspan.start), []).extend(boxes)
    return cells


@pytest.mark.report
def test_a_stray_step_and_long_labels_leave_the_report_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve steps of twelve items (eight wrong answers of 89 characters, alike but for
    their last digit, and four right ones; a data source of 94 characters), then one item
    tagged step 10^12. The step axes run over the thirteen steps present, the jump to the
    stray one marked; the summary is of step 11 and names the stray step; the answers and
    the data source are shortened and stay apart; no panel runs into another."""
    stats_file = tmp_path / "stats.jsonl"
    answers = [*SUMS, *["12.8"] * 4]
    items = [
        {"response": make_response(answer), "ground_truth": "12.8", "data_source": SOURCE}
        for answer in answers
    ]
    stray = {"response": make_response(), "ground_truth": "12.8"}
    with serve_in_thread(create_app(ServiceSettings(workers=1, stats_file=stats_file))) as url:
        for body in [
            *({"step": s, "items": items} for s in range(12)),
            {"step": STRAY, "items": [stray]},
        ]:
            httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()
        view = httpx.get(f"{url}/stats").json()
    figure = _figure(stats_file, tmp_path / "report.png", monkeypatch)

    by_title = {axis.get_title(loc="left"): axis for axis in figure.axes}
    (summary,) = by_title["Last step"].texts
    lines = summary.get_text().splitlines()
    assert lines[0] == "step 11 (12 items); 13 steps shown"
    assert lines[-2:] == [
        "later steps, under half the median step's items:",
        "  1,000,000,000,000 (1 item)",
    ]

    ticks = {step_tick(step) for step in view["steps"]}
    assert step_tick(STRAY) == "1e+12"
    for panel in view["panels"]:
        axis = by_title[panel["title"]]
        if panel["kind"] == "range_bars":
            continue
        assert axis.get_xlim() == (-0.5, 12.5), panel["id"]
        shown = _shown(axis, axis.get_xticks(), axis.get_xticklabels(), axis.get_xlim())
        assert shown and {label.get_text() for label in shown} <= ticks, panel["id"]
        marks = [line.get_xdata() for line in axis.get_lines() if line.get_linestyle() == ":"]
        assert [list(x) for x in marks] == [[11.5, 11.5]], panel["id"]

    bars = [label.get_text() for label in by_title[view["panels"][3]["title"]].get_yticklabels()]
    wrong = [label for label in bars if label.endswith("✗")]
    served = [answer["label"] for answer in view["answers"] if not answer["right"]]
    assert len(served) == len(set(wrong)) == len(wrong) >= 7  # the view shows 8 answers
    assert set(wrong) == {short_label(label) for label in served}
    assert all(len(label) == LABEL_CHARS and "…" in label for label in wrong)
    sources = [text.get_text() for text in by_title["Verify by data source"].get_legend().texts]
    source = short_label(bounded_key(SOURCE, SOURCE_CHARS_KEPT))
    assert source in sources and len(source) == LABEL_CHARS

    cells = _drawn_boxes(figure)
    for cell, boxes in cells.items():
        for other, others in cells.items():
            if other > cell:
                clashes = [(a, b) for a, box in boxes for b, of in others if box.overlaps(of)]
                assert clashes == [], (cell, other)


def test_a_label_keeps_its_start_and_its_end() -> None:
    assert short_label("12.8 ✓") == "12.8 ✓"
    key = "1+" * 40 + "… #0123456789ab ✗"
    assert short_label(key) == "1+1+1+1+1+1+1+1+…789ab ✗"
    assert len(short_label(key)) == LABEL_CHARS

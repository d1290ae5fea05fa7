"""The PNG report lists the alarms of the steps in the statistics file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from reward_service.stats.report import ALARMS_LISTED, alarm_lines
from tests.stats import known_alarms


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

"""The re-scoring summary as the command line prints it."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from reward_service.record.render import print_summary
from reward_service.record.rescore import Change, RescoreSummary, StepSummary


def test_the_summary_names_each_step_the_top_changes_and_both_versions() -> None:
    change = Change("1\\,000", "1000", "verify 0 format 1 reflect 0, says correct", "verify 1")
    summary = RescoreSummary(
        scorer_version="reward-service 0.3.0",
        recorded_versions=Counter({"reward-service 0.2.0": 4096}),
        steps=[StepSummary(412, 4096, 37, 2, 5, 0.61234, 0.62001)],
        changes=Counter({change: 37}),
        seconds=12.5,
    )
    console = Console(record=True, width=200)
    print_summary(summary, console)
    text = console.export_text()
    row = "│  412 │ 4,096 │      37 │        2 │               5 │      0.6123 │     0.6200 │"
    assert row in text
    assert (
        "│ 1\\,000 │ 1000  │ verify 0 format 1 reflect 0, says correct │ verify 1 │    37 │" in text
    )
    assert "4,096 items in 1 step: 37 changed, 2 timed out before or after" in text
    assert "5 not re-scorable (left as recorded" in text
    assert "recorded by: reward-service 0.2.0 (4,096)" in text
    assert "re-scored by: reward-service 0.3.0" in text

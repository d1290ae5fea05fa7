"""The panels the dashboard and the PNG report draw, with their colours: one definition for both.

Each panel answers one question a GRPO researcher asks of a run. A panel names the series of
the statistics view (:mod:`reward_service.stats.view`) it plots, each with a fixed colour, so
a series looks the same on every panel, on the page and in the report, refresh after refresh.
The answer and data-source series are made per run: the view deals them colours from the
palettes below in the order they first appear (:func:`deal_colors`), so within one panel no two
share a colour, right answers are green and wrong ones red or orange.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from reward_service.scoring import FORMAT_RULES
from reward_service.stats.answers import FAILED, NO_ANSWER, TIMED_OUT

SMOOTHING = 0.6
"""Default weight of the exponential moving average drawn over noisy lines (0: none)."""

SIGNAL_COLORS = {
    "verify": "#2f6fdb",
    "format": "#e07b39",
    "reflect": "#7a5bc4",
    "score": "#1d2330",
}
RULE_COLORS = dict(
    zip(FORMAT_RULES, ("#b2475f", "#e07b39", "#c2a320", "#3aa35b", "#5b6475"), strict=True)
)
CELL_COLORS = {
    "right_correct": "#2ca02c",
    "right_wrong": "#d62728",
    "right_none": "#b7dfb0",
    "wrong_correct": "#ff9f1c",
    "wrong_wrong": "#1f9bb4",
    "wrong_none": "#d5dae2",
}
"""Calibrated cells in full colours, the warning cell (a right answer called wrong) red."""
RIGHT_ANSWER_COLORS = (
    "#1b7837",
    "#29e029",
    "#b3ec79",
    "#6adca3",
    "#31a527",
    "#1c5438",
    "#44e479",
    "#75cd1d",
    "#669933",
    "#19b366",
    "#b2e0a3",
    "#385b15",
)
"""Greens for right answers, in the order they are dealt (each far from those before it)."""
WRONG_ANSWER_COLORS = (
    "#d6604d",
    "#f90606",
    "#f98806",
    "#eb8e9b",
    "#8b1828",
    "#f3b268",
    "#bd2a05",
    "#ee2f49",
    "#bd5b05",
    "#f5a284",
    "#f3687b",
    "#8b5518",
)
"""Reds and oranges for wrong answers, in the order they are dealt."""
TIMED_OUT_COLOR = "#9467bd"
"""Neither green nor red: a timed-out answer was never judged (also the timeouts' bars)."""
SPECIAL_ANSWER_COLORS = {NO_ANSWER: "#9aa3b2", TIMED_OUT: TIMED_OUT_COLOR, FAILED: "#4d4d4d"}
OTHER_RIGHT_COLOR, OTHER_WRONG_COLOR = "#d9f0d3", "#fddbc7"
SOURCE_COLORS = (
    "#2f6fdb",
    "#e07b39",
    "#3aa35b",
    "#b2475f",
    "#7a5bc4",
    "#8c564b",
    "#c2a320",
    "#17becf",
)
"""Data sources' colours, in the order they are dealt."""

Axis = Literal["y", "y2"]
Kind = Literal["line", "bar", "area"]


@dataclass(frozen=True)
class Series:
    """One plotted series.

    Attributes:
        key: the series' name in the view's ``series``.
        label: its legend entry.
        color: CSS colour, also used by matplotlib.
        axis: ``y`` (left) or ``y2`` (right).
        kind: ``line``, ``bar`` (counts) or ``area`` (stacked shares).
        smooth: drawn smoothed (raw values faint behind), for noisy per-step means.
        share: divided by the step's items before drawing.
        dashed: drawn dashed.
    """

    key: str
    label: str
    color: str
    axis: Axis = "y"
    kind: Kind = "line"
    smooth: bool = True
    share: bool = False
    dashed: bool = False


@dataclass(frozen=True)
class Panel:
    """One chart: the question it answers and what it plots.

    A ``steps`` panel plots its series over the steps; a ``range_bars`` panel draws one bar
    per series: its sum over the selected steps, as a share of their items.
    ``whole_numbers``: the left axis counts items (integer ticks).
    """

    id: str
    title: str
    y_label: str
    series: tuple[Series, ...] = ()
    y2_label: str | None = None
    y_max: float | None = None
    kind: Literal["steps", "range_bars"] = "steps"
    whole_numbers: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (served in ``/stats``)."""
        return asdict(self)


def deal_colors(names: Iterable[str], palette: tuple[str, ...]) -> dict[str, str]:
    """The palette's colours dealt to ``names`` in their order (the view passes them in the
    order they first appeared): distinct while there are no more names than colours."""
    return {name: palette[index % len(palette)] for index, name in enumerate(dict.fromkeys(names))}


def _signal(key: str, label: str | None = None, **options: Any) -> Series:
    return Series(key, label or key, SIGNAL_COLORS[key], **options)


def _answer_series(answers: list[dict[str, Any]]) -> tuple[Series, ...]:
    shares = [
        *((a["series"], a["label"], a["color"]) for a in answers),
        ("answers.other_right", "other right", OTHER_RIGHT_COLOR),
        ("answers.other_wrong", "other wrong", OTHER_WRONG_COLOR),
    ]
    return (
        *(Series(k, label, c, kind="area", smooth=False, share=True) for k, label, c in shares),
        Series("distinct_answers", "distinct answers", "#1d2330", "y2", smooth=False, dashed=True),
    )


def panels(
    answers: list[dict[str, Any]], sources: list[dict[str, Any]], length_unit: str
) -> list[Panel]:
    """Every panel, in page order, for this run's answer and data-source series."""
    return [
        Panel(
            "signals",
            "Reward signals: is the answer right, the format learned?",
            "mean per step",
            tuple(_signal(s) for s in ("verify", "format", "reflect", "score")),
        ),
        Panel(
            "format",
            "Format rules: which one fails?",
            "share of items failing",
            tuple(Series(f"fail.{r}", r, RULE_COLORS[r]) for r in FORMAT_RULES),
            y_max=1,
        ),
        Panel(
            "answers",
            "Answers: is the distribution collapsing? (green right, red or orange wrong)",
            "share of items",
            _answer_series(answers),
            y2_label="distinct answers",
            y_max=1,
        ),
        Panel(
            "answer_bars",
            "Answers over the selected steps: one bar per value",
            "share of items",
            tuple(_answer_series(answers)[:-1]),
            kind="range_bars",
        ),
        Panel(
            "reflection",
            "Reflection: does it say 'wrong' regardless? (beside verify)",
            "share of items",
            (
                _signal("verify"),
                Series("says_correct", "says correct", CELL_COLORS["right_correct"]),
                Series("says_wrong", "says wrong", CELL_COLORS["right_wrong"]),
                Series("no_verdict", "no verdict", "#9aa3b2"),
                _signal("reflect", "reflect (calibrated)", dashed=True),
            ),
            y_max=1,
        ),
        Panel(
            "calibration",
            "Calibration: answer x verdict (red: a right answer called wrong)",
            "share of items",
            tuple(
                Series(
                    f"cell.{cell}",
                    cell.replace("_", " answer, says "),
                    color,
                    kind="area",
                    smooth=False,
                    share=True,
                )
                for cell, color in CELL_COLORS.items()
            ),
            y_max=1,
        ),
        Panel(
            "groups",
            "Learning signal: GRPO groups",
            "share of groups",
            (
                Series("zero_variance", "zero advantage (one reward in group)", "#d62728"),
                Series("pass_at_k", "pass@k", "#2ca02c"),
                Series("mean_at_k", "mean@k", SIGNAL_COLORS["verify"], dashed=True),
                Series("spread", "reward std in group", "#7a5bc4", axis="y2"),
            ),
            y2_label="reward std",
            y_max=1,
        ),
        Panel(
            "length",
            f"Response length ({length_unit}) and truncation",
            length_unit,
            (
                Series("length_mean", "mean", "#8c564b"),
                Series("length_max", "max", "#c49c94", smooth=False, dashed=True),
                Series("truncated", "truncated share", "#d62728", axis="y2"),
            ),
            y2_label="truncated share",
        ),
        Panel(
            "sources",
            "Verify by data source",
            "verify mean",
            tuple(Series(s["series"], s["name"], s["color"]) for s in sources),
            y_max=1,
        ),
        Panel(
            "health",
            "Timeouts and errors (items), latency",
            "items",
            (
                Series(
                    "timeouts",
                    "timeouts",
                    TIMED_OUT_COLOR,
                    kind="bar",
                    smooth=False,
                ),
                Series("errors", "errors", "#d62728", kind="bar", smooth=False),
                Series(
                    "latency_ms", "ms per batch", "#7f7f7f", axis="y2", smooth=False, dashed=True
                ),
            ),
            y2_label="ms per batch",
            whole_numbers=True,
        ),
    ]

"""The dashboard as one PNG, from the statistics JSONL (``stats_file``).

The report draws the same view as the page (:func:`reward_service.stats.view.stats_view`):
the same panels, series, colours and smoothing, with each legend under its plot, the
page's summary of the last step as the first cell and the alarms of every step in the file
(:func:`~reward_service.stats.alarms.derive_alarms`) as the second.

It stays readable whatever the file holds: the step axes run over the steps present, one
point each, labelled with their numbers (a jump in the numbering is marked, not drawn to
scale, so one stray step far past the run does not squash the others into a corner); the
summary is of the last full step (:func:`last_full_step`), naming the smaller steps after
it; and the labels the run writes (its answers, its data sources) are shortened
(:func:`short_label`).
"""

from __future__ import annotations

import itertools
import statistics
import textwrap
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from reward_service.stats.alarms import (
    DEFAULT_ALARM_SETTINGS,
    KINDS,
    AlarmSettings,
    derive_alarms,
)
from reward_service.stats.jsonl import read_jsonl
from reward_service.stats.view import stats_view

COLUMNS = 3
PANEL_SIZE_IN = (6.2, 4.4)
DPI = 100
RANGE_BARS = 12
POINTS_SHOWN = 60
"""Up to this many steps, each is drawn as a dot too (as on the page): a lone value shows."""
ALARMS_LISTED = len(KINDS)
"""Alarms written out in the report: every open one (at most one a kind), then the latest
closed ones; the rest are counted."""
ALARM_WIDTH = 62
"""Characters per line of an alarm's message."""
LABEL_CHARS = 24
"""Longest answer or data-source label drawn (legends, bars), so three columns of them fit
under a plot."""
RUN_MADE = ("answer.", "source.")
"""The series whose labels the run writes, by their key: its answers and its data sources."""
BREAK_SPACING = 10
"""A jump in the step numbers past this many times their median spacing is marked."""
TICK_EXACT_BELOW = 10**6
"""Step numbers from this one on are written in three digits on the step axes."""
LATER_STEPS_NAMED = 3
"""Steps after the summary's that it names (the rest are counted)."""


def ema(values: Sequence[float | None], weight: float) -> list[float | None]:
    """TensorBoard's debiased exponential moving average (the page's smoothing); gaps stay."""
    smoothed: list[float | None] = []
    last, count = 0.0, 0
    for value in values:
        if value is None:
            smoothed.append(None)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        smoothed.append(last / (1 - weight**count))
    return smoothed


def _values(view: dict[str, Any], series: dict[str, Any]) -> list[float | None]:
    column = view["series"].get(series["key"], [])
    if not series["share"]:
        return column
    items = view["series"]["items"]
    return [v / n if n else None for v, n in zip(column, items, strict=True)]


def _nan(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` in at most ``limit`` characters: its start and its end around an ellipsis
    (answers alike but for their end, or their digest, stay apart)."""
    if len(text) <= limit:
        return text
    end = (limit - 1) // 3
    return f"{text[: limit - 1 - end]}…{text[len(text) - end :]}"


def _label(series: dict[str, Any]) -> str:
    made = series["key"].startswith(RUN_MADE)
    return short_label(series["label"]) if made else series["label"]


def step_breaks(steps: Sequence[int]) -> list[float]:
    """Where the step axis marks a jump in the numbering: halfway between two neighbouring
    steps (by position) more than BREAK_SPACING times the median spacing apart."""
    spacings = [b - a for a, b in itertools.pairwise(steps)]
    if not spacings:
        return []
    wide = BREAK_SPACING * statistics.median(spacings)
    return [index + 0.5 for index, spacing in enumerate(spacings) if spacing > wide]


def step_tick(step: int) -> str:
    """A step number as its axis tick shows it: whole below a million, else in three digits
    (the summary names it whole), so that ticks do not run into each other."""
    return f"{step:,}" if step < TICK_EXACT_BELOW else f"{step:.3g}"


def last_full_step(items: Sequence[int]) -> int:
    """The position of the last step holding at least half the median step's items: the
    smaller steps after it were still being scored when the file ended, or are strays (a
    request tagged far past the run)."""
    half = statistics.median(items) / 2
    return max(index for index, count in enumerate(items) if count >= half)


def _draw_steps(axis: Any, view: dict[str, Any], panel: dict[str, Any]) -> list[Any]:
    """One panel over the steps, one point each at its position (the axis is labelled with
    their numbers elsewhere); returns its legend handles."""
    x = list(range(len(view["steps"])))
    right = None
    handles = []
    areas = [s for s in panel["series"] if s["kind"] == "area"]
    if areas:
        shares = [[0.0 if v is None else v for v in _values(view, s)] for s in areas]
        handles += axis.stackplot(
            x, *shares, colors=[s["color"] for s in areas], labels=[_label(s) for s in areas]
        )
    bottom = [0.0] * len(x)
    dots = {"marker": "o", "markersize": 3} if len(x) <= POINTS_SHOWN else {}
    for series in panel["series"]:
        if series["kind"] == "area":
            continue
        target = axis
        if series["axis"] == "y2":
            right = right or axis.twinx()
            target = right
        values = _values(view, series)
        style = "--" if series["dashed"] else "-"
        if series["kind"] == "bar":
            heights = [0 if v is None else v for v in values]
            handles.append(
                target.bar(
                    x,
                    heights,
                    width=1.0,
                    bottom=bottom,
                    color=series["color"],
                    label=_label(series),
                )
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        elif series["smooth"] and view["smoothing"] > 0:
            target.plot(x, _nan(values), color=series["color"], alpha=0.25, linewidth=1)
            (line,) = target.plot(
                x,
                _nan(ema(values, view["smoothing"])),
                style,
                color=series["color"],
                label=_label(series),
                linewidth=1.6,
                **dots,
            )
            handles.append(line)
        else:
            (line,) = target.plot(
                x,
                _nan(values),
                style,
                color=series["color"],
                label=_label(series),
                linewidth=1.4,
                **dots,
            )
            handles.append(line)
    axis.set(xlabel="step", ylabel=panel["y_label"])
    axis.set_ylim(bottom=0, top=panel["y_max"] * 1.02 if panel["y_max"] else None)
    if right is not None:
        right.set_ylabel(panel["y2_label"])
        right.set_ylim(bottom=0)
    return handles


def _draw_range_bars(axis: Any, view: dict[str, Any], panel: dict[str, Any]) -> None:
    items = sum(view["series"]["items"])
    bars = [
        (sum(view["series"].get(s["key"], [])) / items if items else 0.0, _label(s), s["color"])
        for s in panel["series"]
    ]
    bars = sorted((b for b in bars if b[0] > 0), key=lambda b: -b[0])[:RANGE_BARS]
    bars.reverse()  # largest on top, as on the page
    axis.barh([b[1] for b in bars], [b[0] for b in bars], color=[b[2] for b in bars])
    axis.set(xlabel=panel["y_label"])


NOT_SENT = "\N{EN DASH}"
"""What the page and the report show for a value the trainer did not send."""


def _to_fixed(value: float, places: int) -> Decimal:
    """JavaScript's ``value.toFixed(places)``: the exact value of the float, a tie rounded
    away from zero (Python's ``round`` and ``format`` round a tie to even)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent(share: float | None) -> str:
    """``share`` as the page writes it, ``(100 * share).toFixed(1)`` and a ``%``: 0.8125 is
    ``81.3%`` on both."""
    return NOT_SENT if share is None else f"{_to_fixed(100 * share, 1)}%"


def number(value: float | None) -> str:
    """A count or mean as the page writes it: digit groups, at most three decimals."""
    if value is None:
        return NOT_SENT
    fixed = _to_fixed(value, 3)
    return f"{int(fixed):,}" if fixed == fixed.to_integral_value() else f"{fixed.normalize():,}"


def _length(view: dict[str, Any], at: int) -> str:
    mean = view["series"]["length_mean"][at]
    if mean is None:
        sent = "token counts" if view["length_unit"] == "tokens" else "lengths"
        return f"mean length: no {sent} sent"
    unit = "tok" if view["length_unit"] == "tokens" else "chars"
    return f"mean length {number(mean)} {unit}"


def _items(count: int) -> str:
    return f"{number(count)} item{'' if count == 1 else 's'}"


def summary_lines(view: dict[str, Any], at: int = -1) -> list[str]:
    """The page's counters at the step in position ``at`` (by default the last), as text
    lines; the timeouts and errors are also counted over every step."""
    series, totals = view["series"], view["summary"]

    def share(key: str) -> str:
        return percent(series[key][at])

    return [
        f"step {number(view['steps'][at])} ({_items(series['items'][at])}); "
        f"{len(view['steps'])} steps shown",
        f"verify {share('verify')}   format {share('format')}",
        f"says wrong {share('says_wrong')}   says correct {share('says_correct')}",
        f"distinct answers {number(series['distinct_answers'][at])}",
        f"zero-advantage groups {share('zero_variance')}   pass@k {share('pass_at_k')}",
        f"{_length(view, at)}   truncated {share('truncated')}",
        f"timeouts {number(totals['timeouts_total'])} (this step {series['timeouts'][at]})",
        f"errors {number(totals['errors_total'])} (this step {series['errors'][at]})",
    ]


def later_lines(view: dict[str, Any], at: int) -> list[str]:
    """The steps after position ``at`` that the summary leaves out, if any."""
    later = list(zip(view["steps"], view["series"]["items"], strict=True))[at + 1 :]
    if not later:
        return []
    named = [f"{number(step)} ({_items(items)})" for step, items in later]
    if len(named) > LATER_STEPS_NAMED:
        named[LATER_STEPS_NAMED:] = [f"and {len(named) - LATER_STEPS_NAMED} more"]
    return ["", "later steps, under half the median step's items:", *(f"  {n}" for n in named)]


def alarm_lines(view: dict[str, Any]) -> list[str]:
    """The view's alarms (open ones first, as ``/stats`` orders them) as text lines: each
    its severity, kind, steps and message; past ALARMS_LISTED, how many more."""
    alarms = view["alarms"]
    if not alarms:
        return ["no alarm"]
    lines = []
    for alarm in alarms[:ALARMS_LISTED]:
        state = "open" if alarm["open"] else "closed"
        steps = f"steps {alarm['since_step']}-{alarm['last_step']}"
        lines.append(f"{alarm['severity'].upper()} {alarm['kind']} ({state}, {steps})")
        lines += textwrap.wrap(
            alarm["message"], ALARM_WIDTH, initial_indent="  ", subsequent_indent="  "
        )
    if len(alarms) > ALARMS_LISTED:
        lines.append(f"... and {len(alarms) - ALARMS_LISTED} more (closed) alarms")
    return lines


def write_report(
    stats_path: Path,
    output: Path,
    on_bad_line: Callable[[str], None] = lambda _: None,
    alarm_settings: AlarmSettings = DEFAULT_ALARM_SETTINGS,
) -> Path:
    """Draw the dashboard's panels for every step in ``stats_path`` into ``output``, with
    the alarms of those steps (raised with ``alarm_settings``).

    Lines that are not statistics are skipped and described to ``on_bad_line``.

    Raises:
        ValueError: the file holds no statistics.
        RuntimeError: matplotlib (the ``report`` extra) is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, MaxNLocator
    except ImportError as exc:
        raise RuntimeError(
            "the report needs matplotlib: pip install 'reward-service[report]'"
        ) from exc

    steps = read_jsonl(stats_path, on_bad_line)
    if not steps:
        raise ValueError(f"{stats_path} holds no statistics")
    alarms = [alarm.to_dict() for alarm in derive_alarms(steps, alarm_settings)]
    view = stats_view(steps, alarms=alarms)
    numbers = view["steps"]
    breaks = step_breaks(numbers)

    def step_label(position: float, _: int | None = None) -> str:
        index = round(position)
        return step_tick(numbers[index]) if 0 <= index < len(numbers) else ""

    cells = len(view["panels"]) + 2
    rows = -(-cells // COLUMNS)
    figure, axes = plt.subplots(
        rows,
        COLUMNS,
        figsize=(PANEL_SIZE_IN[0] * COLUMNS, PANEL_SIZE_IN[1] * rows),
        dpi=DPI,
        layout="constrained",
    )
    flat = list(axes.flat)
    flat[0].axis("off")
    full = last_full_step(view["series"]["items"])
    summary = summary_lines(view, full) + later_lines(view, full)
    flat[0].set_title("Last step", loc="left", fontsize="medium", fontweight="bold")
    flat[0].text(0, 1, "\n".join(summary), va="top", family="monospace", fontsize=10)
    flat[1].axis("off")
    flat[1].set_title("Alarms", loc="left", fontsize="medium", fontweight="bold")
    flat[1].text(0, 1, "\n".join(alarm_lines(view)), va="top", family="monospace", fontsize=8)
    for axis, panel in zip(flat[2:], view["panels"], strict=False):
        axis.set_title(panel["title"], loc="left", fontsize="medium", fontweight="bold")
        if panel["kind"] == "range_bars":
            _draw_range_bars(axis, view, panel)
            continue
        handles = _draw_steps(axis, view, panel)
        axis.set_xlim(-0.5, len(steps) - 0.5)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # a tick on a step
        axis.xaxis.set_major_formatter(FuncFormatter(step_label))
        for where in breaks:
            axis.axvline(where, color="#7f7f7f", linestyle=":", linewidth=1)
        if panel["whole_numbers"]:
            axis.set_ylim(bottom=0, top=max(1.0, axis.get_ylim()[1]))  # no 0.006 when all zero
            axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=3,
            fontsize="small",
            frameon=False,
        )
    for axis in flat[cells:]:
        axis.axis("off")
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    plt.close(figure)
    return output

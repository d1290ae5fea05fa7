"""What ``/stats`` serves: per-step values derived from the counts, as columns, with the panels
that plot them, bounded in bytes.

The counts (:class:`StepStats`) hold group tables and sketches; the view serves only what is
read from them (means, rates, shares, group summaries), one column per series, numbers
rounded to what a chart can show. The dashboard and the PNG report both draw this view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from reward_service.scoring import FORMAT_RULES
from reward_service.stats.alarms import PANELS
from reward_service.stats.answers import SPECIAL_KEYS, display_text
from reward_service.stats.panels import (
    RIGHT_ANSWER_COLORS,
    SMOOTHING,
    SOURCE_COLORS,
    SPECIAL_ANSWER_COLORS,
    WRONG_ANSWER_COLORS,
    deal_colors,
    panels,
)
from reward_service.stats.sketch import distinct_count
from reward_service.stats.step import CALIBRATION_CELLS, SIGNALS, SOURCE_CHARS_KEPT, StepStats

STATS_MAX_BYTES = 2 * 1024 * 1024
"""Most bytes ``/stats`` sends: past it the oldest steps are left out (and counted)."""
ANSWERS_SHOWN = 8
"""Answer keys with a series of their own: the most frequent over the served steps..."""
LAST_STEP_ANSWERS = 4
"""...and the most frequent of the last step, so a new answer shows as soon as it leads."""
SOURCES_SHOWN = 8


def _rate(count: float, total: float) -> float | None:
    return round(count / total, 4) if total else None


Row = dict[str, Any]
RowCache = dict[int, tuple[tuple[int, int, float], Row]]
"""Rows of steps already computed, by step, with the (batches, items, time) they were for."""


def step_row(stats: StepStats) -> Row:
    """The values of one step that do not depend on the other steps served."""
    items = stats.items
    cells = stats.calibration
    lengths, truncation = stats.lengths, stats.truncation
    row: Row = {"items": items, "batches": stats.batches}
    row.update({signal: _rate(stats.signal_sums[signal], items) for signal in SIGNALS})
    row.update({f"fail.{rule}": _rate(stats.format_failures[rule], items) for rule in FORMAT_RULES})
    row.update({f"cell.{cell}": cells[cell] for cell in CALIBRATION_CELLS})
    row["says_correct"] = _rate(cells["right_correct"] + cells["wrong_correct"], items)
    row["says_wrong"] = _rate(cells["right_wrong"] + cells["wrong_wrong"], items)
    row["no_verdict"] = _rate(cells["right_none"] + cells["wrong_none"], items)
    row["distinct_answers"] = round(distinct_count(stats.answer_sketch))
    groups = stats.groups.summary()
    row.update({k: None if v is None else round(v, 4) for k, v in groups.items()})
    row["tokens_mean"] = _rounded(_rate(lengths["tokens"], lengths["tokens_items"]))
    row["tokens_max"] = lengths["tokens_max"] if lengths["tokens_items"] else None
    row["chars_mean"] = _rounded(_rate(lengths["chars"], items))
    row["chars_max"] = lengths["chars_max"]
    row["truncated"] = _rate(truncation["truncated"], truncation["truncation_reported"])
    row["timeouts"], row["errors"] = stats.timeouts, stats.errors
    row["latency_ms"] = round(stats.latency_ms / stats.batches, 1) if stats.batches else None
    answers = [((k, True), n) for k, n in stats.right_answers.items()]
    answers += [((k, False), n) for k, n in stats.wrong_answers.items()]
    row[_TOP] = sorted(answers, key=lambda kv: (-kv[1], kv[0]))[:ANSWERS_SHOWN]
    return row


_TOP = "_top_answers"
"""A row's most frequent answers: used to choose the answer series, not served."""


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _rows(steps: Sequence[StepStats], cache: RowCache | None) -> list[Row]:
    if cache is None:
        return [step_row(s) for s in steps]
    rows = []
    for stats in steps:
        version = (stats.batches, stats.items, stats.time)
        cached = cache.get(stats.step)
        if cached is None or cached[0] != version:
            cached = cache[stats.step] = (version, step_row(stats))
        rows.append(cached[1])
    for step in set(cache) - {s.step for s in steps}:
        del cache[step]
    return rows


def _answer_keys(rows: Sequence[Row]) -> list[tuple[str, bool]]:
    totals: Counter[tuple[str, bool]] = Counter()
    for row in rows:
        totals.update(dict(row[_TOP]))
    chosen = [key for key, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    chosen = chosen[:ANSWERS_SHOWN]
    chosen += [key for key, _ in rows[-1][_TOP][:LAST_STEP_ANSWERS] if key not in chosen]
    return chosen


def _by_debut(keys: Sequence[tuple[str, bool]], rows: Sequence[Row]) -> list[tuple[str, bool]]:
    """``keys`` in the order they first appeared among a step's most frequent answers (the
    first served step where each was, then its rank there): an answer that leads only later
    comes after the ones shown before it, so it never takes their colours."""
    debut: dict[tuple[str, bool], tuple[int, int]] = {}
    for index, row in enumerate(rows):
        for rank, (key, _) in enumerate(row[_TOP]):
            debut.setdefault(key, (index, rank))
    return sorted(keys, key=lambda key: (*debut.get(key, (len(rows), 0)), key))


def _answer_colors(keys: Sequence[tuple[str, bool]], rows: Sequence[Row]) -> list[str]:
    """One colour per shown answer: greens dealt to right answers and reds to wrong ones, by
    debut; the keys that stand for no judged answer keep their own."""
    order = [key for key in _by_debut(keys, rows) if key[0] not in SPECIAL_KEYS]
    greens = deal_colors((key for key, right in order if right), RIGHT_ANSWER_COLORS)
    reds = deal_colors((key for key, right in order if not right), WRONG_ANSWER_COLORS)
    return [
        SPECIAL_ANSWER_COLORS.get(key) or (greens if right else reds)[key] for key, right in keys
    ]


def _answer_columns(
    steps: Sequence[StepStats], rows: Sequence[Row], series: dict[str, list[Any]]
) -> list[dict]:
    keys = _answer_keys(rows) if rows else []
    colors = _answer_colors(keys, rows)
    answers = []
    for index, ((key, right), color) in enumerate(zip(keys, colors, strict=True)):
        name = f"answer.{index}"
        counts = (s.right_answers if right else s.wrong_answers for s in steps)
        series[name] = [c.get(key, 0) for c in counts]
        mark = "" if key in SPECIAL_KEYS else (" ✓" if right else " ✗")
        answers.append(
            {"key": key, "right": right, "label": f"{key}{mark}", "color": color, "series": name}
        )
    shown_right = [series[a["series"]] for a in answers if a["right"]]
    shown_wrong = [series[a["series"]] for a in answers if not a["right"]]
    rights = [round(s.signal_sums["verify"]) for s in steps]
    series["answers.other_right"] = [
        right - sum(column[i] for column in shown_right) for i, right in enumerate(rights)
    ]
    series["answers.other_wrong"] = [
        s.items - rights[i] - sum(column[i] for column in shown_wrong) for i, s in enumerate(steps)
    ]
    return answers


def _source_columns(steps: Sequence[StepStats], series: dict[str, list[Any]]) -> list[dict]:
    totals: Counter[str] = Counter()
    debut: list[str] = []  # sources in the order they first appeared
    for stats in steps:
        totals.update({name: counts[0] for name, counts in stats.sources.items()})
        debut += sorted(set(stats.sources) - set(debut), key=lambda n: (-stats.sources[n][0], n))
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:SOURCES_SHOWN]
    shown = {name for name, _ in ranked}
    colors = deal_colors((name for name in debut if name in shown), SOURCE_COLORS)
    sources = []
    for index, (name, _) in enumerate(ranked):
        column = f"source.{index}"
        series[column] = [
            _rate(s.sources[name][1], s.sources[name][0]) if name in s.sources else None
            for s in steps
        ]
        name_shown = display_text(name, SOURCE_CHARS_KEPT)
        sources.append({"name": name_shown, "color": colors[name], "series": column})
    return sources


def _summary(series: dict[str, list[Any]], steps: Sequence[StepStats]) -> dict[str, Any]:
    if not steps:
        return {}
    last = {name: column[-1] for name, column in series.items()}
    return {
        "step": steps[-1].step,
        **{key: last.get(key) for key in _SUMMARY_KEYS},
        "timeouts_total": sum(s.timeouts for s in steps),
        "errors_total": sum(s.errors for s in steps),
        "items_total": sum(s.items for s in steps),
    }


_NOT_SERVED = {_TOP, "tokens_mean", "tokens_max", "chars_mean", "chars_max"}
_SUMMARY_KEYS = (
    "items",
    "verify",
    "format",
    "reflect",
    "score",
    "says_wrong",
    "says_correct",
    "distinct_answers",
    "groups",
    "zero_variance",
    "pass_at_k",
    "length_mean",
    "truncated",
    "timeouts",
    "errors",
)


def stats_view(
    steps: Sequence[StepStats],
    latest: Sequence[dict[str, Any]] = (),
    failed: Sequence[dict[str, Any]] = (),
    alarms: Sequence[dict[str, Any]] = (),
    cache: RowCache | None = None,
) -> dict[str, Any]:
    """The view of ``steps`` (in step order), the response tables and the alarms
    (:meth:`~reward_service.stats.alarms.Alarm.to_dict`), JSON-ready; ``alarm_panels`` names
    the panel that shows each alarm kind.

    ``cache`` keeps the rows of unchanged steps between calls (the recorder holds one).
    Lengths are in tokens when a trainer reported tokens for any step, else in characters.
    """
    rows = _rows(steps, cache)
    tokens = any(row["tokens_mean"] is not None for row in rows)
    unit, length = ("tokens", "tokens") if tokens else ("characters", "chars")
    served = [key for key in (rows[0] if rows else ()) if key not in _NOT_SERVED]
    series: dict[str, list[Any]] = {key: [row[key] for row in rows] for key in served}
    series["length_mean"] = [row[f"{length}_mean"] for row in rows]
    series["length_max"] = [row[f"{length}_max"] for row in rows]
    answers = _answer_columns(steps, rows, series)
    sources = _source_columns(steps, series)
    return {
        "steps": [s.step for s in steps],
        "series": series,
        "answers": answers,
        "sources": sources,
        "length_unit": unit,
        "panels": [panel.to_dict() for panel in panels(answers, sources, unit)],
        "smoothing": SMOOTHING,
        "summary": _summary(series, steps),
        "latest": list(latest),
        "failed": list(failed),
        "alarms": list(alarms),
        "alarm_panels": dict(PANELS),
        "steps_left_out": 0,
    }


def served_json(
    steps: Sequence[StepStats],
    latest: Sequence[dict[str, Any]] = (),
    failed: Sequence[dict[str, Any]] = (),
    alarms: Sequence[dict[str, Any]] = (),
    max_bytes: int = STATS_MAX_BYTES,
    cache: RowCache | None = None,
) -> bytes:
    """:func:`stats_view` as JSON of at most ``max_bytes``: the oldest steps are left out
    (``steps_left_out`` says how many) and then the response tables, as needed; the alarms
    (at most :data:`~reward_service.stats.alarms.ALARMS_KEPT`, under a kilobyte each) stay."""
    kept = list(steps)
    tables = (list(latest), list(failed))
    while True:
        view = stats_view(kept, *tables, alarms, cache=cache)
        view["steps_left_out"] = len(steps) - len(kept)
        body = orjson.dumps(view)
        if len(body) <= max_bytes:
            return body
        if len(kept) > 1:
            kept = kept[len(kept) // 2 :]
        elif any(tables):
            tables = ([], [])
        else:  # one step, the panels and the alarms: tens of kilobytes, whatever was scored
            return body

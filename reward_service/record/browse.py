"""One step of the record as the dashboard pages through it: in order, filtered, bounded.

A page lists at most :data:`PAGE_ROWS_MAX` rows, each with its answer section and every
signal but not its text (a few hundred bytes a row, whatever the model wrote), so a page is
at most a few hundred kilobytes; :func:`item_text` gives one row with its whole response.
Either reads what it filters and orders on (:data:`INDEX`) for every row of the step, and
the rest, responses included, for the rows it shows only: its memory is about its page's,
not its step's.
Answers are keyed as the statistics count them (:func:`~reward_service.stats.answers.answer_key`:
the equivalent forms of a right answer are its label), so the answers the dashboard's panels
name can be chosen here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from reward_service.record.reader import Record, StepFiles
from reward_service.stats.answers import answer_key, display_text
from reward_service.stats.tables import answer_section, visible

PAGE_ROWS_MAX = 200
ANSWERS_LISTED = 50
"""The most frequent answers of the step listed with their counts (to choose from)."""
Verdict = Literal["correct", "wrong", "none"]
Status = Literal["ok", "timeout", "error"]
ORDER = [("time", "ascending"), ("batch", "ascending"), ("item", "ascending")]
INDEX = ["time", "batch", "item", "pred", "ground_truth", "verify", "status", "verdict"]
"""The columns a page is ordered, filtered and counted on, read for every row of its step."""


@dataclass(frozen=True)
class StepQuery:
    """Which rows of a step to list.

    Attributes:
        offset, limit: the page: the rows from ``offset`` on, at most ``limit`` of them.
        answer: only the items counted under this answer (its key), or any.
        verdict: only those whose reflection says this (``none``: it says nothing), or any.
        status: only those with this status, or any.
    """

    offset: int = 0
    limit: int = 50
    answer: str | None = None
    verdict: Verdict | None = None
    status: Status | None = None

    def __post_init__(self) -> None:
        if self.offset < 0 or not 1 <= self.limit <= PAGE_ROWS_MAX:
            raise ValueError(f"offset >= 0 and 1 <= limit <= {PAGE_ROWS_MAX}")


def step_page(record: Record, step: int, query: StepQuery) -> dict[str, Any] | None:
    """The rows of ``step`` that match ``query`` (in the order they were answered), with
    the step's item count, the matching count and its most frequent answers; None when
    the record does not hold ``step``."""
    return record.read(step, lambda files: _page(files, query))


def _page(files: StepFiles, query: StepQuery) -> dict[str, Any] | None:
    index = files.read(INDEX, positions=True)
    if index.num_rows == 0:
        return None
    index = index.sort_by(ORDER)
    keys = _answer_keys(index)
    matching = index.filter(pa.array(_matches(index, keys, query), pa.bool_()))
    page = matching.slice(query.offset, query.limit)
    counts = Counter(keys)
    rights = dict(keys)
    return {
        "step": files.step,
        "items": index.num_rows,
        "matching": matching.num_rows,
        "offset": query.offset,
        "limit": query.limit,
        "answers": [
            {"answer": key, "right": rights[key], "items": items}
            for (key, _), items in counts.most_common(ANSWERS_LISTED)
        ],
        "rows": [_row(row) for row in files.rows_at(page)],
    }


def item_text(record: Record, step: int, batch: str, item: int) -> dict[str, Any] | None:
    """Item ``item`` of batch ``batch`` in ``step``, with its whole response; None when the
    record does not hold it."""

    def find(files: StepFiles) -> dict[str, Any] | None:
        index = files.read(["batch", "item"], positions=True)
        mask = pc.and_(pc.equal(index["batch"], batch), pc.equal(index["item"], item))
        found = files.rows_at(index.filter(mask).slice(0, 1))
        return {**_row(found[0]), "response": visible(found[0]["response"])} if found else None

    return record.read(step, find)


def _answer_keys(table: pa.Table) -> list[tuple[str, bool]]:
    """Each row's answer key and whether it is right, as the statistics count it."""
    columns = [table[name].to_pylist() for name in ("pred", "ground_truth", "verify", "status")]
    return [answer_key(*values) for values in zip(*columns, strict=True)]


def _matches(table: pa.Table, keys: list[tuple[str, bool]], query: StepQuery) -> list[bool]:
    verdicts = table["verdict"].to_pylist()
    statuses = table["status"].to_pylist()
    return [
        (query.answer is None or key == query.answer)
        and (query.verdict is None or (verdict or "none") == query.verdict)
        and (query.status is None or status == query.status)
        for (key, _), verdict, status in zip(keys, verdicts, statuses, strict=True)
    ]


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the page lists it: every signal, its answer section, short fields cut."""
    key, right = answer_key(row["pred"], row["ground_truth"], row["verify"], row["status"])
    return {
        "step": row["step"],
        "batch": row["batch"],
        "item": row["item"],
        "time": row["time"].isoformat(),
        "route": row["route"],
        "replica": row["replica"],
        "group": _shown(row["group"], 64),
        "data_source": _shown(row["data_source"], 64),
        "ground_truth": display_text(row["ground_truth"]),
        "pred": _shown(row["pred"], 80),
        "answer": key,
        "right": right,
        "verdict": row["verdict"],
        "verify": row["verify"],
        "format": row["format"],
        "reflect": row["reflect"],
        "score": row["score"],
        "format_failures": row["format_failures"],
        "status": row["status"],
        "error": _shown(row["error"], 300),
        "weights": row["weights"],
        "response_tokens": row["response_tokens"],
        "truncated": row["truncated"],
        "scorer_version": row["scorer_version"],
        "chars": len(row["response"]),
        "answer_section": visible(answer_section(row["response"])),
    }


def _shown(text: str | None, limit: int) -> str | None:
    return None if text is None else display_text(text, limit)

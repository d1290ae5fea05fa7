"""The response tables: the scored responses the dashboard lists, the latest ones and the
latest that timed out or failed, each with its answer section, its breakdown and its text
(bounded).

``/stats`` serves the rows without their text (:func:`table_row`); the page asks for one
row's text when it is clicked (``/stats/responses/{id}``, :func:`text_row`), so ``/stats``
stays small.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from reward_service.errors import NoSuchResponse
from reward_service.scoring import ScoreResult
from reward_service.stats.answers import display_text
from reward_service.stats.step import ScoredItem

THINK_CLOSE = "</think>"
HEAD_CHARS_KEPT = 2000
TAIL_CHARS_KEPT = 6000
"""A response is kept as its first and last characters: the start of the thinking, and the
answer and reflection at the end."""
SECTION_HEAD_CHARS, SECTION_TAIL_CHARS = 160, 240
"""The answer section (after ``</think>``) is shown whole up to 400 characters, else its start
(the boxed answer) and its end (the reflection)."""
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def visible(text: str) -> str:
    """``text`` with control characters other than newlines and tabs as U+FFFD."""
    return _CONTROL_BUT_LINES.sub("\ufffd", text)


def shortened(text: str, head: int, tail: int) -> str:
    """``text`` whole when it fits in ``head + tail`` characters, else its two ends."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n… {len(text) - head - tail} characters left out …\n{text[-tail:]}"


def answer_section(response: str) -> str:
    """What follows the last ``</think>`` (the boxed answer and the reflection); the end of
    the response when it has none."""
    position = response.rfind(THINK_CLOSE)
    section = response[position + len(THINK_CLOSE) :] if position >= 0 else response[-600:]
    return shortened(section.strip(), SECTION_HEAD_CHARS, SECTION_TAIL_CHARS)


@dataclass(frozen=True)
class KeptResponse:
    """A scored response kept for the tables: cut to its bounded parts when recorded (cheap,
    on the request path, and small enough to send to a Ray Serve deployment's keeper), made
    presentable only when served.

    Attributes:
        item: what the trainer sent, its response cut to its first HEAD_CHARS_KEPT and last
            TAIL_CHARS_KEPT characters.
        result: its score.
        chars: the whole response's length.
        section: its answer section (see :func:`answer_section`).
    """

    item: ScoredItem
    result: ScoreResult
    chars: int
    section: str


def keep(item: ScoredItem, result: ScoreResult) -> KeptResponse:
    """The bounded parts of one scored response, for the tables."""
    text = shortened(item.response, HEAD_CHARS_KEPT, TAIL_CHARS_KEPT)
    kept = item if text is item.response else dataclasses.replace(item, response=text)
    return KeptResponse(kept, result, len(item.response), answer_section(item.response))


class Row(NamedTuple):
    """A kept response in a table.

    Attributes:
        id: the row's number, for ``/stats/responses/{id}`` (given by the recorder).
        step: the step it was counted in.
        kept: the response.
    """

    id: int
    step: int
    kept: KeptResponse


def table_row(row: Row) -> dict[str, Any]:
    """One row of the response tables as ``/stats`` serves it (without the text)."""
    item, result = row.kept.item, row.kept.result
    return {
        "id": row.id,
        "step": row.step,
        **result.to_dict(),
        "pred": None if result.pred is None else display_text(result.pred),
        "error": None if result.error is None else display_text(result.error, 300),
        "data_source": None if item.data_source is None else display_text(item.data_source, 64),
        "group": None if item.group is None else display_text(item.group, 64),
        "response_tokens": item.response_tokens,
        "truncated": item.truncated,
        "chars": row.kept.chars,
        "answer_section": visible(row.kept.section),
    }


def text_row(row: Row) -> dict[str, Any]:
    """One row with the response's (bounded) text, for ``/stats/responses/{id}``."""
    return {**table_row(row), "response": visible(row.kept.item.response)}


class ResponseTables:
    """The latest ``latest_items`` responses and the latest ``failed_items`` timed-out or
    failed ones, numbered for ``/stats/responses/{id}`` (not thread-safe: the recorder
    holds its lock around them).

    Row ids go on from the start time in milliseconds, so a restarted service never hands
    an open page another response's text for a recent id.
    """

    def __init__(self, latest_items: int, failed_items: int) -> None:
        self.latest: deque[Row] = deque(maxlen=latest_items)
        self.failed: deque[Row] = deque(maxlen=failed_items)
        self._rows_made = self._first_row = time.time_ns() // 1_000_000

    def add(
        self, step: int, latest: Iterable[KeptResponse], failed: Iterable[KeptResponse]
    ) -> None:
        """Number and keep a batch's kept responses, counted in ``step``."""
        for table, kept in ((self.latest, latest), (self.failed, failed)):
            for response in kept:
                self._rows_made += 1
                table.append(Row(self._rows_made, step, response))

    def rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Both tables as ``/stats`` serves them (without the texts)."""
        return [table_row(r) for r in self.latest], [table_row(r) for r in self.failed]

    def response(self, row_id: int) -> dict[str, Any] | None:
        """The row ``row_id`` with its text, or None when it is no longer kept.

        Raises:
            NoSuchResponse: ``row_id`` is not one these tables issued.
        """
        if not self._first_row < row_id <= self._rows_made:
            raise NoSuchResponse(f"no such response: {row_id}")
        for row in (*self.latest, *self.failed):
            if row.id == row_id:
                return text_row(row)
        return None

"""The scored responses the dashboard lists: the latest ones, and the latest that timed out or
failed, each with its answer section, its breakdown and its text (bounded).

``/stats`` serves the rows without their text (:func:`served_row`); the page asks for one
row's text when it is clicked (``/stats/responses/{id}``), so ``/stats`` stays small.
"""

from __future__ import annotations

import re
from typing import Any

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


def latest_entry(row_id: int, step: int, item: ScoredItem, result: ScoreResult) -> dict[str, Any]:
    """One row of the dashboard's response tables, with the response's (bounded) text."""
    return {
        "id": row_id,
        "step": step,
        **result.to_dict(),
        "pred": None if result.pred is None else display_text(result.pred),
        "error": None if result.error is None else display_text(result.error, 300),
        "data_source": None if item.data_source is None else display_text(item.data_source, 64),
        "group": None if item.group is None else display_text(item.group, 64),
        "response_tokens": item.response_tokens,
        "truncated": item.truncated,
        "chars": len(item.response),
        "answer_section": visible(answer_section(item.response)),
        "response": visible(shortened(item.response, HEAD_CHARS_KEPT, TAIL_CHARS_KEPT)),
    }


def served_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as ``/stats`` serves it: without the response's text."""
    return {key: value for key, value in row.items() if key != "response"}

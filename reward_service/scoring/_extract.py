"""Locate the parts of a response: boxed answers, the answer region and the reflection.

Every function here is a linear scan (no backtracking regexes), so a megabyte of
unbalanced braces costs a few milliseconds, not minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
REFLECTION_OPEN, REFLECTION_CLOSE = "<reflection>", "</reflection>"

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_REGION_TAG = re.compile(r"</?think>|<reflection>")
_UNBRACED_ARGUMENT = re.compile(r"[ \t]*([^\s${}]+)")


@dataclass(frozen=True)
class Box:
    """One top-level ``\\boxed``/``\\fbox`` occurrence.

    Attributes:
        start: index of the backslash that opens the command.
        end: index just past the box; ``len(text)`` when the braces never close.
        content: the text inside the box, or None when its braces are unbalanced.
    """

    start: int
    end: int
    content: str | None


def _closing_brace(text: str, open_index: int) -> int | None:
    """Index of the brace closing the one at ``open_index``; escaped braces do not count."""
    depth = 0
    i = open_index
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _read_box(text: str, start: int, after_command: int) -> Box:
    """Read the argument of a box command whose name ends at ``after_command``."""
    brace = after_command
    while brace < len(text) and text[brace] in " \t":
        brace += 1
    if brace < len(text) and text[brace] == "{":
        close = _closing_brace(text, brace)
        if close is None:
            return Box(start, len(text), None)
        return Box(start, close + 1, text[brace + 1 : close])
    unbraced = _UNBRACED_ARGUMENT.match(text, after_command)
    if unbraced is None:
        return Box(start, after_command, None)
    return Box(start, unbraced.end(), unbraced.group(1))


def find_boxes(text: str) -> list[Box]:
    """All top-level boxes in ``text``, in order; boxes nested in a box are part of it."""
    boxes: list[Box] = []
    position = 0
    while (match := _BOX_COMMAND.search(text, position)) is not None:
        box = _read_box(text, match.start(), match.end())
        boxes.append(box)
        position = max(box.end, match.end())
    return boxes


def answer_span(response: str) -> tuple[int, int]:
    """Where the part of a response that holds the final answer starts and ends.

    It ends at the first ``<reflection>`` that is not inside ``<think>...</think>`` (the end
    of the response when there is none), so a reflection that restates an answer cannot
    replace it, and a reflection drafted while thinking is part of the thinking. It starts
    after the last ``</think>`` before that (the response's start when there is none): a
    ``</think>`` inside or after the reflection does not move the answer.
    """
    last_think_end = response.rfind(THINK_CLOSE)
    end, thinking = len(response), False
    for tag in _REGION_TAG.finditer(response):
        if tag.group() != REFLECTION_OPEN:
            thinking = tag.group() == THINK_OPEN
        elif not (thinking and tag.start() < last_think_end):
            end = tag.start()
            break
    think_end = response.rfind(THINK_CLOSE, 0, end)
    return (0 if think_end < 0 else think_end + len(THINK_CLOSE)), end


class AnswerRegion(NamedTuple):
    """The part of a response that holds the final answer (:func:`answer_span`) and the
    boxes in it: found once, read by the answer's extraction and by the format check."""

    start: int
    end: int
    boxes: list[Box]


def answer_region(response: str) -> AnswerRegion:
    """The answer's part of ``response`` and its top-level boxes."""
    start, end = answer_span(response)
    return AnswerRegion(start, end, find_boxes(response[start:end]))


def extract_answer(response: str, region: AnswerRegion | None = None) -> str | None:
    """The content of the last balanced, non-empty box in the answer's part of the response
    (:func:`answer_span`; ``region`` when already found), stripped."""
    for box in reversed((region or answer_region(response)).boxes):
        if box.content is not None and box.content.strip():
            return box.content.strip()
    return None


def reflection_text(response: str) -> str | None:
    """The text of the last ``<reflection>`` block; an unclosed block runs to the end."""
    start = response.rfind(REFLECTION_OPEN)
    if start < 0:
        return None
    body_start = start + len(REFLECTION_OPEN)
    end = response.find(REFLECTION_CLOSE, body_start)
    return response[body_start:] if end < 0 else response[body_start:end]

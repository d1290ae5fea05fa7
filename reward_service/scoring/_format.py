"""R_format: does a response read ``<think>…</think> \\boxed{…} <reflection>…</reflection>``."""

from __future__ import annotations

import re

from reward_service.scoring._extract import (
    REFLECTION_CLOSE,
    REFLECTION_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    AnswerRegion,
    answer_region,
)

END_OF_SEQUENCE_TOKENS = ("<|im_end|>", "<|endoftext|>")

THINK_FIRST = "think_first"
THINK_BLOCK = "think_block"
BOXED_ANSWER = "boxed_answer"
REFLECTION_BLOCK = "reflection_block"
CLEAN_ENDING = "clean_ending"

FORMAT_RULES = (THINK_FIRST, THINK_BLOCK, BOXED_ANSWER, REFLECTION_BLOCK, CLEAN_ENDING)
"""Rule names, in the order they are checked and reported."""

_TAG = re.compile(r"</?(?:think|reflection)>")
_LEADING_THINK = re.compile(r"\s*<think>")
_NON_SPACE = re.compile(r"\S")

Tag = tuple[str, int, int]
"""A tag as found: its text, where it starts and where it ends."""


def _strip_end_of_sequence(text: str) -> str:
    """``text`` without trailing whitespace and end-of-sequence tokens.

    One pass from the end, each character looked at once: linear in the length of the
    tail, however many tokens it repeats.
    """
    end = len(text)
    while end:
        if text[end - 1].isspace():
            end -= 1
            continue
        token = next((t for t in END_OF_SEQUENCE_TOKENS if text.endswith(t, 0, end)), None)
        if token is None:
            break
        end -= len(token)
    return text[:end]


def _block_is_well_formed(text: str, tags: list[Tag], open_tag: str, close_tag: str) -> bool:
    """Exactly one non-empty ``open_tag…close_tag`` block holding no other tag."""
    names = [tag[0] for tag in tags]
    if names.count(open_tag) != 1 or names.count(close_tag) != 1:
        return False
    opened = names.index(open_tag)
    closed = names.index(close_tag)
    body_start, body_end = tags[opened][2], tags[closed][1]
    return closed == opened + 1 and _NON_SPACE.search(text, body_start, body_end) is not None


def _answer_has_one_box(region: AnswerRegion) -> bool:
    """Where the answer is read (see :func:`~._extract.answer_span`) sits exactly one
    balanced, non-empty box."""
    boxes = region.boxes
    return len(boxes) == 1 and bool(boxes[0].content and boxes[0].content.strip())


def _ends_after_reflection(text: str, tags: list[Tag]) -> bool:
    """Nothing but whitespace and end-of-sequence tokens follows the last ``</reflection>``."""
    ends = [tag[2] for tag in tags if tag[0] == REFLECTION_CLOSE]
    return bool(ends) and not _strip_end_of_sequence(text[ends[-1] :])


def format_failures(response: str, region: AnswerRegion | None = None) -> tuple[str, ...]:
    """The names of the rules in :data:`FORMAT_RULES` that ``response`` breaks, in order
    (``region``: the answer's part, when already found).

    An empty tuple means the format is right (R_format = 1). The tags are found in one
    scan; no check copies the long think block.
    """
    tags = [(match.group(), match.start(), match.end()) for match in _TAG.finditer(response)]
    region = region or answer_region(response)
    start, end = region.start, region.end
    after_think = response.endswith(THINK_CLOSE, 0, start)
    in_order = after_think and response.startswith(REFLECTION_OPEN, end)
    checks = {
        THINK_FIRST: _LEADING_THINK.match(response) is not None,
        THINK_BLOCK: _block_is_well_formed(response, tags, THINK_OPEN, THINK_CLOSE),
        BOXED_ANSWER: in_order and _answer_has_one_box(region),
        REFLECTION_BLOCK: in_order
        and _block_is_well_formed(response, tags, REFLECTION_OPEN, REFLECTION_CLOSE),
        CLEAN_ENDING: _ends_after_reflection(response, tags),
    }
    return tuple(rule for rule in FORMAT_RULES if not checks[rule])

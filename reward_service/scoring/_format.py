"""R_format: does a response read ``<think>…</think> \\boxed{…} <reflection>…</reflection>``."""

from __future__ import annotations

from reward_service.scoring._extract import (
    REFLECTION_CLOSE,
    REFLECTION_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    find_boxes,
)

END_OF_SEQUENCE_TOKENS = ("<|im_end|>", "<|endoftext|>")

THINK_FIRST = "think_first"
THINK_BLOCK = "think_block"
BOXED_ANSWER = "boxed_answer"
REFLECTION_BLOCK = "reflection_block"
CLEAN_ENDING = "clean_ending"

FORMAT_RULES = (THINK_FIRST, THINK_BLOCK, BOXED_ANSWER, REFLECTION_BLOCK, CLEAN_ENDING)
"""Rule names, in the order they are checked and reported."""

_TAGS = (THINK_OPEN, THINK_CLOSE, REFLECTION_OPEN, REFLECTION_CLOSE)


def _strip_end_of_sequence(text: str) -> str:
    """``text`` without trailing whitespace and end-of-sequence tokens."""
    while True:
        stripped = text.rstrip()
        for token in END_OF_SEQUENCE_TOKENS:
            if stripped.endswith(token):
                stripped = stripped[: -len(token)]
        if stripped == text:
            return text
        text = stripped


def _block_is_well_formed(text: str, open_tag: str, close_tag: str) -> bool:
    """Exactly one non-empty ``open_tag…close_tag`` block holding no other tag."""
    if text.count(open_tag) != 1 or text.count(close_tag) != 1:
        return False
    start = text.index(open_tag) + len(open_tag)
    end = text.index(close_tag)
    body = text[start:end] if start <= end else ""
    return bool(body.strip()) and not any(tag in body for tag in _TAGS)


def _answer_has_one_box(text: str) -> bool:
    """Between ``</think>`` and ``<reflection>`` sits exactly one balanced, non-empty box."""
    think_end = text.find(THINK_CLOSE)
    reflection = text.find(REFLECTION_OPEN)
    if think_end < 0 or reflection < think_end:
        return False
    boxes = find_boxes(text[think_end + len(THINK_CLOSE) : reflection])
    return len(boxes) == 1 and bool(boxes[0].content and boxes[0].content.strip())


def _ends_after_reflection(text: str) -> bool:
    """Nothing but whitespace and end-of-sequence tokens follows ``</reflection>``."""
    end = text.rfind(REFLECTION_CLOSE)
    return end >= 0 and not _strip_end_of_sequence(text[end + len(REFLECTION_CLOSE) :])


def format_failures(response: str) -> tuple[str, ...]:
    """The names of the rules in :data:`FORMAT_RULES` that ``response`` breaks, in order.

    An empty tuple means the format is right (R_format = 1).
    """
    checks = {
        THINK_FIRST: response.lstrip().startswith(THINK_OPEN),
        THINK_BLOCK: _block_is_well_formed(response, THINK_OPEN, THINK_CLOSE),
        BOXED_ANSWER: _answer_has_one_box(response),
        REFLECTION_BLOCK: _block_is_well_formed(response, REFLECTION_OPEN, REFLECTION_CLOSE)
        and response.index(REFLECTION_OPEN) > response.find(THINK_CLOSE) >= 0,
        CLEAN_ENDING: _ends_after_reflection(response),
    }
    return tuple(rule for rule in FORMAT_RULES if not checks[rule])

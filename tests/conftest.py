"""Shared test helpers."""

from __future__ import annotations


def make_response(
    answer: str = "12.8",
    verdict_sentence: str = "The answer is correct.",
    think: str = "P = kAV^3, so k = 4/(2*512) and V^3 = 32/(4k) = 2048.",
) -> str:
    """A response in the trained format: think, boxed answer, reflection."""
    return (
        f"<think>{think}</think>\nSo the velocity is \\boxed{{{answer}}} mph.\n"
        f"<reflection>I substituted back into P = kAV^3. {verdict_sentence}</reflection>"
    )

"""R_reflect: the reflection's verdict, negation-aware."""

from __future__ import annotations

import pytest

from reward_service.scoring._extract import reflection_text
from reward_service.scoring._reflect import classify_verdict


@pytest.mark.parametrize(
    ("reflection", "verdict"),
    [
        ("The answer is correct.", "correct"),
        ("The answer is wrong.", "wrong"),
        ("The final answer is correct", "correct"),
        ("the answer is incorrect.", "wrong"),
        ("The answer is not correct.", "wrong"),
        ("This is correct.", "correct"),
        ("My computation is right.", "correct"),
        ("I verified each step.", "correct"),
        ("I made a mistake in step 2.", "wrong"),
        ("The result is incorrect.", "wrong"),
        ("That is not correct.", "wrong"),
        ("The value isn't right.", "wrong"),
        ("The value isn’t right.", "wrong"),
        ("This is wrong.", "wrong"),
        ("There are no mistakes.", "correct"),
        ("Nothing is wrong here.", "correct"),
        ("It is not wrong.", "correct"),
        ("The calculation was never correct.", "wrong"),
        ("Step one looks right but step two is wrong.", None),
        ("I recomputed V^3 = 2048.", None),
        ("", None),
        ("It looks right, though I first thought it wrong. The answer is correct.", "correct"),
        ("I verified it twice... The answer is wrong.", "wrong"),
        ("It is correct. Wait, no. The answer is wrong.", "wrong"),
        ("The answer is wrong. Actually it is correct.", None),
        ("This is a right triangle, so the legs are 3 and 4.", None),
        ("The answer is correct!", "correct"),
        ("THE ANSWER IS WRONG.", "wrong"),
        ("I cannot confirm this.", "wrong"),
    ],
)
def test_classify_verdict(reflection: str, verdict: str | None) -> None:
    assert classify_verdict(reflection) == verdict


def test_no_reflection_is_no_verdict() -> None:
    assert classify_verdict(None) is None


@pytest.mark.parametrize(
    ("response", "text"),
    [
        ("<think>a</think> b <reflection>c</reflection>", "c"),
        ("<think>a</think> b <reflection>unclosed", "unclosed"),
        ("no tags at all", None),
        ("<reflection>one</reflection><reflection>two</reflection>", "two"),
    ],
)
def test_reflection_text(response: str, text: str | None) -> None:
    assert reflection_text(response) == text

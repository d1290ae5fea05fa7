"""Answer forms of issue 23: font commands, math inside text, stray punctuation after a
whole answer, and where the answer is read when a reflection is drafted while thinking."""

from __future__ import annotations

import pytest

from reward_service.scoring import MultiSignalMathReward, normalize_answer
from reward_service.scoring._extract import extract_answer
from reward_service.scoring._format import FORMAT_RULES, format_failures
from reward_service.scoring._normalize import _FONT_COMMANDS, _TEXT_MODE_COMMANDS
from reward_service.scoring._verify import verify_answer

NOT_FONTS = ("mathbb", "mathcal", "mathfrak", "mathscr", "operatorname", "overline")
"""Commands that make another symbol of their argument, never a font of a number."""


@pytest.mark.parametrize("command", _FONT_COMMANDS)
@pytest.mark.parametrize(
    ("argument", "label", "normalised"),
    [("5", "5", "5"), ("-3", "-3", "-3"), ("12.8 mph", "12.8", "12.8"), ("5 cm", "5", "5")],
)
def test_every_font_command_around_a_number_is_the_number(
    command: str, argument: str, label: str, normalised: str
) -> None:
    written = f"\\{command}{{{argument}}}"
    assert normalize_answer(written) == normalised
    assert verify_answer(written, label).equal
    assert not verify_answer(written, "6").equal


@pytest.mark.parametrize("command", NOT_FONTS)
def test_a_command_that_makes_another_symbol_is_kept(command: str) -> None:
    written = f"\\{command}{{5}}"
    assert normalize_answer(written) == written
    assert not verify_answer(written, "5").equal


@pytest.mark.parametrize("command", _TEXT_MODE_COMMANDS)
@pytest.mark.parametrize(
    ("argument", "label", "normalised"),
    [
        ("$\\frac{1}{2}$", "0.5", "\\frac{1}{2}"),
        ("$12.8$ mph", "12.8", "12.8"),
        ("$x = 5$", "5", "x = 5"),
        ("$80\\%$", "0.8", "80"),
    ],
)
def test_math_inside_text_is_math(command: str, argument: str, label: str, normalised: str) -> None:
    written = f"\\{command}{{{argument}}}"
    assert normalize_answer(written) == normalised
    assert verify_answer(written, label).equal


@pytest.mark.parametrize(
    ("answer", "label", "equal"),
    [
        ("\\text{$12.8$ mph}", "12.8 \\text{ km}", False),  # the words stay words: a unit
        ("\\text{about $5$}", "5", False),  # words before the math are kept
        ("\\text{$5$ or more}", "5", False),
        ("\\mathbb{$1$}", "1", False),  # not text: left as written
    ],
)
def test_the_text_around_math_still_counts(answer: str, label: str, equal: bool) -> None:
    assert verify_answer(answer, label).equal is equal


@pytest.mark.parametrize(
    ("answer", "label", "equal"),
    [
        ("7,", "7", True),
        ("7;", "7", True),
        ("7.", "7", True),
        ("7 ,", "7", True),
        ("\\frac{1}{2};", "0.5", True),
        ("x = 7,", "7", True),
        ("\\{1, 2\\},", "\\{1, 2\\}", True),
        ("1,2", "\\{1, 2\\}", True),  # a pair stays a pair
        ("1,2", "1", False),
        ("1,2,", "1", False),
        ("7,,", "7", False),  # one mark of punctuation, not any run of them
        ("7\\,", "7", True),  # a thin space, not a comma
    ],
)
def test_sentence_punctuation_after_a_whole_answer_goes(
    answer: str, label: str, equal: bool
) -> None:
    assert verify_answer(answer, label).equal is equal


DRAFT = "<reflection>Draft: maybe 4 is correct.</reflection>"
ANSWER_REGIONS = [
    # (response, answer, format failures)
    (
        f"<think>Try 4. {DRAFT} No, redo it.</think> \\boxed{{5}} "
        "<reflection>The answer is correct.</reflection>",
        "5",
        ("think_block", "reflection_block"),
    ),
    (
        f"<think>\\boxed{{4}} {DRAFT}</think> The answer is \\boxed{{5}}.",
        "5",
        ("think_block", "boxed_answer", "reflection_block", "clean_ending"),
    ),
    (f"<think>t</think> \\boxed{{5}} {DRAFT}", "5", ()),
    (f"<think>t \\boxed{{4}} {DRAFT} \\boxed{{5}}", "4", FORMAT_RULES[1:]),
]
"""A reflection drafted inside <think>...</think> is thinking: the answer is still the box
after </think>; a reflection after an unclosed <think> ends the answer, as before."""


@pytest.mark.parametrize(("response", "answer", "failures"), ANSWER_REGIONS)
def test_a_reflection_drafted_while_thinking_does_not_move_the_answer(
    response: str, answer: str, failures: tuple[str, ...]
) -> None:
    assert extract_answer(response) == answer
    assert format_failures(response) == failures


def test_the_draft_is_not_the_reflection_read() -> None:
    response = ANSWER_REGIONS[0][0]
    result = MultiSignalMathReward().score(response, "5")
    assert (result.pred, result.verify, result.format, result.verdict) == ("5", 1, 0, "correct")

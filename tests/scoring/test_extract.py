"""Answer extraction: the last boxed answer of the answer region."""

from __future__ import annotations

import pytest

from reward_service.scoring._extract import extract_answer, find_boxes


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        ("\\boxed{12.8}", "12.8"),
        ("\\fbox{12.8}", "12.8"),
        ("\\boxed 5", "5"),
        ("\\boxed{\\frac{64}{5}}", "\\frac{64}{5}"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("<think>\\boxed{1}</think> answer \\boxed{2}", "2"),
        ("<think>\\boxed{1}</think> no box here", None),
        ("<think>t</think> \\boxed{3} <reflection>\\boxed{4} is it</reflection>", "3"),
        # the answer ends at the first <reflection> and starts after the last </think>
        # before it: a </think> inside or after the reflection does not move it
        ("<think>t</think> \\boxed{3} <reflection>Hmm </think> so \\boxed{5}.</reflection>", "3"),
        ("<think>t</think> \\boxed{3} <reflection>ok</reflection> </think> \\boxed{5}", "3"),
        (
            "<think>t</think> \\boxed{3} <reflection>ok</reflection></think>\\boxed{5}"
            "<reflection>Correct.</reflection>",
            "3",
        ),
        ("\\boxed{2} <reflection>r</reflection> </think> \\boxed{5}", "2"),
        ("<think>a</think> \\boxed{1} </think> \\boxed{4} <reflection>r</reflection>", "4"),
        ("<reflection>early</reflection><think>t</think> \\boxed{1}", None),
        # a reflection drafted inside <think>...</think> is thinking
        ("<think><reflection>d</reflection> \\boxed{1}</think> \\boxed{2} <reflection>r", "2"),
        ("\\boxed{ 12.8 }", "12.8"),
        ("\\boxed{}", None),
        ("\\boxed{12.8", None),
        ("\\boxedfoo{1}", None),
        ("no answer", None),
        ("", None),
    ],
)
def test_extract_answer(response: str, answer: str | None) -> None:
    assert extract_answer(response) == answer


def test_nested_boxes_count_once() -> None:
    boxes = find_boxes("\\boxed{\\boxed{1}} and \\boxed{2}")
    assert [box.content for box in boxes] == ["\\boxed{1}", "2"]


def test_megabyte_of_open_braces_is_linear() -> None:
    assert extract_answer("\\boxed{" + "{" * 1_000_000) is None

"""R_reflect: the reflection's verdict, read clause by clause like a careful grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reward_service.scoring import MultiSignalMathReward
from reward_service.scoring._extract import reflection_text
from reward_service.scoring._reflect import classify_verdict
from tests.answer_corpus import qwen_response

CORPUS = json.loads((Path(__file__).parents[1] / "data" / "reflections.json").read_text())
"""Labelled reflections in every class of the issue: closing sentences, questions answered
with "No,", "no doubt"/"no errors", "not right", conclusions after a discussion, double
negatives, hedges, questions, quotes of the question, Chinese, mixed, no verdict."""


def test_the_corpus_covers_every_class() -> None:
    classes = {case["class"] for case in CORPUS}
    assert len(CORPUS) >= 200
    assert {"question answered", "no doubt, no errors", "not right", "hedges"} <= classes
    assert {"conclusion after discussion", "double negatives", "chinese"} <= classes
    assert {"quoting the question", "questions", "no verdict"} <= classes
    # the classes of the adversarial review (issue 16's follow-up)
    assert {"noun phrases", "stated comparison", "negated thinking", "replies"} <= classes
    assert {"qualified verdicts", "self-reversal", "cannot confirm", "policy"} <= classes
    assert {"more judgement words"} <= classes
    # the second review: doubt, a judgement of saying it, an earlier attempt
    assert {"doubt", "judging a statement", "earlier attempt"} <= classes
    # issue 23: a remark after the verdict, more verdict words, a reply with a colon or dash
    assert set(NEW_CLASSES) <= classes
    assert {case["verdict"] for case in CORPUS} == {"correct", "wrong", None}


NEW_CLASSES = ("remark after the verdict", "verdict words", "reply with a colon or dash")


@pytest.mark.parametrize("name", NEW_CLASSES)
def test_a_reader_of_correct_everywhere_fails_each_new_class(name: str) -> None:
    """At least 15 phrasings per class, half of them not "correct" (a "wrong" verdict, a
    negated one), so reading every such sentence as "correct" fails the class."""
    verdicts = [case["verdict"] for case in CORPUS if case["class"] == name]
    assert len(verdicts) >= 15
    assert 2 * sum(verdict != "correct" for verdict in verdicts) >= len(verdicts)


@pytest.mark.parametrize(
    "case", CORPUS, ids=[f"{c['class']}: {c['reflection'][:40]}" for c in CORPUS]
)
def test_reads_the_corpus_like_a_careful_grader(case: dict[str, str | None]) -> None:
    assert classify_verdict(case["reflection"]) == case["verdict"]


@pytest.mark.parametrize(
    ("reflection", "verdict"),
    [
        # the misreads measured in the issue
        ("Does 2(7)+1 = 11? No, it's wrong.", "wrong"),
        ("I have no doubt this is correct.", "correct"),
        ("I found no errors in the steps, so my solution is correct.", "correct"),
        ("That's not right.", "wrong"),
        ("The correct value should be 5, so my answer is wrong.", "wrong"),
        (
            "I made an arithmetic error earlier, but after fixing it the final answer 5 is "
            "correct.",
            "correct",
        ),
        ("答案是对的。", "correct"),
        ("答案错误。", "wrong"),
        ("不对。", "wrong"),
        ("正确。", "correct"),
    ],
)
def test_the_measured_misreads_are_read_right(reflection: str, verdict: str) -> None:
    assert classify_verdict(reflection) == verdict


REFLECTION_DECISIONS = {
    # reflection: (verdict, why); each is also a row of the corpus ("policy", "stated
    # comparison"), this says why
    "The correct answer is 7, but I got 5.": (
        None,
        "the reader grades words, never compares values: a stated comparison commits only "
        'with a judgement ("..., so my answer is wrong")',
    ),
    "The correct answer is 5, and my answer is 5.": (None, "as above, for a match"),
    "The answer is correct but the reasoning is wrong.": (
        "wrong",
        "the last clause that commits decides; a reflection that undermines its answer is "
        'never paid as a confident "correct"',
    ),
    "I cannot find an error, but I'm not sure the answer is correct.": (
        "correct",
        'a hedge commits to nothing, so the clause before it decides (as for "might")',
    ),
    "The answer should be correct.": (None, '"should" hedges, like "might"'),
    "It is wrong to say the answer is incorrect.": (
        "correct",
        "a judgement of saying something grades what is said: wrong to say it is incorrect "
        "is to say it is correct, as a careful grader reads it (never wrong)",
    ),
    "I doubt the answer is correct.": (None, "doubting hedges: it commits to nothing"),
    "The answer is correct, I was wrong earlier.": (
        "correct",
        'the "wrong" grades an earlier attempt, not the final answer',
    ),
}
"""Readings a reviewer may dispute, decided on purpose (README, "What counts as a right
answer")."""


@pytest.mark.parametrize(("reflection", "decision"), REFLECTION_DECISIONS.items(), ids=str)
def test_decided_readings(reflection: str, decision: tuple[str | None, str]) -> None:
    verdict, _why = decision
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


VERDICT_CLAUSES = [
    ("the answer is correct", "correct"),
    ("my answer is wrong", "wrong"),
    ("there are no errors", "correct"),
    ("that's not right", "wrong"),
    ("it is not incorrect", "correct"),
    ("I made a mistake in the last step", "wrong"),
    ("I have no doubt it is right", "correct"),
    ("答案正确", "correct"),
    ("答案不对", "wrong"),
]
NEUTRAL_CLAUSES = [
    "I did not use the quadratic formula",
    "no calculator was needed",
    "nothing else matters here",
    "I never divided by zero",
    "No",
    "not that it matters much",
    "neither root is negative",
    "without loss of generality x is positive",
    "it cannot be simplified further",
    "none of the terms cancel",
    "I don't need the second equation",
    "there is no other case",
    "hardly any work was needed",
    "没有用计算器",
    "不需要第二个方程",
]
SEPARATORS = [". ", ", ", "; ", "! ", ".\n", "，", "。", ", but ", ", so ", " because "]


@settings(max_examples=300, deadline=None)
@given(
    verdict=st.sampled_from(VERDICT_CLAUSES),
    before=st.lists(st.tuples(st.sampled_from(NEUTRAL_CLAUSES), st.sampled_from(SEPARATORS))),
    after=st.lists(st.tuples(st.sampled_from(SEPARATORS), st.sampled_from(NEUTRAL_CLAUSES))),
    end=st.sampled_from(["", ".", "!", "。"]),
)
def test_no_negation_outside_its_clause_flips_a_verdict(
    verdict: tuple[str, str],
    before: list[tuple[str, str]],
    after: list[tuple[str, str]],
    end: str,
) -> None:
    """Clauses full of negations ("no", "not", "never", "nothing", "without", 没有, 不...)
    around a verdict's clause, joined by any clause or sentence break: the verdict stands."""
    clause, expected = verdict
    text = "".join(neutral + separator for neutral, separator in before) + clause
    text += "".join(separator + neutral for separator, neutral in after) + end
    assert classify_verdict(text) == expected


@pytest.mark.parametrize(
    ("reflection", "verdict"),
    [
        ("I verified it again and it is correct, confirmed. " * 21_000, "correct"),
        ("wrong " * 175_000, "wrong"),
        ("the right angle " * 65_000, None),
        ("might be wrong, " * 65_000, None),
        ("Is it wrong? " * 80_000 + "No.", "correct"),
        ("right angle " * 87_000 + "中", None),
        ("正确答案" * 90_000, None),
        ("Let me check if it's wrong. " * 40_000, None),
        ("Is it right? Absolutely. " * 42_000, "correct"),
        ("The answer is correct. Wait, no, it isn't. " * 24_000, "wrong"),
        ("Note: a common error is wrong, wrong, " * 27_000, None),
        ("The equation holds for x = 2, it stands for 3 m off the ground. " * 16_000, None),
        ("The result stands. Any mistake? No - every step holds. " * 19_000, "correct"),
        ("an error " * 115_000 + "which doesn't change the answer", None),
    ],
    ids=[
        *("long reflection", "one long clause", "words that grade nothing", "hedges", "asked"),
        *("English that grades nothing in Chinese", "noun phrases", "checks", "replies"),
        *("reversals", "remarks", "verdict words that name something else", "dashes"),
        "harmless errors",
    ],
)
def test_a_megabyte_is_read_in_one_pass(reflection: str, verdict: str | None) -> None:
    """About 1 MiB each: the reading goes back from the end without re-reading, and stops
    after 4,096 judgement words that commit to nothing (see benchmarks/RESULTS.md for the
    times; the pytest timeout is the backstop against quadratic reading)."""
    assert classify_verdict(reflection) == verdict


REWARD = MultiSignalMathReward()


@pytest.mark.parametrize("case", CORPUS[::7], ids=lambda case: case["reflection"][:40])
def test_the_reward_pays_reflect_for_the_verdict_read(case: dict[str, str | None]) -> None:
    """Through the real scoring path: a right answer whose reflection says "correct" gets
    reflect = 1, "wrong" or no verdict gets 0."""
    result = REWARD.score(qwen_response("12.8", case["reflection"] or ""), "12.8")
    assert (result.verify, result.verdict) == (1, case["verdict"])
    assert result.reflect == int(case["verdict"] == "correct")

"""R_verify: equivalence of the extracted answer with the ground truth, via math-verify."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException

from reward_service.scoring import MultiSignalMathReward
from reward_service.scoring._verify import verify_answer
from tests.answer_corpus import qwen_response, right_pairs, wrong_pairs

CORPUS = json.loads((Path(__file__).parents[1] / "data" / "math_verify_cases.json").read_text())
"""math-verify's own regression cases (tests/test_all.py, test_numina_cases.py,
test_yujianll.py, test_boxed.py), restated as (label, boxed answer, truth) for the way this
scorer calls it: the answer is a box's content, the label plain text or LaTeX."""

KNOWN_DIFFERENCES = {
    # (answer, label): (our verdict, math-verify's alone where it is the same everywhere, why)
    ("(0.6,2.6667]", "(\\frac{3}{5},\\frac{8}{3}]"): (
        False,
        False,
        "math-verify's test compares at 2 decimal places; the scorer keeps its default (6)",
    ),
    ("1\\,000", "0"): (False, True, "a thin space groups digits: 1\\,000 is 1000, not 1*0"),
    ("1\\,000", "1000"): (True, False, "a thin space groups digits"),
    ("1 000", "1000"): (True, False, "a space between 3-digit groups groups digits"),
    ("\\text{12.8}", "12.8"): (True, False, "\\text{} around a number is the number"),
    ("\\text{12.8 mph}", "12.8"): (True, False, "a unit inside \\text{} after a number goes"),
    ("5 dollars", "5"): (True, False, "a unit word after a number goes"),
    ("5.", "5"): (True, False, "a sentence's final period is not part of the answer"),
    ("\\left. 5 \\right.", "5"): (True, False, "\\left. and \\right. are invisible"),
    ("\\frac{3+4i}{5}", "\\frac{3}{5}+\\frac{4}{5}i"): (
        True,
        False,
        "i is the imaginary unit on both sides, never a real symbol on one",
    ),
    ("i^2", "-1"): (True, False, "i is the imaginary unit (latex2sympy2_extended drops I's power)"),
    ("12.5\\%", "12.5"): (True, False, "a percent sign reads as the number of percent too"),
    ("80\\%", "80"): (
        True,
        None,
        "with antlr4 4.9.3 latex2sympy2_extended fails on every percent (math-verify: 0); "
        "with 4.13.2 it reads 80% as 80 (1): the scorer reads it the same in both",
    ),
    ("0.8", "80\\%"): (True, None, "the value reading of a percent, in every runtime"),
    ("204_6", "204_5"): (False, True, "math-verify ignores the base; 204_6 is 76, 204_5 is 54"),
    ("\\varnothing", "\\emptyset"): (True, False, "both are the empty set"),
    # the adversarial review's findings (math-verify drops any trailing \\text{} as a unit)
    ("3 \\text{ PM}", "3 \\text{ AM}"): (False, True, "AM/PM is part of the answer, not a unit"),
    ("4 \\text{ million}", "4"): (False, True, "a multiplier is applied, never dropped"),
    ("4 \\text{ million}", "4000000"): (True, False, "a multiplier is applied exactly"),
    ("5 \\text{ cm}", "5 \\text{ m}"): (False, True, "two different units are never equal"),
    ("5 \\text{ minutes}", "5 \\text{ hours}"): (False, True, "two different units"),
    ("6 \\text{ cm}", "6\\text{ cm}^2"): (False, True, "cm and cm^2 are different units"),
    ("5 \\text{ or more}", "5"): (False, True, "words that are no unit are part of the answer"),
    ("x \\text{ is even}", "x"): (False, True, "words that are no unit are part of the answer"),
    ("\\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{-1\\pm\\sqrt{5}}{2}"): (
        True,
        False,
        "one \\pm is the pair of its values, whatever the spacing (math-verify compares "
        "a \\pm inside a fraction as text)",
    ),
    ("\\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}"): (
        True,
        False,
        "one \\pm is the pair of its values",
    ),
    ("0.\\overline{6}", "\\frac23"): (True, False, "a repeating decimal is its fraction"),
    ("5 = x", "5"): (True, False, "number = variable reads like variable = number"),
    ("x<3", "(-\\infty,3)"): (
        True,
        False,
        "an inequality against an interval label, the way math-verify reads an interval "
        "answer against an inequality label (it reads only that direction)",
    ),
    ("-2 < x < 3", "(-2,3)"): (True, False, "an inequality against an interval label"),
    ("\\$5", "5\\%"): (
        False,
        None,
        "dollars and percent are different units (math-verify: 0 with antlr4 4.9.3, 1 with 4.13.2)",
    ),
}
"""Where the scorer knowingly gives another verdict than math-verify alone."""

DECISIONS = {
    # (answer, label): (our verdict, math-verify's alone or None, why): cases where the
    # right verdict is a convention, decided on purpose (README, "What counts as a right
    # answer"); where ours equals math-verify's, the scorer follows it
    ("3.141593", "\\pi"): (
        True,
        True,
        "follows math-verify: a decimal that equals the value to math-verify's float "
        "rounding (6 decimal places) is accepted...",
    ),
    ("0.333333", "\\frac{1}{3}"): (True, True, "...as above"),
    ("3.14159", "\\pi"): (False, False, "...and a shorter approximation is not"),
    ("6.283", "2\\pi"): (False, False, "...so 2\\pi against 6.283 is 0"),
    ("(-\\infty,3)", "x<3"): (True, True, "follows math-verify: an interval answer..."),
    ("x<3", "(-\\infty,3)"): (True, False, "...and departs: the inequality answer too"),
    ("1.5 \\text{ m}", "150 \\text{ cm}"): (False, False, "units are never converted"),
    ("5 \\text{ squared}", "25"): (False, False, "words are never evaluated but multipliers"),
    ("5 \\text{ (approximately)}", "5"): (False, True, "a word that is no unit is kept"),
    ("0.5\\%", "\\frac12"): (
        True,
        None,
        "a percent sign on one side only may be dropped, as in MATH (80\\% matches 80)",
    ),
    ("5 \\text{ apples}", "5"): (True, True, "a counted noun goes, like a unit"),
    ("6 \\text{ ways}", "6 \\text{ arrangements}"): (
        True,
        True,
        "counted nouns never make answers differ",
    ),
    ("2\\frac{1}{2}", "\\frac{5}{2}"): (True, True, "follows math-verify: a mixed number"),
}
"""Conventions decided on purpose, with math-verify's verdict alone beside ours."""

_ANSWER_CONFIG = (LatexExtractionConfig(boxed_match_priority=0),)
_LABEL_CONFIG = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())


def _math_verify_alone(answer: str, label: str) -> bool:
    """math-verify's verdict on the pair, parsed the way the scorer parses (no normalising)."""
    return verify(
        parse(f"\\boxed{{{label}}}", _LABEL_CONFIG), parse(f"\\boxed{{{answer}}}", _ANSWER_CONFIG)
    )


@pytest.mark.parametrize(
    ("answer", "ground_truth", "equal"),
    [
        # pi1: the label is 12.8 (the exact answer 8*cbrt(4) = 12.699... is not the label)
        ("12.8", "12.8", True),
        ("\\frac{64}{5}", "12.8", True),
        ("12.80", "12.8", True),
        ("12.8 \\text{ mph}", "12.8", True),
        ("v = 12.8", "12.8", True),
        ("V=12.8", "12.8", True),
        ("\\dfrac{64}{5}", "12.8", True),
        ("12.8\\text{ miles per hour}", "12.8", True),
        ("12", "12.8", False),
        ("12.7", "12.8", False),
        ("\\sqrt[3]{2048}", "12.8", False),
        ("8\\sqrt[3]{4}", "12.8", False),
        ("128", "12.8", False),
        ("-12.8", "12.8", False),
        # ground truth given as LaTeX
        ("12.8", "\\frac{64}{5}", True),
        ("12.8", "$12.8$", True),
        ("12.8", "\\boxed{12.8}", True),
        # symbolic forms, sets, tuples, intervals, percent
        ("2\\sqrt{2}", "\\sqrt{8}", True),
        ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
        ("\\{1, 2\\}", "\\{2, 1\\}", True),
        ("(1, 2)", "(2, 1)", False),
        ("[0, 1)", "[0,1)", True),
        ("(0, 1)", "[0,1)", False),
        ("50\\%", "50\\%", True),
        ("x^2 - 1", "(x-1)(x+1)", True),
        ("\\pi", "3.14", False),
        ("not a number at all", "12.8", False),
    ],
)
def test_equivalence(answer: str, ground_truth: str, equal: bool) -> None:
    outcome = verify_answer(answer, ground_truth)
    assert (outcome.equal, outcome.status) == (equal, "ok")


def test_missing_answer_is_not_equal() -> None:
    assert verify_answer(None, "12.8").equal is False


def test_unparseable_ground_truth_is_an_error_not_a_wrong_answer() -> None:
    outcome = verify_answer("12.8", "")
    assert outcome.status == "error"
    assert "ground truth" in (outcome.error or "")


def test_in_process_timeout_reports_timeout_in_main_thread() -> None:
    outcome = verify_answer("9^{9^{9^{9^{9}}}}", "12.8", timeout_s=1)
    assert (outcome.equal, outcome.status) == (False, "timeout")


def test_works_off_the_main_thread() -> None:
    """math-verify's signal.alarm raises there; we must still verify (verl issue 3407)."""
    outcomes = []
    thread = threading.Thread(
        target=lambda: outcomes.append(verify_answer("\\frac{64}{5}", "12.8"))
    )
    thread.start()
    thread.join(timeout=60)
    assert outcomes and outcomes[0].equal and outcomes[0].status == "ok"


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: f"{case['answer']} vs {case['gold']}")
def test_math_verify_corpus(case: dict[str, object]) -> None:
    """Every case restated from math-verify's tests, 100%: those where the scorer differs
    on purpose are in KNOWN_DIFFERENCES and checked there."""
    answer, label = str(case["answer"]), str(case["gold"])
    expected = KNOWN_DIFFERENCES.get((answer, label), (case["equal"],))[0]
    outcome = verify_answer(answer, label)
    assert (outcome.equal, outcome.status) == (expected, "ok")


@pytest.mark.parametrize(
    ("pair", "difference"), [*KNOWN_DIFFERENCES.items(), *DECISIONS.items()], ids=str
)
def test_known_differences_from_math_verify(
    pair: tuple[str, str], difference: tuple[bool, bool | None, str]
) -> None:
    ours, alone, _why = difference
    assert verify_answer(*pair).equal is ours
    if alone is not None:  # math-verify alone really differs (else the entry is stale)
        assert _math_verify_alone(*pair) is alone


REWARD = MultiSignalMathReward()


@pytest.mark.parametrize(("answer", "label"), right_pairs(), ids=str)
def test_answers_equal_to_the_label_are_right(answer: str, label: str) -> None:
    """Real answer shapes (fractions, percents, degrees, units, separators, intervals,
    sets, matrices, text, complex numbers...) through the whole scoring path."""
    result = REWARD.score(qwen_response(answer), label)
    assert (result.verify, result.status, result.pred) == (1, "ok", answer)


@pytest.mark.parametrize(("answer", "label"), wrong_pairs(), ids=str)
def test_answers_not_equal_to_the_label_are_wrong(answer: str, label: str) -> None:
    result = REWARD.score(qwen_response(answer), label)
    assert (result.verify, result.status) == (0, "ok")


def test_the_in_process_timeout_states_its_limit() -> None:
    outcome = verify_answer("9^{9^{9^{9^{9}}}}", "12.8", timeout_s=0.5)
    assert (outcome.status, outcome.error) == ("timeout", "verification exceeded 1s")


@pytest.fixture
def deadline_in_half_a_second() -> Iterator[None]:
    """The caller's own deadline, raising math-verify's TimeoutException (as the pool's
    workers do with their CPU-time limit)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutException("the caller's deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("deadline_in_half_a_second")
def test_a_callers_deadline_reaches_the_caller() -> None:
    """With no limit of its own, verification lets the caller's TimeoutException through,
    so the caller reports the timeout with its own limit (never "exceeded 0s")."""
    with pytest.raises(TimeoutException):
        MultiSignalMathReward(verify_timeout_s=None).verify("9^{9^{9^{9^{9}}}}", "12.8")

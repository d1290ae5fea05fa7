"""MATH-style normalisation of answers and labels, and what it does to verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reward_service.scoring import MultiSignalMathReward, normalize_answer
from reward_service.scoring._normalize import NormalForm, comparable_readings, normal_form
from reward_service.scoring._verify import verify_answer
from tests.answer_corpus import all_pairs, qwen_response


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        # digit groups
        ("1\\,000", "1000"),
        ("1\\!000", "1000"),
        ("1{,}000", "1000"),
        ("1,\\!000", "1000"),
        ("1~000", "1000"),
        ("1\\,000\\,000", "1000000"),
        ("1 000", "1000"),
        ("1,000", "1,000"),  # left to math-verify, which reads it as 1000
        ("0.123 456", "0.123 456"),  # digits after a decimal point are not regrouped
        # text around numbers, units after them
        ("\\text{12.8}", "12.8"),
        ("\\textbf{5}", "5"),
        ("\\mathrm{5}", "5"),
        ("\\text{12.8 mph}", "12.8"),
        ("12.8 \\text{ mph}", "12.8"),
        ("15\\mbox{ cm}^2", "15"),
        ("125\\textnormal{ miles}", "125"),
        ("12.8 mph", "12.8"),
        ("4 square feet", "4"),
        ("\\frac{1}{3}\\text{ meters}", "\\frac{1}{3}"),
        ("\\text{5 or more}", "5 \\text{ or more}"),  # a phrase, not a unit: kept
        ("\\text{Evelyn}", "\\text{Evelyn}"),
        ("x \\text{ is even}", "x \\text{ is even}"),
        ("2 x", "2 x"),  # a symbol after a number is never a unit
        # signs around the number
        ("\\$18.90", "18.90"),
        ("30^\\circ", "30"),
        ("30^{\\circ}", "30"),
        ("30°", "30"),
        ("80\\%", "80"),
        ("80 percent", "80"),
        ("80%", "80"),
        # delimiters, periods
        ("\\left. 5 \\right.", "5"),
        ("\\left( \\frac{1}{2} \\right)", "( \\frac{1}{2} )"),
        ("5.", "5"),
        ("1, 2, 3, \\ldots.", "1, 2, 3, \\ldots"),
        ("$5$", "5"),
        ("\\boxed{5}", "5"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        # the imaginary unit, bases, the empty set, gamma
        ("3+4i", "3+4I"),
        ("i^2", "{I}^2"),
        ("x_i + \\pi", "x_i + \\pi"),
        ("\\mathbf{i}", "\\mathbf{i}"),
        ("204_5", "54"),
        ("204_{5}", "54"),
        ("208_5", "208_5"),  # 8 is no base-5 digit
        ("a_{10}", "a_{10}"),
        ("\\varnothing", "\\emptyset"),
        ("\\gamma", "\u03b3"),
        ("\\Gamma(5)", "\\Gamma(5)"),
        # matrices keep their row breaks
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ],
)
def test_normalize_answer(written: str, normalised: str) -> None:
    assert normalize_answer(written) == normalised


@pytest.mark.parametrize(
    ("written", "readings"),
    [
        ("80\\%", ("80", "\\frac{80}{100}")),
        ("12.5 percent", ("12.5", "\\frac{12.5}{100}")),
        ("\\boxed{80\\%}.", ("80", "\\frac{80}{100}")),
        ("10\\%, 20\\%", ("10 , 20",)),  # percent inside a bigger answer: the number only
        ("80", ("80",)),
    ],
)
def test_a_whole_percentage_has_two_readings(written: str, readings: tuple[str, ...]) -> None:
    assert normal_form(written).readings == readings


@pytest.mark.parametrize(
    ("written", "readings", "units", "qualifier"),
    [
        # units: dropped, remembered in one spelling
        ("5 \\text{ cm}", ("5",), {"cm"}, ""),
        ("5 centimeters", ("5",), {"cm"}, ""),
        ("\\text{5 cm}", ("5",), {"cm"}, ""),
        ("15\\mbox{ cm}^2", ("15",), {"cm^2"}, ""),
        ("6 \\text{ square centimeters}", ("6",), {"cm^2"}, ""),
        ("4 square feet", ("4",), {"ft^2"}, ""),
        ("12.8\\text{ miles per hour}", ("12.8",), {"mi/h"}, ""),
        ("12.8 mph", ("12.8",), {"mi/h"}, ""),
        ("60 \\text{ km/h}", ("60",), {"km/h"}, ""),
        ("5 \\text{ mins}", ("5",), {"min"}, ""),
        ("\\$5", ("5",), {"$"}, ""),
        ("5 \\text{ dollars}", ("5",), {"$"}, ""),
        ("30^\\circ", ("30",), {"deg"}, ""),
        ("90^\\circ \\text{C}", ("90",), {"°C"}, ""),
        ("90°F", ("90",), {"°F"}, ""),
        ("90 \\text{ degrees Celsius}", ("90",), {"°C"}, ""),
        ("5\\text{千米}", ("5",), {"km"}, ""),
        ("20\\text{元}", ("20",), {"元"}, ""),
        ("80\\%", ("80", "\\frac{80}{100}"), {"%"}, ""),
        # counted nouns: dropped, no unit
        ("204 \\text{ ways}", ("204",), set(), ""),
        ("10\\text{ square units}", ("10",), set(), ""),
        ("5 apples", ("5",), set(), ""),
        ("5\\text{th}", ("5",), set(), ""),  # an ordinal suffix
        ("5\\text{个}", ("5",), set(), ""),
        ("5\\text{ sprockets}", ("5",), set(), "sprockets"),  # not in the list: kept
        # multipliers: applied exactly, with the unit after them
        ("4 \\text{ million}", ("4000000",), set(), ""),
        ("\\text{4 million}", ("4000000",), set(), ""),
        ("1.5 \\text{ million dollars}", ("1500000",), {"$"}, ""),
        ("\\$5\\text{ million}", ("5000000",), {"$"}, ""),
        ("2.5 \\text{ dozen}", ("30",), set(), ""),
        ("-0.25 \\text{ thousand}", ("-250",), set(), ""),
        ("\\frac{1}{2} \\text{ million}", ("\\frac{1}{2}",), set(), "million"),  # no plain number
        # other words: the qualifier, one spelling for the clock
        ("3 \\text{ PM}", ("3",), set(), "pm"),
        ("3 \\text{ p.m.}", ("3",), set(), "pm"),
        ("3 pm", ("3",), set(), "pm"),
        ("\\text{12 noon}", ("12",), set(), "pm"),
        ("\\text{12 midnight}", ("12",), set(), "am"),
        ("5 \\text{ or more}", ("5",), set(), "or more"),
        ("5 \\text{ squared}", ("5",), set(), "squared"),
        ("5 more", ("5",), set(), "more"),
        ("2 x", ("2 x",), set(), ""),  # bare letters may be symbols: left to the parser
        ("2\\mathrm{e}", ("2\\mathrm{e}",), set(), ""),  # so is a lone letter that is no unit
        ("5\\text{s}", ("5",), {"s"}, ""),
        ("\\text{4 million}, \\text{5 million}", ("4000000, 5000000",), set(), ""),
        # repeating decimals, equations, plus-minus
        ("0.\\overline{6}", ("\\frac{2}{3}",), set(), ""),
        ("0.1\\overline{6}", ("\\frac{1}{6}",), set(), ""),
        ("1.\\overline{3}", ("\\frac{4}{3}",), set(), ""),
        ("0.\\overline{9}", ("1",), set(), ""),
        ("-0.\\overline{09}", ("-\\frac{1}{11}",), set(), ""),
        ("5 = x", ("x = 5",), set(), ""),
        # E notation, as str() writes a float label; a lone e is Euler's number
        ("1e-05", ("1\\times10^{-05}",), set(), ""),
        ("1.5E3", ("1.5\\times10^{3}",), set(), ""),
        ("2e", ("2e",), set(), ""),
        ("e^{2}", ("e^{2}",), set(), ""),
        ("\\frac{1}{2} = a_1", ("a_1 = \\frac{1}{2}",), set(), ""),
        ("7 = 11a+c", ("7 = 11a+c",), set(), ""),  # no lone variable on the right
        ("1\\pm\\sqrt{2}", ("1+\\sqrt{2}, 1-\\sqrt{2}",), set(), ""),
        (
            "\\frac{-1 \\pm \\sqrt{5}}{2}",
            ("\\frac{-1 + \\sqrt{5}}{2}, \\frac{-1 - \\sqrt{5}}{2}",),
            set(),
            "",
        ),
        ("1 \\pm 2, 3", ("1 \\pm 2, 3",), set(), ""),  # a list: left to math-verify
        ("x \\equiv 1 \\pmod{3}", ("x \\equiv 1 \\pmod{3}",), set(), ""),
    ],
)
def test_normal_form(
    written: str, readings: tuple[str, ...], units: set[str], qualifier: str
) -> None:
    assert normal_form(written) == NormalForm(readings, frozenset(units), qualifier)


@pytest.mark.parametrize(
    ("answer", "label", "pairs"),
    [
        ("80", "80\\%", [(0, 0), (0, 1)]),  # a percentage: its number and its value
        ("0.8\\%", "80\\%", [(0, 0)]),  # two percentages: their numbers only
        ("5 \\text{ cm}", "5", [(0, 0)]),  # a unit on one side only goes
        ("5 \\text{ cm}", "5 \\text{ centimeters}", [(0, 0)]),
        ("5 \\text{ cm}", "5 \\text{ m}", []),  # two different units
        ("\\$5", "5\\%", []),
        ("3 \\text{ PM}", "3", []),  # words on one side only
        ("3 \\text{ PM}", "3 \\text{ AM}", []),
        ("3 \\text{ p.m.}", "\\text{3 PM}", [(0, 0)]),
    ],
)
def test_comparable_readings(answer: str, label: str, pairs: list[tuple[int, int]]) -> None:
    assert comparable_readings(normal_form(answer), normal_form(label)) == pairs


# Hendrycks et al.'s MATH grader (modeling/math_equivalence.py, is_equiv/strip_string) and
# its unit tests (math_equivalence_test.py), restated: (answer, label, truth). Their test
# strings double some backslashes (Python escapes); the cases below say what they mean.
MATH_CASES = [
    ("\\tfrac{1}{2} + \\frac1{72}", "\\frac{1}{2} + 2/3", False),
    ("10, 4, 2", "4, 12, 2", False),
    ("\\tfrac{1}{2} +\\! \\frac1{72}", "\\dfrac{1}{2} +\\frac{1}{72}", True),
    ("10\\text{ units}", "10 ", True),
    ("10\\text{ units}", "100 ", False),
    ("10", "\\$10", True),
    ("\\left(x-2\\right)\\left(x+2\\right)", "(x-2)(x+2)", True),
    ("0.1", ".1", True),
    ("10\\%", "10", True),
    ("10\\sqrt{3} + \\sqrt4", "10\\sqrt3 + \\sqrt{4}", True),
    ("\\frac34i", "\\frac{3}{4}i", True),
    ("\\tfrac83", "\\frac{8}{3}", True),
    ("5x - 7y + 11z + 4 = 0", "x + y - z + 2 = 0", False),
    ("1/2", "\\frac{1}{2}", True),
    # what strip_string does, case by case
    ("0.5", "\\frac{1}{2}", True),
    ("k = 5", "5", True),
    ("90^{\\circ}", "90", True),
    ("90^\\circ", "90", True),
    ("\\$5.50", "5.50", True),
    ("\\frac{1}{2}\\text{ inches}", "\\frac{1}{2}", True),
    ("\\sqrt3", "\\sqrt{3}", True),
    (".5", "0.5", True),
    ("\\left[ 1, 2 \\right]", "[1,2]", True),
]
MATH_DIFFERENCES = {
    # strip_string compares strings, so a list in another order is another answer; the
    # scorer (math-verify) reads a list of values as the set of solutions it names
    ("10, 4, -2", "4, 10, -2"): True,
    ("0.1, 4, 2", "4, .1, 2"): True,
}


@pytest.mark.parametrize(("answer", "label", "truth"), MATH_CASES, ids=str)
def test_math_grader_cases(answer: str, label: str, truth: bool) -> None:
    outcome = verify_answer(answer, label)
    assert (outcome.equal, outcome.status) == (truth, "ok")


@pytest.mark.parametrize(("pair", "ours"), MATH_DIFFERENCES.items(), ids=str)
def test_known_differences_from_the_math_grader(pair: tuple[str, str], ours: bool) -> None:
    assert verify_answer(*pair).equal is ours


@pytest.mark.parametrize(
    ("answer", "label", "truth"),
    [
        # the measured misreads of the issue, through the whole scoring path
        ("1\\,000", "1000", True),
        ("1\\,000", "0", False),
        ("\\text{12.8}", "12.8", True),
        ("\\text{12.8 mph}", "12.8", True),
        ("5.", "5", True),
        ("\\frac{3+4i}{5}", "\\frac{3}{5}+\\frac{4}{5}i", True),
        ("\\left. 5 \\right.", "5", True),
        # percent and degrees, from either side
        ("80\\%", "80", True),
        ("80", "80\\%", True),
        ("0.8", "80\\%", True),
        ("80\\%", "0.8", True),
        ("30^\\circ", "30", True),
        ("30", "30^\\circ", True),
        # and never a wrong answer made right
        ("2\\pi", "6.283", False),
        ("x=5", "5", True),
        ("x=6", "5", False),
        ("8\\%", "80", False),
        ("0.8", "80", False),
        ("5 \\text{ apples}", "6", False),
        ("\\text{5 and 7}", "5", False),
        ("204_6", "204_5", False),
        ("i", "1", False),
    ],
)
def test_math_style_answers_through_the_reward(answer: str, label: str, truth: bool) -> None:
    result = MultiSignalMathReward().score(qwen_response(answer), label)
    assert (result.verify, result.status, result.pred) == (int(truth), "ok", answer)


@settings(max_examples=200, deadline=None)
@given(written=st.sampled_from([answer for pair in all_pairs() for answer in pair]))
def test_normalising_twice_changes_nothing(written: str) -> None:
    once = normalize_answer(written)
    assert normalize_answer(once) == once


@pytest.mark.parametrize(
    "text",
    [
        *("1" * 2**20, "1\\,000" * 150_000, "$" * 2**20, "i " * 2**19, "5" + " " * 2**20 + "cm"),
        "5 \\text{" + "cm " * 350_000 + "}",
        "5\\text{ cm}" * 100_000,
        "\\text{" + "5 cm}" * 200_000,
        "1" * 2**20 + " million",
        "5 " + "a " * 2**19,
        "0." + "3" * 2**20 + "\\overline{3}",
        "0.\\overline{3}" * 80_000,
        "\\pm" * 2**18,
        "1 \\pm " + "x" * 2**20,
        "=" * 2**20,
        "5 = " + "x" * 2**20,
        " " * 2**20 + "\\text{ cm}",
        "{" * 2**20 + "\\text{ cm}",
        "\\text{$" * 150_000,
        "\\mbox{$5$ cm}" * 80_000,
        "5" + ". ," * 350_000,
    ],
    ids=[
        *("digits", "digit groups", "dollars", "imaginary units", "spaces"),
        *("unit words", "units", "text numbers", "multiplier", "bare words"),
        *("repeating digits", "repeating decimals", "plus-minus signs", "plus-minus"),
        *("equals signs", "equation", "spaces before a unit", "braces before a unit"),
        *("math opened in text", "math in text", "punctuation"),
    ],
)
def test_a_megabyte_is_normalised_in_one_pass(text: str) -> None:
    """Long inputs (the dashboard normalises whatever the answer was): the pytest timeout
    is the backstop against a quadratic rewrite."""
    assert isinstance(normalize_answer(text), str)

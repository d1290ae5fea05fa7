"""An answer is judged as a whole or not at all: no fragment of a boxed answer that does not
parse whole stands in for it, and a chain of relations is a statement whose sides agree."""

from __future__ import annotations

import httpx
import pytest

from reward_service.scoring import MultiSignalMathReward
from tests.answer_corpus import qwen_response


def _continued_fraction(levels: int, head: str, step: str, innermost: str) -> str:
    """``head/(step + 1/(step + ... innermost))``, ``levels`` deep."""
    return f"\\frac{{{head}}}{{" + f"{step}+\\frac{{1}}{{" * levels + innermost + "}" * (levels + 1)


DEEP = 56
"""Deep enough that the parser raises RecursionError (it did at 54+ levels in both runtimes),
so math-verify used to fall back to the innermost fraction."""

FRAGMENT_CASES = [
    # ~2.9, its innermost fraction is the label 12.8 (the review's exploit)
    (_continued_fraction(DEEP, "7", "2", "\\frac{64}{5}"), "12.8"),
    # ~0.618, its innermost 1 is the label
    (_continued_fraction(DEEP, "1", "1", "1"), "1"),
    # 3+5 is 8: a box inside the answer is a group, not the answer
    ("3+\\boxed{5}", "5"),
    # a chain whose first side does not parse whole is no answer, even if its last side is right
    (_continued_fraction(DEEP, "1", "1", "1") + " = 0 = 12.8", "12.8"),
]


@pytest.mark.parametrize(("answer", "label"), FRAGMENT_CASES, ids=range(len(FRAGMENT_CASES)))
def test_no_fragment_of_an_answer_is_paid(answer: str, label: str) -> None:
    assert len(answer) <= 1000  # under the service's answer limit
    result = MultiSignalMathReward().score(qwen_response(answer), label)
    assert (result.verify, result.status) == (0, "ok")


def test_a_box_inside_the_answer_counts_with_the_rest() -> None:
    assert MultiSignalMathReward().score(qwen_response("3+\\boxed{5}"), "8").verify == 1


def test_a_deep_answer_the_parser_takes_too_long_on_is_a_timeout() -> None:
    """20 levels: the parser's adaptive prediction grows exponentially with the depth (over
    a minute here), so the whole is what runs out of time; no fragment is paid."""
    answer = _continued_fraction(20, "7", "2", "\\frac{64}{5}")
    result = MultiSignalMathReward(verify_timeout_s=1).score(qwen_response(answer), "12.8")
    assert (result.verify, result.status) == (0, "timeout")


CHAINS = [
    ("13 = 12.8", "12.8", 0),  # a false statement, not the answer
    ("x = 13 = 12.8", "12.8", 0),
    ("2+3 = 5", "5", 1),  # its sides agree
    ("x = 2+3 = 5", "5", 1),
    ("\\frac{64}{5} = 12.8", "12.8", 1),
    ("x = 5", "5", 1),
    ("12.8 \\approx 13", "12.8", 1),  # 13 is 12.8 rounded: the first side is the answer
    ("12.8 \\approx 13", "13", 0),
    ("7 \\approx 12.8 \\approx 13", "7", 0),  # 12.8 is not 7 rounded
    ("\\pi \\approx 3.14", "\\pi", 1),
    ("\\frac{1}{3} \\approx 0.333", "\\frac{1}{3}", 1),
    ("\\frac{1}{3} \\approx 0.34", "\\frac{1}{3}", 0),
    ("x \\approx 5", "5", 1),
]


@pytest.mark.parametrize(("answer", "label", "verify"), CHAINS)
def test_a_chain_is_a_statement_whose_sides_agree(answer: str, label: str, verify: int) -> None:
    result = MultiSignalMathReward().score(qwen_response(answer), label)
    assert (result.verify, result.status) == (verify, "ok")


def test_over_http(client: httpx.Client) -> None:
    cases = [*FRAGMENT_CASES, ("13 = 12.8", "12.8"), ("7 \\approx 12.8 \\approx 13", "7")]
    items = [{"response": qwen_response(a), "ground_truth": label} for a, label in cases]
    response = client.post("/score", json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["verify"], r["status"]) for r in results] == [(0, "ok")] * len(cases)

"""R_verify: equivalence of the extracted answer with the ground truth, via math-verify."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from reward_service.scoring._verify import verify_answer

CORPUS = json.loads((Path(__file__).parent / "data" / "math_verify_cases.json").read_text())


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


def test_verifier_accuracy_on_math_verify_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    """Cases restated as data from math-verify's own regression tests."""
    misses = [c for c in CORPUS if verify_answer(c["answer"], c["gold"]).equal != c["equal"]]
    accuracy = 1 - len(misses) / len(CORPUS)
    with capsys.disabled():
        print(f"\nverifier accuracy on math-verify corpus: {accuracy:.1%} of {len(CORPUS)} cases")
    assert accuracy >= 0.95, misses

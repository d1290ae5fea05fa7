"""The answer key: equivalent written forms of one value are one answer, cheaply."""

from __future__ import annotations

import pytest

from reward_service.stats.answers import (
    ANSWER_CHARS_KEPT,
    FAILED,
    NO_ANSWER,
    TIMED_OUT,
    answer_key,
    canonical,
)


@pytest.mark.parametrize(
    "written",
    [
        "12.8",
        "12.80",
        "\\dfrac{64}{5}",
        "\\frac{64}{5}",
        "\\tfrac{64}{5}",
        "64/5",
        "v=12.8",
        "v = 12.80",
        "12.8\\text{ mph}",
        "12.8 mph",
        "\\text{12.8}",
        "$12.8$",
        "12.8.",
        "\\left(12.8\\right)".replace("(", "").replace(")", ""),
        "12.8\\,",
    ],
)
def test_forms_of_one_value_have_one_key(written: str) -> None:
    assert canonical(written) == "12.8"


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("13", "13"),
        ("13.0", "13"),
        ("\\frac{1}{3}", "1/3"),
        ("2/6", "1/3"),
        ("-0.50", "-0.5"),
        ("-\\frac{1}{2}", "-0.5"),
        ("1{,}000", "1000"),
        ("1,000", "1000"),
        ("80\\%", "80"),
        ("90^\\circ", "90"),
        ("2x", "2x"),  # not a number with a unit
        ("x^2", "x^2"),
        ("(1, 2)", "(1,2)"),
        ("\\frac{1}{0}", "\\frac{1}{0}"),
        ("\\sqrt{2}", "\\sqrt{2}"),
        ("", ""),
    ],
)
def test_distinct_values_keep_distinct_keys(written: str, key: str) -> None:
    assert canonical(written) == key


def test_a_right_answer_is_counted_under_its_label() -> None:
    assert answer_key("\\dfrac{64}{5}", "12.8", 1, "ok") == ("12.8", True)
    assert answer_key("12.80", "\\frac{64}{5}", 1, "ok") == ("12.8", True)  # the label's value
    assert answer_key("12.80", "12.8", 0, "ok") == ("12.8", False)  # the verifier said no


def test_unjudged_answers_have_keys_of_their_own() -> None:
    assert answer_key("9^{9^{9}}", "12.8", 0, "timeout") == (TIMED_OUT, False)
    assert answer_key("12.8", "12.8", 0, "error") == (FAILED, False)
    assert answer_key(None, "12.8", 0, "ok") == (NO_ANSWER, False)


def test_keys_are_short_and_printable_whatever_the_model_writes() -> None:
    for written in ("\x00\x01" * 40, "{" * 50_000, "\\frac{" * 10_000, "1" * 100_000):
        key = canonical(written)
        assert len(key) <= ANSWER_CHARS_KEPT
        assert key.isprintable()


SUMS = ["+".join(["1"] * 44) + f"+{k}" for k in range(2, 10)]
"""Eight values written in 89 characters each, alike but for their last digit."""


@pytest.mark.parametrize(
    "written",
    [SUMS, ["x" * 300 + "1", "x" * 300 + "2"], ["\x00", "\x01"]],
    ids=["past the key's bound", "past the normalised length", "not printable"],
)
def test_distinct_answers_keep_distinct_keys_however_long(written: list[str]) -> None:
    keys = [canonical(answer) for answer in written]
    assert len(set(keys)) == len(written)
    assert all(len(key) <= ANSWER_CHARS_KEPT and key.isprintable() for key in keys)


def test_a_cut_key_shows_the_answers_start_then_a_digest_of_the_whole() -> None:
    key = canonical(SUMS[0])
    start, digest = key.split("… #")
    assert SUMS[0].startswith(start) and len(start) > 60
    assert len(digest) == 12 and int(digest, 16) >= 0
    assert canonical("1+1+1") == "1+1+1"  # short and printable: the text itself

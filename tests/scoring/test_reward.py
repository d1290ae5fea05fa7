"""The combined reward, weights, and verl's compute_score entry point."""

from __future__ import annotations

import logging
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reward_service.scoring import MultiSignalMathReward, RewardWeights, compute_score
from tests.conftest import make_response

REWARD = MultiSignalMathReward()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (make_response("12.8", "The answer is correct."), (1, 1, 1, 1.4)),
        (make_response("\\frac{64}{5}", "The answer is correct."), (1, 1, 1, 1.4)),
        (make_response("12.8", "The answer is wrong."), (1, 1, 0, 1.2)),
        (make_response("12.7", "The answer is wrong."), (0, 1, 1, 0.4)),
        (make_response("12.7", "The answer is correct."), (0, 1, 0, 0.2)),
        (make_response("8\\sqrt[3]{4}", "The answer is not correct."), (0, 1, 1, 0.4)),
        (make_response("12.8", "Hmm."), (1, 1, 0, 1.2)),
        ("The answer is \\boxed{12.8}.", (1, 0, 0, 1.0)),
        ("<think>no answer</think><reflection>The answer is wrong.</reflection>", (0, 0, 1, 0.2)),
        ("", (0, 0, 0, 0.0)),
    ],
)
def test_signals_and_score(response: str, expected: tuple[int, int, int, float]) -> None:
    result = REWARD.score(response, "12.8")
    assert (result.verify, result.format, result.reflect) == expected[:3]
    assert result.score == pytest.approx(expected[3])
    assert result.status == "ok"


def test_pi1_label_is_used_as_given() -> None:
    """pi1's label is 12.8 although 8*cbrt(4) = 12.699...; the label wins."""
    assert REWARD.score(make_response("12.8"), "12.8").verify == 1
    assert REWARD.score(make_response("8\\sqrt[3]{4}"), "12.8").verify == 0


def test_custom_weights() -> None:
    result = MultiSignalMathReward(alpha=2.0, beta=0.5, gamma=0.25).score(make_response(), "12.8")
    assert result.score == pytest.approx(2.75)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "1", True])
def test_invalid_weights_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="alpha"):
        RewardWeights(alpha=bad)  # type: ignore[arg-type]


def test_warns_once_when_wrong_answers_can_win(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="reward_service.scoring"):
        MultiSignalMathReward(alpha=0.3, beta=0.2, gamma=0.2)
        MultiSignalMathReward(alpha=0.3, beta=0.2, gamma=0.2)
    assert sum("alpha=0.3" in record.message for record in caplog.records) == 1


def test_timeout_keeps_format_and_reflection() -> None:
    response = make_response("9^{9^{9^{9^{9}}}}", "The answer is wrong.")
    result = MultiSignalMathReward(verify_timeout_s=1).score(response, "12.8")
    assert (result.status, result.verify, result.format, result.reflect) == ("timeout", 0, 1, 1)


def test_over_long_answer_is_an_error_with_a_message() -> None:
    result = MultiSignalMathReward(max_answer_chars=10).score(make_response("1" * 11), "12.8")
    assert result.status == "error" and "over the limit" in (result.error or "")


@pytest.mark.parametrize("response", [None, 12.8, b"bytes"])
def test_non_string_response_is_an_error(response: object) -> None:
    result = REWARD.score(response, "12.8")  # type: ignore[arg-type]
    assert result.status == "error" and result.score == 0


def test_compute_score_dict_has_every_signal() -> None:
    scored = compute_score("deepscaler", make_response(), "12.8", {"index": 124})
    assert scored == {
        "score": pytest.approx(1.4),
        "verify": 1,
        "format": 1,
        "reflect": 1,
        "pred": "12.8",
        "verdict": "correct",
        "format_failures": [],
        "status": "ok",
        "error": None,
    }


def test_compute_score_takes_weights_from_extra_info() -> None:
    scored = compute_score("x", make_response(), "12.8", {"reward_weights": {"beta": 0.5}})
    assert scored["score"] == pytest.approx(1.7)


@pytest.mark.parametrize("weights", [{"beta": -1}, {"delta": 1}, "heavy", {"alpha": "x"}])
def test_compute_score_reports_bad_weights(weights: object) -> None:
    scored = compute_score("x", make_response(), "12.8", {"reward_weights": weights})
    assert scored["status"] == "error" and scored["error"].startswith("invalid weights")


def test_compute_score_accepts_numeric_ground_truth() -> None:
    assert compute_score("x", make_response(), 12.8)["verify"] == 1


def test_compute_score_loads_by_file_path() -> None:
    """verl's custom_reward_function.path loads the file without its package."""
    import importlib.util

    from reward_service.scoring import verl_custom_reward

    spec = importlib.util.spec_from_file_location("custom_module", verl_custom_reward.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compute_score("x", make_response(), "12.8")["score"] == pytest.approx(1.4)


ANSWERS = st.sampled_from(["12.8", "\\frac{64}{5}", "12", "x", "}", "\\boxed{", "2^{10}", ""])
RESPONSES = st.one_of(
    st.text(max_size=300),
    st.builds(make_response, ANSWERS, st.sampled_from(["The answer is correct.", "wrong", ""])),
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)
WEIGHTS = st.builds(RewardWeights, *[st.floats(0, 10, allow_nan=False) for _ in range(3)])


@settings(max_examples=150, deadline=None)
@given(response=RESPONSES, gold=st.sampled_from(["12.8", "\\frac{1}{2}", "x+1"]), weights=WEIGHTS)
def test_never_raises_and_stays_in_range(response: str, gold: str, weights: RewardWeights) -> None:
    result = REWARD.score(response, gold, weights)
    assert 0 <= result.score <= weights.total + 1e-9
    assert result.status in ("ok", "timeout", "error")
    assert {result.verify, result.format, result.reflect} <= {0, 1}


@settings(max_examples=60, deadline=None)
@given(response=RESPONSES)
def test_deterministic_and_compute_score_agrees(response: str) -> None:
    first = REWARD.score(response, "12.8")
    assert REWARD.score(response, "12.8") == first
    assert compute_score("deepscaler", response, "12.8") == first.to_dict()


def test_to_dict_carries_every_field() -> None:
    import dataclasses

    result = REWARD.score(make_response(), "12.8")
    assert list(result.to_dict()) == [field.name for field in dataclasses.fields(result)]

"""The scoring rules as the service applies them: POST /score over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reward_service.scoring import MultiSignalMathReward, scorer_version
from reward_service.scoring._version import VERDICT_COMPONENTS
from tests.answer_corpus import all_pairs, qwen_response, right_pairs, wrong_pairs
from tests.conftest import SERVICE_SETTINGS, make_response

REFLECTIONS = json.loads((Path(__file__).parents[1] / "data" / "reflections.json").read_text())
SIGNALS = ("verify", "format", "reflect", "pred", "verdict", "status", "error")


def _score(client: httpx.Client, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Post ``items`` in requests the test service accepts; the results in order."""
    results = []
    for start in range(0, len(items), SERVICE_SETTINGS.max_items):
        response = client.post(
            "/score", json={"items": items[start : start + SERVICE_SETTINGS.max_items]}
        )
        assert response.status_code == 200, response.text
        results += response.json()["results"]
    return results


def _signals(result: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(result[name] for name in SIGNALS)


def test_the_answer_corpus_scores_as_in_process(client: httpx.Client) -> None:
    """Every answer shape of the corpus: the service's verdicts are the library's, right
    answers get verify 1 and wrong ones 0."""
    pairs = all_pairs()
    items = [{"response": qwen_response(answer), "ground_truth": label} for answer, label in pairs]
    served = _score(client, items)
    reward = MultiSignalMathReward()
    local = [reward.score(item["response"], item["ground_truth"]).to_dict() for item in items]
    assert [_signals(result) for result in served] == [_signals(result) for result in local]
    verify = {pair: result["verify"] for pair, result in zip(pairs, served, strict=True)}
    assert {verify[pair] for pair in right_pairs()} == {1}
    assert {verify[pair] for pair in wrong_pairs()} == {0}


def test_the_reflection_corpus_is_read_by_the_service(client: httpx.Client) -> None:
    items = [
        {"response": qwen_response("12.8", case["reflection"]), "ground_truth": "12.8"}
        for case in REFLECTIONS
    ]
    served = _score(client, items)
    assert [result["verdict"] for result in served] == [case["verdict"] for case in REFLECTIONS]
    assert [result["reflect"] for result in served] == [
        int(case["verdict"] == "correct") for case in REFLECTIONS
    ]


@pytest.mark.parametrize(
    ("answer", "label", "verify"),
    [("80\\%", "80", 1), ("0.8", "80\\%", 1), ("1\\,000", "0", 0), ("\\text{12.8 mph}", "12.8", 1)],
)
def test_math_style_answers_over_http(
    client: httpx.Client, answer: str, label: str, verify: int
) -> None:
    result = client.post("/score", json={"response": qwen_response(answer), "ground_truth": label})
    assert result.json()["results"][0]["verify"] == verify


def test_a_timeout_states_the_services_limit(client: httpx.Client) -> None:
    """The worker's CPU-time limit stops verification; the message names that limit."""
    item = {"response": make_response("9^{9^{9^{9^{9}}}}"), "ground_truth": "12.8"}
    result = client.post("/score", json=item).json()["results"][0]
    limit = SERVICE_SETTINGS.item_timeout_s
    assert (result["status"], result["error"]) == ("timeout", f"verification exceeded {limit:g}s")


def test_a_long_tail_of_end_of_sequence_tokens_is_a_clean_ending(client: httpx.Client) -> None:
    """~0.9 MB of repeated <|im_end|> after the reflection (stripped in one pass: it took
    2.3 s per MiB before, see benchmarks/RESULTS.md) is still a clean ending."""
    response = make_response() + "<|im_end|>\n" * 80_000
    result = client.post("/score", json={"response": response, "ground_truth": "12.8"})
    assert result.status_code == 200, result.text
    assert _signals(result.json()["results"][0])[:3] == (1, 1, 1)


def test_scorer_version_names_every_component_of_a_verdict(client: httpx.Client) -> None:
    version = client.get("/health").json()["scorer_version"]
    assert version == scorer_version()
    for component in ("reward-service", *VERDICT_COMPONENTS, "python"):
        assert f"{component} " in version

"""``/openrlhf/get_reward`` finds the response after its prompt, or makes the item an error.

OpenRLHF posts the prompt and the response decoded together; a decode round trip can change
the prompt's whitespace, and a long prompt is cut to its last tokens. Scoring the whole
query instead would grade the prompt's own instructions and worked examples (the project's
system prompt holds ``\\boxed{4}`` and "The answer is correct.").
"""

from __future__ import annotations

import logging

import httpx
import pytest

from reward_service.integrations.openrlhf_prompt import MIN_TAIL_CHARS, response_start
from tests.conftest import make_response
from tests.service_process import metric
from trainer.prompts import SYSTEM_PROMPT

ENDPOINT = "/openrlhf/get_reward"
PROMPT = (
    f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
    "<|im_start|>user\nFind V.<|im_end|>\n<|im_start|>assistant\n"
)
WORKED = (
    "<|im_start|>user\nExample: <think>a</think> \\boxed{12.8} "
    "<reflection>The answer is correct.</reflection>\nNow find V.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
RIGHT = make_response("12.8") + "<|im_end|>"
NO_ANSWER = "<think>I give up</think> no answer <reflection>The answer is correct.</reflection>"


def post(url: str, queries: list[str], prompts: list[str], labels: list[str]) -> dict:
    body = {"query": queries, "prompts": prompts, "labels": labels}
    reply = httpx.post(f"{url}{ENDPOINT}", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()


def prompts_not_found(url: str) -> float:
    return metric(url, "reward_openrlhf_prompts_not_found_total")


@pytest.mark.parametrize(
    "sent_prompt",
    [
        PROMPT,
        PROMPT.replace("Find V.", "Find  V."),  # one space more than the query holds
        PROMPT.replace("\n<|im_start|>user", " \n<|im_start|>user"),
        PROMPT.rstrip("\n"),
        PROMPT.replace("Find V.", "Find V ."),
    ],
    ids=["exact", "extra-space", "space-before-newline", "no-trailing-newline", "space-before-dot"],
)
def test_a_right_answer_after_a_drifted_prompt_is_right(service_url: str, sent_prompt: str) -> None:
    answer = post(service_url, [PROMPT + RIGHT], [sent_prompt], ["12.8"])
    assert answer["rewards"] == [pytest.approx(1.4)]
    assert answer["extra_logs"]["scoring_error"] == [0.0]


def test_the_prompts_worked_example_is_never_scored(service_url: str) -> None:
    drifted = WORKED.replace("Now find", "Now  find")
    answer = post(service_url, [WORKED + NO_ANSWER] * 2, [WORKED, drifted], ["12.8", "12.8"])
    assert answer["extra_logs"]["verify"] == [0.0, 0.0]


def test_a_truncated_prompt_is_found_by_its_tail(service_url: str) -> None:
    """OpenRLHF keeps a long prompt's last tokens: the query starts with the prompt's tail."""
    query = PROMPT[len(PROMPT) // 2 :] + RIGHT
    answer = post(service_url, [query], [PROMPT], ["12.8"])
    assert answer["rewards"] == [pytest.approx(1.4)]


def test_a_query_without_its_prompt_is_an_item_error(
    service_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = prompts_not_found(service_url)
    other = PROMPT.replace("Find V.", "Find the wind speed V.")
    with caplog.at_level(logging.WARNING, logger="reward_service"):
        answer = post(
            service_url,
            [PROMPT + RIGHT, PROMPT + RIGHT, PROMPT + RIGHT],
            [PROMPT, other, other],
            ["12.8", "12.8", "12.8"],
        )
    assert answer["rewards"] == [pytest.approx(1.4), 0.0, 0.0]
    assert answer["extra_logs"]["scoring_error"] == [0.0, 1.0, 1.0]
    assert prompts_not_found(service_url) == before + 2
    warnings = [r.getMessage() for r in caplog.records if "do not start with" in r.getMessage()]
    assert warnings == [
        "/openrlhf/get_reward: 2 of 3 queries (first at index 1) do not start with their "
        "prompt; they are errors with reward 0, not scored"
    ]
    failed = httpx.get(f"{service_url}/stats").json()["failed"]
    assert any("prompt was not found" in (row.get("error") or "") for row in failed)


@pytest.mark.parametrize(
    ("query", "prompt", "response"),
    [
        ("P: x\nR", "P: x\n", "R"),
        ("P:  x\nR", "P: x\n", "\nR"),
        ("<s>P: x R", "P: x ", " R"),
        ("R", "", "R"),
        ("\ufffd" + "t" * MIN_TAIL_CHARS + " R", "head " + "t" * MIN_TAIL_CHARS, " R"),
    ],
)
def test_response_start(query: str, prompt: str, response: str) -> None:
    start = response_start(query, prompt)
    assert start is not None and query[start:] == response


@pytest.mark.parametrize(
    ("query", "prompt"),
    [
        ("abc R", "zzz abc "),  # a tail shorter than MIN_TAIL_CHARS identifies nothing
        ("Q: y R", "P: x "),
        ("x" * 100 + "P: x R", "P: x "),  # too far from the start
    ],
)
def test_no_response_start(query: str, prompt: str) -> None:
    assert response_start(query, prompt) is None

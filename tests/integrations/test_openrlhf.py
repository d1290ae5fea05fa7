"""OpenRLHF's untagged requests become steps: one request per sample, exactly as its agent
executor posts them, grouped by prompt, with a quiet gap between steps (the recorder's policy
for untagged batches)."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from tests.conftest import make_response

GAP_S = 2.0
"""The test relies on each single-sample request answering within GAP_S of the one before
(tens of milliseconds on a loaded 2-core machine)."""


def chatml_prompt(question: str) -> str:
    """What OpenRLHF sends as ``prompts``: the chat template applied, generation prompt on."""
    return (
        "<|im_start|>system\nPlease reason step by step.<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )


def post_sample(url: str, prompt: str, answer: str) -> None:
    """One generated sample, as OpenRLHF's SingleTurnAgentExecutor posts it."""
    query = prompt + make_response(answer) + "<|im_end|>"
    body = {"query": [query], "prompts": [prompt], "labels": ["12.8"]}
    httpx.post(f"{url}/openrlhf/get_reward", json=body, timeout=60).raise_for_status()


def test_bursts_of_samples_separated_by_a_quiet_gap_are_steps() -> None:
    settings = ServiceSettings(workers=1, stats_step_gap_s=GAP_S)
    with serve_in_thread(create_app(settings)) as url:
        for burst in range(2):
            for question in ("Find V.", "Find W."):
                for answer in ("12.8", "12.8", "12.8", "12.8" if burst else "13"):
                    post_sample(url, chatml_prompt(question), answer)
            time.sleep(GAP_S * 1.5)  # OpenRLHF trains: no request for a while
        view = httpx.get(f"{url}/stats", timeout=60).json()
    series = view["series"]
    assert view["steps"] == [0, 1]
    assert series["items"] == [8, 8] and series["batches"] == [8, 8]
    assert series["groups"] == [2, 2] and series["group_size"] == [4, 4]
    # step 0: each prompt has one wrong sample; step 1: every sample right, one reward each
    assert series["zero_variance"] == [0.0, 1.0]
    assert series["pass_at_k"] == [1.0, 1.0] and series["mean_at_k"] == [0.75, 1.0]


@pytest.mark.parametrize("written", ["as-is", "percent-encoded"])
def test_a_token_with_plus_and_slash_works_in_the_reward_url(written: str) -> None:
    """OpenRLHF puts the URL it was given on the wire: a base64 token's + arrives as a
    space in the decoded query, and must still be the token."""
    token = "Tk-9f3a.b_c~d+e/f7Q2zz=="
    in_url = token if written == "as-is" else quote(token, safe="")
    body = {"query": [make_response()], "prompts": [""], "labels": ["12.8"]}
    with serve_in_thread(create_app(ServiceSettings(workers=1, api_token=token))) as url:
        right = httpx.post(f"{url}/openrlhf/get_reward?token={in_url}", json=body, timeout=60)
        wrong = httpx.post(
            f"{url}/openrlhf/get_reward?token={in_url.replace('e', 'E')}", json=body, timeout=60
        )
    assert right.status_code == 200, right.text
    assert right.json()["rewards"] == [1.4]
    assert wrong.status_code == 401

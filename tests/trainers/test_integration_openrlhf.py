"""OpenRLHF's remote reward protocol, posted exactly as OpenRLHF 0.9's single-turn agent
executor posts it (``openrlhf/utils/agent.py``: one request per sample, the query decoded
from prompt + response tokens with special tokens kept) and read back as it reads it.
OpenRLHF itself is not installed: it pulls DeepSpeed and vLLM."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.scoring import compute_score
from reward_service.settings import ServiceSettings
from tests.conftest import make_response
from tests.tiny_models import byte_level_tokenizer
from trainer.prompts import chat_messages

TOKEN = "openrlhf-token-0123456789"
ENDPOINT = "/openrlhf/get_reward"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return byte_level_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def openrlhf_payload(tokenizer, response: str, label: str) -> dict:
    """What SingleTurnAgentExecutor.execute posts for one generated sample."""
    prompt = tokenizer.apply_chat_template(
        chat_messages("Find V."), tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tokenizer(text=prompt, add_special_tokens=False)["input_ids"]
    action_ids = tokenizer.encode(response + "<|im_end|>", add_special_tokens=False)
    query = tokenizer.decode(prompt_ids + action_ids, skip_special_tokens=False)
    return {"query": [query], "prompts": [prompt], "labels": [label]}


def read_like_openrlhf(answer: dict) -> tuple[float, float, dict[str, float]]:
    """How OpenRLHF reads the answer: reward, score (falling back to reward), extra logs."""
    score = answer.get("scores")
    if score is None:
        score = answer.get("rewards")
    logs = {key: value[0] for key, value in (answer.get("extra_logs") or {}).items()}
    return answer["rewards"][0], score[0], logs


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [("12.8", "The answer is correct."), ("12", "The answer is wrong."), ("13", "Looks right.")],
)
def test_each_signal_comes_back_per_query(
    service_url: str, tokenizer, answer: str, verdict: str
) -> None:
    response = make_response(answer, verdict)
    payload = openrlhf_payload(tokenizer, response, "12.8")
    reply = httpx.post(f"{service_url}{ENDPOINT}", json=payload, timeout=60)
    reward, score, logs = read_like_openrlhf(reply.json())
    expected = compute_score("openrlhf", response + "<|im_end|>", "12.8")
    assert reward == score == pytest.approx(expected["score"])
    assert (logs["verify"], logs["format"], logs["reflect"]) == (
        expected["verify"],
        expected["format"],
        expected["reflect"],
    )


def test_a_batch_of_queries_keeps_its_order(service_url: str, tokenizer) -> None:
    payloads = [
        openrlhf_payload(tokenizer, make_response(a), "12.8") for a in ("12.8", "1", "12.8")
    ]
    batch = {key: [p[key][0] for p in payloads] for key in ("query", "prompts", "labels")}
    answer = httpx.post(f"{service_url}{ENDPOINT}", json=batch, timeout=60).json()
    assert answer["extra_logs"]["verify"] == [1.0, 0.0, 1.0]
    assert len(answer["rewards"]) == len(answer["scores"]) == 3


def test_mismatched_lists_are_a_clear_422(service_url: str) -> None:
    body = {"query": ["a", "b"], "prompts": ["a"], "labels": ["1", "2"]}
    reply = httpx.post(f"{service_url}{ENDPOINT}", json=body, timeout=60)
    assert reply.status_code == 422 and "same length" in reply.text


def test_the_token_goes_in_the_url(tokenizer, tmp_path: Path) -> None:
    payload = openrlhf_payload(tokenizer, make_response("12.8"), "12.8")
    with serve_in_thread(create_app(ServiceSettings(workers=1, api_token=TOKEN))) as url:
        assert httpx.post(f"{url}{ENDPOINT}", json=payload).status_code == 401
        reply = httpx.post(f"{url}{ENDPOINT}?token={TOKEN}", json=payload, timeout=60)
    assert reply.status_code == 200 and reply.json()["rewards"] == [pytest.approx(1.4)]


def test_a_prompt_cut_to_its_last_tokens_is_found(service_url: str, tokenizer) -> None:
    """SingleTurnAgentExecutor keeps a long prompt's last tokens (``[-max_prompt_length:]``)
    and posts the full prompt beside the decoded query."""
    payload = openrlhf_payload(tokenizer, make_response("12.8"), "12.8")
    prompt = payload["prompts"][0]
    prompt_ids = tokenizer(text=prompt, add_special_tokens=False)["input_ids"]
    action_ids = tokenizer.encode(make_response("12.8") + "<|im_end|>", add_special_tokens=False)
    kept = prompt_ids[-(len(prompt_ids) // 2) :]
    payload["query"] = [tokenizer.decode(kept + action_ids, skip_special_tokens=False)]
    answer = httpx.post(f"{service_url}{ENDPOINT}", json=payload, timeout=60).json()
    assert answer["rewards"] == [pytest.approx(1.4)]
    assert answer["extra_logs"]["scoring_error"] == [0.0]

"""The verl HTTP reward manager, loaded by verl itself, against a live service.

Rows come from verl 0.9.1's own agent-loop worker, which builds the one-sample DataProto it
hands to ``run_single`` (``tests/trainers/verl_rows.py``); the step and the prompt's ``uid``
travel in ``non_tensor_batch``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from omegaconf import OmegaConf
from verl import DataProto
from verl.trainer.ppo.reward import load_reward_manager

from reward_service.api.schemas import ScoreItemIn
from reward_service.bench.local_server import ServiceProcess, free_port
from reward_service.client import RewardRequestRejected, RewardServiceUnavailable
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.service_process import ONE_WORKER, scored_requests
from tests.trainers.run_script import composed
from tests.trainers.verl_rows import VerlAgentLoop, dataset_row
from trainer.reward_items import reward_extra_info, score_item

ANSWERS = ["12.8", "12", "\\frac{64}{5}", "9.1", "12.8"]
TOKEN = "a-token-of-sixteen-chars"
RESPONSE_LENGTH = 256
"""The rollout's response length here: where verl's agent loop cuts a response."""
SHAPE = ("data.max_prompt_length=2048", f"data.max_response_length={RESPONSE_LENGTH}")
"""pi1 with the system prompt is 1,077 byte-level tokens."""


@pytest.fixture(scope="module")
def tokenizer(model_folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_folder)


@pytest.fixture(scope="module")
def pi1_row(tokenizer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return dataset_row(tokenizer, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def run_config(model_folder: Path):
    """The run script's config (composed once: each composition is a verl start-up)."""
    return composed(*SHAPE, MODEL_PATH=str(model_folder))


@pytest.fixture(scope="module")
def agent_loop(run_config) -> VerlAgentLoop:
    return VerlAgentLoop(run_config)


@pytest.fixture
def make_rows(agent_loop: VerlAgentLoop, pi1_row):
    def make(responses: list[str], step: int = 3) -> list[DataProto]:
        """One prompt's group, as verl's agent loop hands each sample to ``run_single``."""
        return agent_loop.rows(pi1_row, responses, step=step)

    return make


@pytest.fixture
def load_manager(run_config):
    def load(tokenizer, url: str, *overrides: str):
        """The manager verl loads from the run config, with hydra-style ``overrides``."""
        dotlist = [f"reward.reward_kwargs.reward_url={url}", *(o.lstrip("+") for o in overrides)]
        config = OmegaConf.merge(run_config, OmegaConf.from_dotlist(dotlist))
        return load_reward_manager(
            config, tokenizer, reward_router_address=None, reward_model_tokenizer=None
        )

    return load


def run_all(manager, rows: list[DataProto]) -> list[dict]:
    return manager.loop.run_until_complete(asyncio.gather(*(manager.run_single(r) for r in rows)))


@pytest.fixture(scope="module")
def service():
    with ServiceProcess(env=ONE_WORKER) as running:
        yield running


def test_manager_scores_each_sample_with_every_signal(
    tokenizer, load_manager, make_rows, service: ServiceProcess
) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.flush_ms=20")
    assert type(manager).__name__ == "HttpRewardManager"
    responses = [make_response(answer) for answer in ANSWERS]
    outputs = run_all(manager, make_rows(responses))
    for response, output in zip(responses, outputs, strict=True):
        expected = reward_extra_info(compute_score("deepscaler", response, "12.8"))
        assert output["reward_extra_info"] == expected
        assert output["reward_score"] == expected["score"]
    assert [o["reward_extra_info"]["verify"] for o in outputs] == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_the_step_comes_from_verls_rows(
    tokenizer, load_manager, make_rows, service: ServiceProcess
) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.flush_ms=5")
    run_all(manager, make_rows([make_response("12.8")] * 3, step=41))
    view = httpx.get(f"{service.url}/stats").json()
    assert dict(zip(view["steps"], view["series"]["items"], strict=True))[41] == 3


def test_per_sample_calls_become_batched_requests(
    tokenizer, load_manager, make_rows, service: ServiceProcess
) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.batch_size=4")
    before = scored_requests(service.url)
    run_all(manager, make_rows([make_response(a) for a in ANSWERS * 4]))
    assert scored_requests(service.url) - before == 5  # 20 samples in batches of 4


def test_retries_recover_when_the_service_comes_back(tokenizer, load_manager, make_rows) -> None:
    port = free_port()
    service = ServiceProcess(port=port, env=ONE_WORKER).start()
    manager = load_manager(
        tokenizer,
        service.url,
        "+reward.reward_kwargs.retries=8",
        "+reward.reward_kwargs.backoff_s=0.2",
    )
    rows = make_rows([make_response("12.8")])
    assert run_all(manager, rows)[0]["reward_score"] == pytest.approx(1.4)
    service.stop(signal.SIGKILL)
    replacement = ServiceProcess(port=port, env=ONE_WORKER)
    restarted = threading.Timer(1.0, replacement.start, kwargs={"wait": False})
    restarted.start()
    try:
        assert run_all(manager, rows)[0]["reward_score"] == pytest.approx(1.4)
        assert scored_requests(replacement.url) == 1  # the retried request reached the new process
    finally:
        restarted.join()
        replacement.stop()


def test_dead_service_raises_a_clear_error_after_the_outage_window(
    tokenizer, load_manager, make_rows
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    manager = load_manager(
        tokenizer,
        url,
        "+reward.reward_kwargs.backoff_s=0.05",
        "+reward.reward_kwargs.outage_window_s=1.5",
    )
    started = time.monotonic()
    with pytest.raises(RewardServiceUnavailable, match=f"after \\d+ attempts.*{url}"):
        run_all(manager, make_rows([make_response("12.8")]))
    assert 1.5 <= time.monotonic() - started < 30


def test_token_comes_from_the_environment(
    tokenizer, load_manager, make_rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**ONE_WORKER, "REWARD_SERVICE_API_TOKEN": TOKEN}
    with ServiceProcess(env=env) as secured:
        monkeypatch.delenv("REWARD_SERVICE_API_TOKEN", raising=False)
        without = load_manager(tokenizer, secured.url)
        with pytest.raises(RewardRequestRejected, match="401"):
            run_all(without, make_rows([make_response("12.8")]))
        monkeypatch.setenv("REWARD_SERVICE_API_TOKEN", TOKEN)
        manager = load_manager(tokenizer, secured.url)
        assert run_all(manager, make_rows([make_response("12.8")]))[0][
            "reward_score"
        ] == pytest.approx(1.4)


def test_bad_reward_kwargs_fail_at_load(tokenizer, load_manager) -> None:
    with pytest.raises(ValueError, match="unknown reward_kwargs"):
        load_manager(tokenizer, "http://127.0.0.1:1", "+reward.reward_kwargs.reward_ur=x")


def test_items_carry_the_group_the_length_and_the_truncation(
    tokenizer, agent_loop: VerlAgentLoop, pi1_row
) -> None:
    """What the manager posts for verl's rows: the prompt's uid as the group, the valid
    response tokens, and whether the agent loop cut the response at ``response_length``."""
    short, long = make_response("12.8"), "<think>" + "Expand P = kAV^3 again. " * 20
    rows = agent_loop.rows(pi1_row, [short, long], step=5, uid="prompt-7")
    items = [score_item(row[-1:][0], tokenizer, RESPONSE_LENGTH) for row in rows]
    assert [item["group"] for item in items] == ["prompt-7", "prompt-7"]
    # the scripted rollout ends a finished response with the end-of-sequence token, as vLLM does
    assert items[0]["response_tokens"] == len(tokenizer.encode(short)) + 1
    assert items[0]["truncated"] is False and items[0]["response"] == short
    assert items[1]["response_tokens"] == RESPONSE_LENGTH and items[1]["truncated"] is True
    assert long.startswith(items[1]["response"]) and items[1]["response"] != long
    for item in items:
        ScoreItemIn.model_validate(item)


def test_the_service_takes_the_items_verls_rows_make(
    tokenizer, load_manager, make_rows, service: ServiceProcess
) -> None:
    manager = load_manager(tokenizer, service.url)
    long = "<think>" + "Expand P = kAV^3 again. " * 20
    outputs = run_all(manager, make_rows([make_response("12.8"), long], step=6))
    assert [o["reward_extra_info"]["status"] for o in outputs] == ["ok", "ok"]
    assert [o["reward_extra_info"]["format"] for o in outputs] == [1.0, 0.0]

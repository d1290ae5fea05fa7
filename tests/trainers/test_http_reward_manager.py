"""The verl HTTP reward manager, loaded by verl itself, against a live service.

Rows are built the way verl 0.9.1's agent loop builds the one-sample DataProto it hands
to ``run_single`` (``tests/trainers/verl_rows.py``); the step travels in ``non_tensor_batch``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import pytest
from verl import DataProto
from verl.trainer.ppo.reward import load_reward_manager

from reward_service.bench.local_server import ServiceProcess, free_port
from reward_service.client import RewardRequestRejected, RewardServiceUnavailable
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.service_process import ONE_WORKER, scored_requests
from tests.tiny_models import byte_level_tokenizer
from tests.trainers.run_script import composed
from tests.trainers.verl_rows import agent_loop_row, dataset_row
from trainer.reward_items import reward_extra_info

ANSWERS = ["12.8", "12", "\\frac{64}{5}", "9.1", "12.8"]
TOKEN = "a-token-of-sixteen-chars"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return byte_level_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def pi1_row(tokenizer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return dataset_row(tokenizer, tmp_path_factory.mktemp("data"))


@pytest.fixture
def make_rows(tokenizer, pi1_row):
    def make(responses: list[str], step: int = 3) -> list[DataProto]:
        """One DataProto per sample, as the agent loop hands them to ``run_single``."""
        return [
            agent_loop_row(tokenizer, pi1_row, text, step=step, session_id=i)
            for i, text in enumerate(responses)
        ]

    return make


def load_manager(tokenizer, url: str, *extra: str, **env: str):
    config = composed(*extra, REWARD_URL=url, **env)
    return load_reward_manager(
        config, tokenizer, reward_router_address=None, reward_model_tokenizer=None
    )


def run_all(manager, rows: list[DataProto]) -> list[dict]:
    return manager.loop.run_until_complete(asyncio.gather(*(manager.run_single(r) for r in rows)))


@pytest.fixture(scope="module")
def service():
    with ServiceProcess(env=ONE_WORKER) as running:
        yield running


def test_manager_scores_each_sample_with_every_signal(
    tokenizer, make_rows, service: ServiceProcess
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


def test_the_step_comes_from_verls_rows(tokenizer, make_rows, service: ServiceProcess) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.flush_ms=5")
    run_all(manager, make_rows([make_response("12.8")] * 3, step=41))
    view = httpx.get(f"{service.url}/stats").json()
    assert dict(zip(view["steps"], view["series"]["items"], strict=True))[41] == 3


def test_per_sample_calls_become_batched_requests(
    tokenizer, make_rows, service: ServiceProcess
) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.batch_size=4")
    before = scored_requests(service.url)
    run_all(manager, make_rows([make_response(a) for a in ANSWERS * 4]))
    assert scored_requests(service.url) - before == 5  # 20 samples in batches of 4


def test_retries_recover_when_the_service_comes_back(tokenizer, make_rows) -> None:
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


def test_dead_service_raises_a_clear_error_after_the_outage_window(tokenizer, make_rows) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    manager = load_manager(
        tokenizer,
        url,
        "+reward.reward_kwargs.backoff_s=0.05",
        REWARD_OUTAGE_WINDOW_S="1.5",
    )
    started = time.monotonic()
    with pytest.raises(RewardServiceUnavailable, match=f"after \\d+ attempts.*{url}"):
        run_all(manager, make_rows([make_response("12.8")]))
    assert 1.5 <= time.monotonic() - started < 30


def test_token_comes_from_the_environment(
    tokenizer, make_rows, monkeypatch: pytest.MonkeyPatch
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


def test_bad_reward_kwargs_fail_at_load(tokenizer) -> None:
    with pytest.raises(ValueError, match="unknown reward_kwargs"):
        load_manager(tokenizer, "http://127.0.0.1:1", "+reward.reward_kwargs.reward_ur=x")

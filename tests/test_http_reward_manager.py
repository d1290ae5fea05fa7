"""The verl HTTP reward managers, loaded by verl itself, against a live service."""

from __future__ import annotations

import asyncio
import signal
import threading

import numpy as np
import pytest
import torch
from verl import DataProto
from verl.trainer.ppo.reward import load_reward_manager
from verl.workers.reward_manager import get_reward_manager_cls

from reward_service.client import RewardServiceUnavailable
from reward_service.local_server import ServiceProcess, free_port
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.run_script import composed
from tests.service_process import ONE_WORKER, scored_requests
from tests.tiny_models import byte_level_tokenizer
from trainer.legacy_reward_manager import REGISTERED_NAME, HttpBatchRewardManager
from trainer.reward_items import reward_extra_info

PROMPT_LENGTH = 8
ANSWERS = ["12.8", "12", "\\frac{64}{5}", "9.1", "12.8"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return byte_level_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def make_batch(tokenizer, responses: list[str], pad_to: int = 400) -> DataProto:
    """Rows as verl's rollout leaves them: left-padded prompts, right-padded responses."""
    pad = tokenizer.pad_token_id
    prompts = torch.full((len(responses), PROMPT_LENGTH), pad)
    response_ids = torch.full((len(responses), pad_to), pad)
    mask = torch.zeros((len(responses), PROMPT_LENGTH + pad_to), dtype=torch.long)
    mask[:, :PROMPT_LENGTH] = 1
    for row, text in enumerate(responses):
        ids = tokenizer.encode(text, add_special_tokens=False)[:pad_to]
        response_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, PROMPT_LENGTH : PROMPT_LENGTH + len(ids)] = 1
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": response_ids,
            "attention_mask": mask,
            "input_ids": torch.cat([prompts, response_ids], dim=1),
        },
        non_tensors={
            "data_source": np.array(["deepscaler"] * len(responses), dtype=object),
            "reward_model": np.array([{"ground_truth": "12.8"}] * len(responses), dtype=object),
            "extra_info": np.array(
                [{"index": 124, "split": "train"}] * len(responses), dtype=object
            ),
        },
        meta_info={"global_steps": 3},
    )


def load_manager(tokenizer, url: str, *extra: str):
    config = composed(*extra, REWARD_URL=url)
    return load_reward_manager(
        config, tokenizer, reward_router_address=None, reward_model_tokenizer=None
    )


def run_all(manager, batch: DataProto) -> list[dict]:
    rows = [batch[i : i + 1] for i in range(len(batch))]
    return manager.loop.run_until_complete(asyncio.gather(*(manager.run_single(r) for r in rows)))


@pytest.fixture(scope="module")
def service():
    with ServiceProcess(env=ONE_WORKER) as running:
        yield running


def test_manager_scores_each_sample_with_every_signal(tokenizer, service: ServiceProcess) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.flush_ms=20")
    assert type(manager).__name__ == "HttpRewardManager"
    responses = [make_response(answer) for answer in ANSWERS]
    outputs = run_all(manager, make_batch(tokenizer, responses))
    for response, output in zip(responses, outputs, strict=True):
        expected = reward_extra_info(compute_score("deepscaler", response, "12.8"))
        assert output["reward_extra_info"] == expected
        assert output["reward_score"] == expected["score"]
    assert [o["reward_extra_info"]["verify"] for o in outputs] == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_rewards_sit_on_the_last_valid_response_token(tokenizer, service: ServiceProcess) -> None:
    manager = load_manager(tokenizer, service.url)
    responses = [make_response("12.8"), "short \\boxed{12.8}", make_response("1")]
    batch = make_batch(tokenizer, responses)
    outputs = run_all(manager, batch)
    scores = manager.assemble_rm_scores(batch, [o["reward_score"] for o in outputs])
    for row, response in enumerate(responses):
        last = len(tokenizer.encode(response, add_special_tokens=False)) - 1
        assert scores[row, last] == pytest.approx(outputs[row]["reward_score"])
        assert scores[row].count_nonzero() <= 1


def test_per_sample_calls_become_batched_requests(tokenizer, service: ServiceProcess) -> None:
    manager = load_manager(tokenizer, service.url, "+reward.reward_kwargs.batch_size=4")
    before = scored_requests(service.url)
    run_all(manager, make_batch(tokenizer, [make_response(a) for a in ANSWERS * 4]))
    assert scored_requests(service.url) - before == 5  # 20 samples in batches of 4


def test_retries_recover_when_the_service_comes_back(tokenizer) -> None:
    port = free_port()
    service = ServiceProcess(port=port, env=ONE_WORKER).start()
    manager = load_manager(
        tokenizer,
        service.url,
        "+reward.reward_kwargs.retries=8",
        "+reward.reward_kwargs.backoff_s=0.2",
    )
    batch = make_batch(tokenizer, [make_response("12.8")])
    assert run_all(manager, batch)[0]["reward_score"] == pytest.approx(1.4)
    service.stop(signal.SIGKILL)
    replacement = ServiceProcess(port=port, env=ONE_WORKER)
    restarted = threading.Timer(1.0, replacement.start, kwargs={"wait": False})
    restarted.start()
    try:
        assert run_all(manager, batch)[0]["reward_score"] == pytest.approx(1.4)
        assert scored_requests(replacement.url) == 1  # the retried request reached the new process
    finally:
        restarted.join()
        replacement.stop()


def test_dead_service_raises_a_clear_error(tokenizer) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    manager = load_manager(
        tokenizer, url, "+reward.reward_kwargs.retries=2", "+reward.reward_kwargs.backoff_s=0.05"
    )
    with pytest.raises(RewardServiceUnavailable, match=f"after 3 attempts.*{url}"):
        run_all(manager, make_batch(tokenizer, [make_response("12.8")]))


def test_bad_reward_kwargs_fail_at_load(tokenizer) -> None:
    with pytest.raises(ValueError, match="unknown reward_kwargs"):
        load_manager(tokenizer, "http://127.0.0.1:1", "+reward.reward_kwargs.reward_ur=x")


def test_legacy_batch_manager(tokenizer, service: ServiceProcess) -> None:
    assert get_reward_manager_cls(REGISTERED_NAME) is HttpBatchRewardManager
    manager = HttpBatchRewardManager(tokenizer, num_examine=0, reward_url=service.url)
    responses = [make_response(answer) for answer in ANSWERS]
    batch = make_batch(tokenizer, responses)
    out = manager(batch, return_dict=True)
    tensor, extra = out["reward_tensor"], out["reward_extra_info"]
    for row, response in enumerate(responses):
        last = len(tokenizer.encode(response, add_special_tokens=False)) - 1
        expected = reward_extra_info(compute_score("x", response, "12.8"))
        assert tensor[row, last] == pytest.approx(expected["score"])
        assert {key: values[row] for key, values in extra.items()} == expected
    assert torch.equal(manager(batch), tensor)

"""verl 0.9.1's run path on the CPU: Ray on 127.0.0.1, a real ``RewardLoopWorker`` actor
loading the HTTP manager from the run script's config, verl's agent-loop ``_compute_score``
sending it samples, TransferQueue, and the replay buffer the script plugs in."""

from __future__ import annotations

import asyncio
import signal
import threading
import uuid
from pathlib import Path

import httpx
import pytest
import torch
from omegaconf import OmegaConf

from reward_service.bench.local_server import ServiceProcess, free_port
from tests.conftest import make_response
from tests.service_process import ONE_WORKER
from tests.tiny_models import byte_level_tokenizer
from tests.trainers.run_script import composed
from tests.trainers.verl_rows import dataset_row, sample_kwargs, score_through_agent_loop

ray = pytest.importorskip("ray")
tq = pytest.importorskip("transfer_queue")


@pytest.fixture(scope="module")
def local_ray():
    # TransferQueue's controller and two storage units each ask Ray for one CPU.
    ray.init(address="local", num_cpus=8, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    byte_level_tokenizer(folder)
    return folder


@pytest.fixture(scope="module")
def tokenizer(model_folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_folder)


@pytest.fixture(scope="module")
def pi1_row(tokenizer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return dataset_row(tokenizer, tmp_path_factory.mktemp("data"))


def reward_worker(model_folder: Path, url: str, **env: str):
    """A reward-loop worker actor, made as verl's RewardLoopManager makes them."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    config = composed(REWARD_URL=url, MODEL_PATH=str(model_folder), **env)
    return ray.remote(RewardLoopWorker).remote(config, None)


def score_samples(handle, tokenizer, row: dict, responses: list[str], step: int) -> list:
    """Each response through verl's ``_compute_score`` and the worker, concurrently."""

    async def all_of_them():
        return await asyncio.gather(
            *(
                score_through_agent_loop([handle], tokenizer, text, sample_kwargs(row, step, i))
                for i, text in enumerate(responses)
            )
        )

    return asyncio.run(all_of_them())


def test_real_steps_reach_the_service(local_ray, model_folder, tokenizer, pi1_row) -> None:
    with ServiceProcess(env=ONE_WORKER) as service:
        worker = reward_worker(model_folder, service.url)
        responses = [make_response("12.8"), make_response("12"), "no format \\boxed{12.8}"]
        outputs = score_samples(worker, tokenizer, pi1_row, responses, step=17)
        infos = [output.extra_fields["reward_extra_info"] for output in outputs]
        assert [info["verify"] for info in infos] == [1.0, 0.0, 1.0]
        assert [info["format"] for info in infos] == [1.0, 1.0, 0.0]
        assert [output.reward_score for output in outputs] == [
            pytest.approx(1.4),
            pytest.approx(0.2),
            pytest.approx(1.0),
        ]
        view = httpx.get(f"{service.url}/stats").json()
        assert (view["steps"], view["series"]["items"]) == ([17], [3])


def test_a_short_outage_loses_nothing(local_ray, model_folder, tokenizer, pi1_row) -> None:
    port = free_port()
    service = ServiceProcess(port=port, env=ONE_WORKER).start()
    worker = reward_worker(model_folder, service.url)
    service.stop(signal.SIGKILL)
    replacement = ServiceProcess(port=port, env=ONE_WORKER)
    restarted = threading.Timer(2.0, replacement.start, kwargs={"wait": False})
    restarted.start()
    try:
        (output,) = score_samples(worker, tokenizer, pi1_row, [make_response("12.8")], step=2)
        assert output.reward_score == pytest.approx(1.4)
    finally:
        restarted.join()
        replacement.stop()


def test_a_long_outage_fails_the_sample_naming_the_url(
    local_ray, model_folder, tokenizer, pi1_row
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    worker = reward_worker(model_folder, url, REWARD_OUTAGE_WINDOW_S="2")
    with pytest.raises(Exception, match=f"RewardServiceUnavailable.*{url}"):
        score_samples(worker, tokenizer, pi1_row, [make_response("12.8")], step=2)


# --- the replay buffer, on verl's TransferQueue as the V1 trainer fills it ---------------


@pytest.fixture
def transfer_queue(local_ray):
    tq.init()
    try:
        yield tq
    finally:
        tq.close()


def put_group(tokenizer, infos: list[dict], status: str) -> str:
    """A GRPO group as the trainer and AgentLoopWorkerTQ leave it in TransferQueue."""
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    uid = str(uuid.uuid4())
    if infos:
        response = torch.tensor(tokenizer.encode("\\boxed{1}", add_special_tokens=False))
        fields = [
            {"responses": response, "extra_fields": {"reward_extra_info": info}} for info in infos
        ]
        tags = [{"status": "success", "global_steps": 1} for _ in infos]
        keys = [f"{uid}_{session}_0" for session in range(len(infos))]
        tq.kv_batch_put(
            keys=keys, partition_id="train", fields=list_of_dict_to_tensordict(fields), tags=tags
        )
    prompt_tag = {"is_prompt": True, "status": status, "global_steps": 1}
    tq.kv_put(key=uid, partition_id="train", tag=prompt_tag)
    return uid


def replay_buffer():
    """The buffer the run script configures, built as verl's trainer builds a custom one."""
    from verl.utils.import_utils import load_extern_type

    config = composed(REWARD_URL="http://rs:8000")
    sampler = config.trainer.v1.sampler
    cls = load_extern_type(sampler.custom_sampler.path, sampler.custom_sampler.name)
    return cls(
        trainer_mode="sync",
        trainer_config=OmegaConf.create({}),
        max_off_policy_threshold=sampler.max_off_policy_threshold,
        max_off_policy_strategy=sampler.max_off_policy_strategy,
        sampler_kwargs=sampler.sampler_kwargs,
        refill_fn=lambda count: None,
    )


GOOD = {"score": 1.4, "verify": 1.0, "format": 1.0, "reflect": 1.0, "pred": "12.8"}
BAD = {"score": 0.2, "verify": 0.0, "format": 1.0, "reflect": 0.0, "pred": "12"}


def test_signal_means_reach_the_step_metrics(transfer_queue, tokenizer) -> None:
    put_group(tokenizer, [GOOD, BAD, GOOD, GOOD], "finished")
    batch, metrics = replay_buffer().sample(global_steps=1, partition_id="train", batch_size=1)
    assert len(batch.keys) == 4
    assert metrics["reward_service/verify/mean"] == pytest.approx(0.75)
    assert metrics["reward_service/score/mean"] == pytest.approx((1.4 * 3 + 0.2) / 4)
    assert "reward_service/pred/mean" not in metrics


def test_a_failed_group_stops_the_run(transfer_queue, tokenizer) -> None:
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

    put_group(tokenizer, [GOOD, GOOD], "finished")
    put_group(tokenizer, [GOOD], "failure")  # a session's reward raised
    plain = ReplayBuffer("sync", OmegaConf.create({}), None, "drop", OmegaConf.create({}))
    batch, _ = plain.sample(global_steps=1, partition_id="train", batch_size=2)
    assert len(batch.keys) == 3  # verl itself trains on the failed group's survivor
    put_group(tokenizer, [GOOD], "failure")
    # verl loads the buffer's file as a module of its own, so its classes are not ours
    with pytest.raises(
        RuntimeError, match=r"1 rollout group\(s\) of step 1.*http://rs:8000"
    ) as err:
        replay_buffer().sample(global_steps=1, partition_id="train", batch_size=1)
    assert type(err.value).__name__ == "LostRewardsError"

"""verl 0.9.1's own training loop on the CPU, scoring through this project's manager.

One run of verl's ``run_ppo`` -> ``TaskRunnerV1.run`` -> ``PPOTrainerSync.fit`` with the run
script's config, shrunk to a tiny model and batch: validation before training, steps 1 and 2,
validation at step 2, then step 3 with the reward service killed. verl's own dataloader,
agent-loop manager and workers, LLM client and load balancer, reward-loop workers (loading
:class:`trainer.http_reward_manager.HttpRewardManager` against a live service), TransferQueue,
replay buffer (this project's, built by verl's ``_build_replay_buffer``), advantage
computation and file logger run as in training; the GPU parts stand in
(``tests/trainers/verl_standins.py``): the rollout server, the FSDP worker group and its
log-prob passes.

Phases run one after another (verl's sync trainer waits for each), and the stand-in rollout
answers every phase with the same four responses, so each phase's signal means are known.
The rollout holds step 3's requests until the service is killed, so the kill falls between
step 2 and step 3 on any machine.
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reward_service.bench.local_server import ServiceProcess
from reward_service.scoring import compute_score
from tests.service_process import ONE_WORKER
from tests.tiny_models import byte_level_tokenizer, tiny_qwen2
from tests.trainers.run_script import composed
from trainer.data import pi1_rows, write_parquet
from trainer.replay_buffer import METRIC_PREFIX

ray = pytest.importorskip("ray")

ROWS_PER_PHASE = 4
"""Validation: 4 prompts x 1 sample; a training step: 2 prompts x rollout.n = 2."""
OUTAGE_WINDOW_S = 2
SIGNALS = ("score", "verify", "format", "reflect", "timed_out", "scoring_error")


@dataclass
class FitRun:
    """What one run of verl's loop left behind."""

    url: str
    stats_before_kill: dict[str, Any] = field(default_factory=dict)
    killed_at: float | None = None
    error: BaseException | None = None
    stopped_at: float | None = None
    logged: list[dict[str, Any]] = field(default_factory=list)


RUN_DEADLINE_S = 1500.0
"""How long the run may take to reach step 3 before the rollout is released anyway: a safety
net far past the slowest machine (about 85 s here alone; 300 s on one core beside another
suite), so that no machine's speed decides the outcome."""
pytestmark = pytest.mark.timeout(RUN_DEADLINE_S + 300)


def tiny_run_config(folder: Path, url: str) -> Any:
    """The run script's config, on a tiny model and batch: 3 steps, validation at 0 and 2."""
    model = folder / "model"
    byte_level_tokenizer(model)
    tiny_qwen2(model)
    train = write_parquet(pi1_rows(4), folder / "train.parquet")
    val = write_parquet(pi1_rows(ROWS_PER_PHASE), folder / "val.parquet")
    return composed(
        "data.train_batch_size=2",
        "actor_rollout_ref.rollout.n=2",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "data.max_prompt_length=2048",  # pi1 with the system prompt is 1,077 byte tokens
        "data.max_response_length=512",
        "trainer.total_training_steps=3",
        "trainer.test_freq=2",
        "trainer.save_freq=-1",
        "trainer.experiment_name=fit",
        # one process of each kind, on two cores
        "actor_rollout_ref.rollout.agent.num_workers=1",
        "reward.num_workers=1",
        "data.dataloader_num_workers=0",
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
        REWARD_URL=url,
        REWARD_OUTAGE_WINDOW_S=str(OUTAGE_WINDOW_S),
        MODEL_PATH=str(model),
        TRAIN_FILE=str(train),
        VAL_FILE=str(val),
        OUTPUT_DIR=str(folder / "checkpoints"),
        LOGGER='["file"]',
    )


def kill_before_step_3(run: FitRun, service: ServiceProcess, server_name: str) -> None:
    """Once step 3's first request waits at the rollout: snapshot /stats, kill, release."""
    deadline = time.monotonic() + RUN_DEADLINE_S
    server = None
    while server is None and time.monotonic() < deadline:
        try:
            server = ray.get_actor(server_name)
        except ValueError:
            time.sleep(0.2)
    while server is not None and time.monotonic() < deadline:
        if ray.get(server.held_requests.remote()) > 0:
            run.stats_before_kill = httpx.get(f"{service.url}/stats").json()
            service.stop(signal.SIGKILL)
            run.killed_at = time.monotonic()
            break
        time.sleep(0.2)
    if server is not None:  # released either way: a run never waits on the test
        ray.get(server.release.remote())


@pytest.fixture(scope="module")
def fit_run() -> FitRun:
    from verl.trainer.main_ppo import run_ppo

    from tests.trainers.verl_standins import (
        HOLD_VARIABLE,
        SERVER_NAME_VARIABLE,
        StandInTaskRunner,
    )

    folder = Path(tempfile.mkdtemp(prefix="fit", dir="/tmp"))  # short: Ray's socket paths
    server_name = f"standin_rollout_{uuid.uuid4().hex[:8]}"
    # One environment for every actor, so Ray's idle workers serve them all. No PYTHONPATH:
    # the workers import trainer.* (verl loads the manager by path) and tests.* the way a run
    # from the repository root does, through the driver's working directory that Ray adds.
    env_vars = {
        "VERL_FILE_LOGGER_ROOT": str(folder / "logs"),
        SERVER_NAME_VARIABLE: server_name,
        HOLD_VARIABLE: str(4 * ROWS_PER_PHASE),  # validation, steps 1 and 2, validation
    }
    service = ServiceProcess(env=ONE_WORKER).start()
    run = FitRun(url=service.url)
    killer = threading.Thread(
        target=kill_before_step_3, args=(run, service, f"{server_name}_0"), daemon=True
    )
    try:
        config = tiny_run_config(folder, service.url)
        ray.init(
            address="local",
            num_cpus=6,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=str(folder / "ray"),
            runtime_env={"env_vars": env_vars},
        )
        killer.start()
        try:
            run_ppo(config, task_runner_class=StandInTaskRunner)
        except Exception as exc:  # the run is expected to stop; the tests say how
            run.error = exc
        run.stopped_at = time.monotonic()
    finally:
        if killer.is_alive():
            killer.join(timeout=10)
        ray.shutdown()
        service.stop()
        run.logged = [
            json.loads(line)
            for log in (folder / "logs").rglob("*.jsonl")
            for line in log.read_text().splitlines()
        ]
        shutil.rmtree(folder, ignore_errors=True)
    return run


def expected_means() -> dict[str, float]:
    """The signal means of one phase: the four scripted responses, scored in-process."""
    from tests.trainers.verl_standins import RESPONSES

    results = [compute_score("deepscaler", response, "12.8") for response in RESPONSES]
    return {
        "score": statistics.fmean(r["score"] for r in results),
        "verify": statistics.fmean(r["verify"] for r in results),
        "format": statistics.fmean(r["format"] for r in results),
        "reflect": statistics.fmean(r["reflect"] for r in results),
        "timed_out": 0.0,
        "scoring_error": 0.0,
    }


def test_the_real_steps_reach_the_service(fit_run: FitRun) -> None:
    view = fit_run.stats_before_kill
    steps = list(zip(view["steps"], view["series"]["items"], strict=True))
    # step 0 is the validation before training; step 2 holds its training and validation samples
    assert steps == [(0, ROWS_PER_PHASE), (1, ROWS_PER_PHASE), (2, 2 * ROWS_PER_PHASE)]


def test_each_signal_reaches_verls_logger(fit_run: FitRun) -> None:
    by_step = {entry["step"]: entry["data"] for entry in fit_run.logged}
    means = expected_means()
    for step in (1, 2):
        for signal_name in SIGNALS:
            logged = by_step[step][f"{METRIC_PREFIX}/{signal_name}/mean"]
            assert logged == pytest.approx(means[signal_name]), (step, signal_name)
    for step in (0, 2):  # verl's own validation metrics, from the same reward_extra_info
        assert by_step[step]["val-aux/deepscaler/verify/mean@1"] == pytest.approx(means["verify"])


def test_a_lost_reward_stops_the_run_before_the_next_step(fit_run: FitRun) -> None:
    assert fit_run.killed_at is not None, "step 3 never reached the rollout"
    assert fit_run.error is not None, "the run went on without its rewards"
    message = str(fit_run.error)
    assert "LostRewardsError" in message
    assert "of step 3" in message and fit_run.url in message
    trained = [e["data"]["training/global_step"] for e in fit_run.logged if e["step"] > 0]
    assert trained == [1, 2]
    print(f"stopped {fit_run.stopped_at - fit_run.killed_at:.1f} s after the kill")

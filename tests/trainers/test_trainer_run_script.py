"""The H100 run script, composed through verl's real hydra config (DRY_RUN=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.trainers.run_script import SCRIPT, composed
from trainer.model_loading import config_problems
from trainer.preflight import reward_manager_problems
from trainer.verl_config import compose_ppo_config, verl_validation_problems


@pytest.fixture(scope="module")
def config():
    return composed(REWARD_URL="http://reward:8000", MODEL_PATH="/models/qwen")


def test_seed_settings(config) -> None:
    actor_rollout_ref = config.actor_rollout_ref
    assert config.trainer.n_gpus_per_node == 1
    assert actor_rollout_ref.rollout.n == 32
    assert actor_rollout_ref.model.enable_gradient_checkpointing is True
    assert actor_rollout_ref.actor.fsdp_config.param_offload is False
    assert actor_rollout_ref.actor.fsdp_config.optimizer_offload is False
    assert config.trainer.total_epochs == 2000
    assert config.data.train_batch_size == 128
    assert actor_rollout_ref.actor.ppo_mini_batch_size == 64
    assert config.data.train_files == "data/train/one_shot_rlvr/pi1_r128.parquet"
    assert actor_rollout_ref.model.path == "/models/qwen"
    assert actor_rollout_ref.model.lora_rank == 0


def test_one_shot_rlvr_recipe(config) -> None:
    actor = config.actor_rollout_ref.actor
    assert config.algorithm.adv_estimator == "grpo"
    assert (config.data.max_prompt_length, config.data.max_response_length) == (1024, 3072)
    assert actor.optim.lr == 1e-6
    assert (actor.use_kl_loss, actor.kl_loss_coef, actor.kl_loss_type) == (
        True,
        0.001,
        "low_var_kl",
    )
    assert actor.entropy_coeff == 0.001
    assert config.actor_rollout_ref.rollout.name == "vllm"
    assert config.actor_rollout_ref.rollout.temperature == 0.6
    assert config.actor_rollout_ref.model.use_remove_padding is True
    assert actor.use_dynamic_bsz is True
    assert (config.trainer.save_freq, config.trainer.test_freq) == (20, 20)


def test_reward_goes_through_the_http_manager(config) -> None:
    assert config.reward.reward_manager.name == "HttpRewardManager"
    assert config.reward.reward_kwargs.reward_url == "http://reward:8000"
    assert reward_manager_problems(config) == []


def test_verl_validation_and_loading_rules_pass(config) -> None:
    assert verl_validation_problems(config) == []
    assert config_problems(config) == []


def test_pure_bf16_is_an_explicit_switch() -> None:
    pure = composed(PURE_BF16="1")
    assert pure.actor_rollout_ref.actor.fsdp_config.model_dtype == "bf16"
    assert config_problems(pure, pure_bf16=True) == []
    assert any("round away" in problem for problem in config_problems(pure))


def test_extra_overrides_pass_through_and_are_checked() -> None:
    assert (
        composed(GPU_MEMORY_UTILIZATION="0.4").actor_rollout_ref.rollout.gpu_memory_utilization
        == 0.4
    )
    lora = composed("actor_rollout_ref.model.lora_rank=8")
    assert any("LoRA" in problem for problem in config_problems(lora))


def test_token_budgets_are_the_measured_ones(config) -> None:
    """benchmarks/MEMORY.md: 8,192-token updates and 16,384-token log-prob passes fit."""
    actor_rollout_ref = config.actor_rollout_ref
    assert actor_rollout_ref.actor.ppo_max_token_len_per_gpu == 8192
    assert actor_rollout_ref.ref.log_prob_max_token_len_per_gpu == 16384
    assert actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu == 16384
    assert actor_rollout_ref.model.use_fused_kernels is True
    measured = (Path(__file__).parents[2] / "benchmarks" / "MEMORY.md").read_text()
    assert "| actor update" in measured and "8,192" in measured


def test_no_setting_is_one_verl_ignores(config) -> None:
    """Settings verl 0.9.1 reads only on paths this run does not take stay at verl's defaults,
    so the script never claims an effect it does not have."""
    defaults = compose_ppo_config([])
    ignored = []
    if config.actor_rollout_ref.model.use_fused_kernels:
        # the fused forward returns the entropy; chunking and checkpointing are non-fused only
        for role in ("actor", "ref"):
            for key in ("entropy_from_logits_with_chunking", "entropy_checkpointing"):
                ignored.append(f"actor_rollout_ref.{role}.{key}")
    if not config.algorithm.use_kl_in_reward:
        ignored.append("algorithm.kl_ctrl")  # the KL controller of the in-reward penalty
    ignored.append("actor_rollout_ref.rollout.val_kwargs.do_sample")  # V1 never reads it
    for role in ("actor", "ref"):  # absent means verl's bf16 / fp32 / fp32, as set explicitly
        ignored.append(f"actor_rollout_ref.{role}.fsdp_config.mixed_precision")
    for key in ignored:
        assert OmegaConf.select(config, key) == OmegaConf.select(defaults, key), key


def test_lost_rewards_stop_the_run_and_checkpoints_are_bounded(config) -> None:
    sampler = config.trainer.v1.sampler
    assert sampler.custom_sampler.name == "RewardCheckedReplayBuffer"
    assert Path(sampler.custom_sampler.path).is_file()
    assert sampler.sampler_kwargs.reward_url == "http://reward:8000"
    assert config.reward.reward_kwargs.outage_window_s == 600
    assert config.trainer.max_actor_ckpt_to_keep == 3
    assert composed(CKPT_KEEP="5").trainer.max_actor_ckpt_to_keep == 5


def test_hydra_writes_beside_the_checkpoints() -> None:
    (launch,) = [
        line for line in SCRIPT.read_text().splitlines() if "verl.trainer.main_ppo" in line
    ]
    assert 'hydra.run.dir="$OUTPUT_DIR/hydra"' in launch


def test_the_script_finds_the_virtual_environment() -> None:
    """No PYTHON given and no venv on PATH: the active environment's python runs verl."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "DRY_RUN": "1",
        "VIRTUAL_ENV": str(Path(sys.executable).parents[1]),
    }
    run = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "HttpRewardManager" in run.stdout

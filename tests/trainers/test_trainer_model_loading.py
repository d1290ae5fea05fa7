"""Model loading: bf16 compute, fp32 masters by default, no quantization, no LoRA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.tiny_models import tiny_qwen2
from trainer.model_loading import (
    config_problems,
    load_policy,
    loaded_model_problems,
    require_flash_attention,
)
from trainer.verl_config import compose_ppo_config

GOOD = [
    "+actor_rollout_ref.model.override_config.attn_implementation=flash_attention_2",
    "actor_rollout_ref.actor.fsdp_config.model_dtype=fp32",
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype=bf16",
    "actor_rollout_ref.ref.fsdp_config.model_dtype=bf16",
]


def _adam_moves(dtype: torch.dtype, steps: int = 10) -> float:
    """How far Adam at lr=1e-6 moves weights near 1 when the weights are kept in ``dtype``."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.ones(1024, dtype=dtype))
    optimizer = torch.optim.Adam([weight], lr=1e-6)
    for _ in range(steps):
        optimizer.zero_grad()
        (weight.float() * torch.randn(1024)).sum().backward()
        optimizer.step()
    return (weight.detach().float() - 1).abs().max().item()


def test_pure_bf16_masters_round_lr_1e6_updates_away() -> None:
    assert _adam_moves(torch.bfloat16) == 0.0  # bf16 spacing near 1 is 2**-7
    assert 5e-6 < _adam_moves(torch.float32) <= 1e-5 * 1.01  # 10 steps of at most ~lr each


def test_default_overrides_pass() -> None:
    assert config_problems(compose_ppo_config(GOOD)) == []


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        (
            "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
            "attn_implementation",
        ),
        ("actor_rollout_ref.actor.fsdp_config.model_dtype=bf16", "round away"),
        ("+actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype=fp32", "computes in"),
        ("actor_rollout_ref.ref.fsdp_config.model_dtype=fp32", "reference"),
        ("actor_rollout_ref.rollout.dtype=float16", "rollout dtype"),
        ("actor_rollout_ref.rollout.quantization=fp8", "quantization"),
        ("actor_rollout_ref.model.lora_rank=16", "LoRA"),
        ("+actor_rollout_ref.model.override_config.load_in_4bit=true", "load_in_4bit"),
    ],
)
def test_each_rule_is_enforced(override: str, problem: str) -> None:
    key = override.lstrip("+").split("=")[0]
    others = [line for line in GOOD if line.lstrip("+").split("=")[0] != key]
    problems = config_problems(compose_ppo_config([*others, override]))
    assert any(problem in line for line in problems), problems


def test_tiny_qwen2_loads_in_bf16_without_quantization(tmp_path: Path) -> None:
    tiny_qwen2(tmp_path)
    model = load_policy(str(tmp_path), device="cpu", attn_implementation="sdpa")
    assert loaded_model_problems(model, attn_implementation="sdpa") == []
    logits = model(torch.tensor([[1, 2, 3]])).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


def test_fp32_model_is_reported(tmp_path: Path) -> None:
    model = tiny_qwen2(tmp_path)
    assert any("bfloat16" in line for line in loaded_model_problems(model, "sdpa"))


def test_missing_flash_attention_is_a_clear_error(tmp_path: Path) -> None:
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="flash-attn"):
            require_flash_attention()
        with pytest.raises(RuntimeError, match="flash-attn"):
            load_policy(str(tmp_path), device="cpu")
    else:
        pytest.skip("flash-attn is installed here")


def test_config_dump_round_trips() -> None:
    config = compose_ppo_config(GOOD)
    assert config_problems(OmegaConf.create(OmegaConf.to_container(config))) == []

"""Model loading for full-parameter bf16 training (seed Task 2), without forking verl.

verl builds the models from its config, so the rules live in two places here: the
overrides in ``run_h100_multisignal.sh`` set them, :func:`config_problems` checks a
composed config against them, and :func:`load_policy` / :func:`loaded_model_problems`
load a checkpoint the same way and check the result on a real device.

The rules: bf16 compute for every copy (actor and reference via FSDP mixed precision,
whose verl default is bf16 parameters with fp32 reduction and buffers, so the script leaves
it unset; rollout); ``attn_implementation=flash_attention_2``; no quantization (no
``load_in_4bit``/``load_in_8bit``, no bitsandbytes); no LoRA.

Master weights stay fp32 by default: bf16 keeps 8 significant bits, so an Adam step of
about ``lr = 1e-6`` on a weight near 1 (spacing 2**-7) rounds away entirely in a pure-bf16
parameter. ``PURE_BF16=1`` in the run script opts into bf16 masters anyway.
"""

from __future__ import annotations

from typing import Any

ATTN_IMPLEMENTATION = "flash_attention_2"
COMPUTE_DTYPE = "bf16"

_QUANTIZATION_KEYS = ("load_in_4bit", "load_in_8bit", "quantization_config")


def _get(config: Any, dotted: str, default: Any = None) -> Any:
    from omegaconf import OmegaConf

    value = OmegaConf.select(config, dotted, default=default)
    return default if value is None else value


def config_problems(config: Any, pure_bf16: bool = False) -> list[str]:
    """What in a composed verl config breaks the loading rules (empty when none)."""
    model = "actor_rollout_ref.model"
    problems = []
    attn = _get(config, f"{model}.override_config.attn_implementation", ATTN_IMPLEMENTATION)
    if attn != ATTN_IMPLEMENTATION:
        problems.append(
            f"{model}.override_config.attn_implementation is {attn!r}, not {ATTN_IMPLEMENTATION!r}"
        )
    master = _get(config, "actor_rollout_ref.actor.fsdp_config.model_dtype")
    expected_master = "bf16" if pure_bf16 else "fp32"
    if master != expected_master:
        problems.append(
            f"actor master weights are {master!r}; expected {expected_master!r}"
            + ("" if pure_bf16 else " (bf16 masters round away lr=1e-6 updates)")
        )
    for role in ("actor", "ref"):
        param_dtype = _get(
            config, f"actor_rollout_ref.{role}.fsdp_config.mixed_precision.param_dtype", "bf16"
        )
        if param_dtype != COMPUTE_DTYPE:
            problems.append(f"{role} computes in {param_dtype!r}, not bf16")
    if _get(config, "actor_rollout_ref.ref.fsdp_config.model_dtype") not in ("bf16", "bfloat16"):
        problems.append("reference model is not loaded in bf16")
    if _get(config, "actor_rollout_ref.rollout.dtype") != "bfloat16":
        problems.append("rollout dtype is not bfloat16")
    if _get(config, "actor_rollout_ref.rollout.quantization") is not None:
        problems.append("rollout quantization is set; full precision is required")
    if int(_get(config, f"{model}.lora_rank", 0)) != 0:
        problems.append(f"{model}.lora_rank is not 0: LoRA is off for full fine-tuning")
    override = _get(config, f"{model}.override_config", {})
    for key in _QUANTIZATION_KEYS:
        if override.get(key):
            problems.append(f"{model}.override_config.{key} is set: no quantization")
    return problems


def load_policy(
    path: str, device: str = "cuda", attn_implementation: str = ATTN_IMPLEMENTATION
) -> Any:
    """Load a causal LM the way the trainer must: bf16, flash-attention 2, no quantization.

    Raises:
        RuntimeError: flash-attention 2 is asked for and the flash-attn package is missing.
    """
    import torch
    from transformers import AutoModelForCausalLM

    if attn_implementation == ATTN_IMPLEMENTATION:
        require_flash_attention()
    model = AutoModelForCausalLM.from_pretrained(
        path, torch_dtype=torch.bfloat16, attn_implementation=attn_implementation
    )
    return model.to(device)


def loaded_model_problems(model: Any, attn_implementation: str = ATTN_IMPLEMENTATION) -> list[str]:
    """What about a loaded model breaks the rules (empty when none)."""
    import torch

    problems = []
    dtypes = {str(p.dtype) for p in model.parameters()}
    if dtypes != {str(torch.bfloat16)}:
        problems.append(f"parameters are {sorted(dtypes)}, not only bfloat16")
    if model.config._attn_implementation != attn_implementation:
        problems.append(
            f"attention is {model.config._attn_implementation!r}, not {attn_implementation!r}"
        )
    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        problems.append("the model is quantized")
    if getattr(model, "hf_quantizer", None) is not None:
        problems.append(f"the model has a quantizer: {type(model.hf_quantizer).__name__}")
    if getattr(model, "peft_config", None):
        problems.append("the model carries LoRA/PEFT adapters")
    return problems


def require_flash_attention() -> None:
    """Raise a clear error when flash-attn (the ``gpu`` extra) is not installed."""
    try:
        import flash_attn  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "attn_implementation=flash_attention_2 needs the flash-attn package: "
            "pip install 'reward-service[gpu]' on a CUDA machine"
        ) from exc

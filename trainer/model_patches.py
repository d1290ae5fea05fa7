"""verl's model patches, built on a tiny model on the CPU before a run starts.

Every actor and reference build in verl 0.9.1 (its FSDP engine's model build) calls
``verl.models.transformers.monkey_patch.apply_monkey_patch`` on the loaded model, with the
run's ``use_remove_padding``, sequence parallelism and fused-kernel settings. That call can
fail because of the environment rather than the model: whenever TRL is importable, it
imports TRL's ``AutoModelForCausalLMWithValueHead``, which TRL 1.x no longer has, so an
environment holding both verl and TRL fails at model build, after vLLM has started.
:func:`model_patch_problems` makes the same call on a two-layer Qwen2 (the run's
architecture) and runs one forward pass through the patched model, in about a second.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from typing import Any

TINY_QWEN2 = {
    "vocab_size": 128,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
}
"""Qwen2.5-Math-1.5B's architecture, shrunk; built from config, no weights downloaded."""


def model_patch_problems(config: Any) -> list[str]:
    """One line if verl's model patches fail here with the run's settings, else nothing."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # verl prints each patch it applies
            _patched_forward(config)
    except Exception as exc:  # any failure here would stop every model build of the run
        return [f"verl's model patches fail on a tiny Qwen2 ({type(exc).__name__}: {exc}){_hint()}"]
    return []


def _patched_forward(config: Any) -> None:
    """verl's patches on a tiny Qwen2, as verl's model build applies them; one forward."""
    import torch
    from omegaconf import OmegaConf
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from verl.models.transformers.monkey_patch import apply_monkey_patch

    def setting(key: str, default: Any) -> Any:
        value = OmegaConf.select(config, f"actor_rollout_ref.{key}", default=default)
        return default if value is None else value

    use_fused_kernels = bool(setting("model.use_fused_kernels", False))
    # verl patches the model's class; a subclass keeps that patch inside this check
    model_class = type(
        "PreflightQwen2ForCausalLM",
        (Qwen2ForCausalLM,),
        {"__module__": Qwen2ForCausalLM.__module__},
    )
    model = model_class(Qwen2Config(**TINY_QWEN2, attn_implementation="sdpa"))
    apply_monkey_patch(
        model=model,
        ulysses_sp_size=int(setting("actor.ulysses_sequence_parallel_size", 1)),
        use_remove_padding=bool(setting("model.use_remove_padding", False)),
        use_fused_kernels=use_fused_kernels,
        fused_kernels_backend=setting("model.fused_kernel_options.impl_backend", None),
    )
    with torch.no_grad():
        output = model(input_ids=torch.arange(8).unsqueeze(0), return_dict=True)
    values = output.log_probs if use_fused_kernels else output.logits
    if not torch.isfinite(values).all():
        raise ValueError("the patched forward pass returned non-finite values")


def _hint() -> str:
    """Why it failed, when the usual reason is present: TRL installed beside verl."""
    spec = importlib.util.find_spec("trl")
    if spec is None:
        return ""
    where = next(iter(spec.submodule_search_locations or [spec.origin]))
    return (
        f"; TRL is importable beside verl ({where}) and verl then imports its value-head "
        "model: install TRL in its own environment, never with the trainer extra"
    )

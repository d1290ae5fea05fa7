"""How much disk a run's checkpoints take, and whether the disk holds them.

verl saves the actor every ``trainer.save_freq`` steps: fp32 weights plus AdamW's two
moments, 12 bytes a parameter (about 18.5 GB for Qwen2.5-Math-1.5B), and keeps
``trainer.max_actor_ckpt_to_keep`` of them (all of them when it is null).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

BYTES_PER_PARAMETER = 12
"""fp32 master weights (4) + AdamW's exp_avg and exp_avg_sq (4 + 4)."""
QWEN25_MATH_15B_PARAMETERS = 1_543_714_304
"""Parameters of Qwen2.5-Math-1.5B, used when the model's config cannot be read here."""
GB = 1e9


def parameter_count(model_path: str) -> int:
    """Parameters of the model at ``model_path`` (a local folder with config.json), built on
    the meta device (no memory); Qwen2.5-Math-1.5B's count when the config is not local."""
    if not (Path(model_path) / "config.json").is_file():
        return QWEN25_MATH_15B_PARAMETERS
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(parameter.numel() for parameter in model.parameters())


def checkpoint_bytes(model_path: str) -> int:
    """Bytes of one actor checkpoint (weights and optimizer state)."""
    return parameter_count(model_path) * BYTES_PER_PARAMETER


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def disk_problems(config: Any) -> list[str]:
    """Checkpoints must be bounded in number, and the disk must hold that many."""
    keep = config.trainer.get("max_actor_ckpt_to_keep")
    if keep is None:
        return [
            "trainer.max_actor_ckpt_to_keep is null: every checkpoint is kept "
            "(set CKPT_KEEP in the run script)"
        ]
    folder = Path(str(config.trainer.default_local_dir))
    needed = int(keep) * checkpoint_bytes(str(config.actor_rollout_ref.model.path))
    free = shutil.disk_usage(_existing_parent(folder)).free
    if free < needed:
        return [
            f"{keep} checkpoints need {needed / GB:.1f} GB under {folder}, but only "
            f"{free / GB:.1f} GB is free: {(needed - free) / GB:.1f} GB missing "
            "(free some, or lower CKPT_KEEP)"
        ]
    return []

"""Check a training run before it starts; fail loudly on anything that would waste the GPU.

    python -m trainer.preflight [--dry-run] -- <verl hydra overrides>

``--dry-run`` prints the composed config and exits. Otherwise it checks: that verl's
default (V1) run path imports, that verl's model patches build on a tiny model with the
run's settings (TRL installed beside verl breaks them), verl's own config validation, the
model-loading rules (bf16, flash-attention 2, no quantization, no LoRA), the reward manager
pointing at this project's HTTP manager, the data files, free disk for the kept
checkpoints, every reward URL scoring a known response with the configured token and
weights, and a CUDA device with flash-attn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from reward_service.client import RewardServiceError
from trainer.checkpoint_budget import disk_problems
from trainer.model_loading import config_problems, require_flash_attention
from trainer.model_patches import model_patch_problems
from trainer.prompts import EXAMPLE_RESPONSE
from trainer.reward_settings import HttpRewardSettings
from trainer.verl_config import compose_ppo_config, verl_validation_problems

MANAGER_NAME = "HttpRewardManager"
RUN_PATH_MODULES = (
    "transfer_queue",
    "verl.trainer.main_ppo",
    "verl.trainer.ppo.v1.agent_loop_tq",
    "trainer.replay_buffer",
)
"""What verl's default (V1) trainer imports once it runs, and our replay buffer."""
PROBE_ITEM = {"response": EXAMPLE_RESPONSE, "ground_truth": "4"}
"""A response that is right, well formatted and judged correct: every signal is 1."""
NO_CUDA = "no CUDA device: verl's trainer needs an NVIDIA GPU (torch.cuda.is_available() is False)"


def run_path_problems() -> list[str]:
    """verl's V1 run path must import (TransferQueue comes with the ``trainer`` extra)."""
    problems = []
    for module in RUN_PATH_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            problems.append(f"cannot import {module} ({exc}); pip install -e '.[trainer]'")
    return problems


def reward_manager_problems(config: Any) -> list[str]:
    """The run must score through :class:`trainer.http_reward_manager.HttpRewardManager`."""
    manager = config.reward.reward_manager
    if manager.source != "importlib" or manager.name != MANAGER_NAME:
        return [f"reward manager is {manager.source}:{manager.name}, not importlib:{MANAGER_NAME}"]
    path = manager.module.path
    if not path or not Path(path).is_file():
        return [f"reward manager file {path!r} does not exist"]
    try:
        HttpRewardSettings.from_mapping(_kwargs(config))
    except (TypeError, ValueError) as exc:
        return [f"reward.reward_kwargs: {exc}"]
    return []


def _kwargs(config: Any) -> dict[str, Any]:
    from omegaconf import OmegaConf

    kwargs = config.reward.get("reward_kwargs")
    return OmegaConf.to_container(kwargs, resolve=True) if kwargs is not None else {}  # type: ignore[return-value]


def data_problems(config: Any) -> list[str]:
    files = [*_as_list(config.data.train_files), *_as_list(config.data.val_files)]
    return [f"data file {path} does not exist" for path in files if not Path(path).is_file()]


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def service_problems(config: Any) -> list[str]:
    """Every reward URL must score a known response, with the run's token and weights.

    Catches a wrong URL, a missing or wrong token (401) and weights the service refuses;
    the score must be the full ``alpha + beta + gamma`` of the weights in force.
    """
    settings = HttpRewardSettings.from_mapping(_kwargs(config))
    return [
        problem
        for url in settings.reward_url
        for problem in asyncio.run(_probe(dataclasses.replace(settings, reward_url=(url,))))
    ]


async def _probe(settings: HttpRewardSettings) -> list[str]:
    url = settings.reward_url[0]
    once = dataclasses.replace(settings, outage_window_s=0, retries=0, timeout_s=30)
    async with once.client() as client:
        try:
            (result,) = await client.score([PROBE_ITEM])
        except RewardServiceError as exc:
            return [f"reward service at {url} did not score a known response: {exc}"]
    signals = (result["verify"], result["format"], result["reflect"])
    weights = settings.weights or {}
    if signals != (1, 1, 1) or result["status"] != "ok":
        return [f"reward service at {url} scored a right, well-formatted answer as {result}"]
    if len(weights) == 3 and abs(result["score"] - sum(weights.values())) > 1e-9:
        return [f"reward service at {url} scored {result['score']} with weights {weights}"]
    return []


def gpu_problems() -> list[str]:
    """A CUDA device, with flash-attn importable on it."""
    import torch

    if not torch.cuda.is_available():
        return [NO_CUDA]
    try:
        require_flash_attention()
    except RuntimeError as exc:
        return [str(exc)]
    return []


def preflight_problems(config: Any, pure_bf16: bool) -> list[str]:
    """Every check, in order; an empty list means the run may start."""
    run_path = run_path_problems()
    return [
        *run_path,
        *([] if run_path else model_patch_problems(config)),
        *verl_validation_problems(config),
        *config_problems(config, pure_bf16=pure_bf16),
        *reward_manager_problems(config),
        *data_problems(config),
        *disk_problems(config),
        *service_problems(config),
        *gpu_problems(),
    ]


def main(
    overrides: Annotated[list[str] | None, typer.Argument(help="verl hydra overrides")] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the composed config and exit.")] = False,
) -> None:
    """Compose the config from ``overrides`` and check it (or print it with --dry-run)."""
    from omegaconf import OmegaConf

    config = compose_ppo_config(overrides or [])
    if dry_run:
        typer.echo(OmegaConf.to_yaml(config))
        return
    problems = preflight_problems(config, pure_bf16=os.environ.get("PURE_BF16") == "1")
    for problem in problems:
        typer.echo(f"preflight: {problem}", err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo("preflight: all checks passed", err=True)


if __name__ == "__main__":
    sys.exit(typer.run(main))

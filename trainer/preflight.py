"""Check a training run before it starts; fail loudly on anything that would waste the GPU.

    python -m trainer.preflight [--dry-run] -- <verl hydra overrides>

``--dry-run`` prints the composed config and exits. Otherwise it checks: verl's own
config validation, the model-loading rules (bf16, flash-attention 2, no quantization, no
LoRA), the reward manager pointing at this project's HTTP manager, the data files, the
reward service answering ``/health`` on every URL, and flash-attn on a GPU machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from trainer.model_loading import config_problems, require_flash_attention
from trainer.reward_settings import HttpRewardSettings
from trainer.verl_config import compose_ppo_config, verl_validation_problems

MANAGER_NAME = "HttpRewardManager"


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
    """Every reward URL must answer ``GET /health`` with 200."""
    problems = []
    for url in HttpRewardSettings.from_mapping(_kwargs(config)).reward_url:
        try:
            response = httpx.get(f"{url}/health", timeout=5)
        except httpx.TransportError as exc:
            problems.append(f"reward service at {url} is not reachable: {exc}")
            continue
        if response.status_code != 200:
            problems.append(f"reward service at {url} is not healthy: HTTP {response.status_code}")
    return problems


def gpu_problems() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    try:
        require_flash_attention()
    except RuntimeError as exc:
        return [str(exc)]
    return []


def preflight_problems(config: Any, pure_bf16: bool) -> list[str]:
    """Every check, in order; an empty list means the run may start."""
    return [
        *verl_validation_problems(config),
        *config_problems(config, pure_bf16=pure_bf16),
        *reward_manager_problems(config),
        *data_problems(config),
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

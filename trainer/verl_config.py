"""Compose verl's own PPO config (its hydra files, as ``verl.trainer.main_ppo`` does)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def verl_config_dir() -> Path:
    """The folder of verl's trainer configs in the installed verl package."""
    import verl.trainer

    return Path(verl.trainer.__file__).parent / "config"


def compose_ppo_config(overrides: Sequence[str]) -> Any:
    """``ppo_trainer`` composed with hydra ``overrides``, as main_ppo would see it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(verl_config_dir()), version_base=None):
        return compose("ppo_trainer", overrides=list(overrides))


def verl_validation_problems(config: Any) -> list[str]:
    """verl's own ``validate_config``, its assertion turned into a problem line."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    try:
        validate_config(config, need_reference_policy(config), need_critic(config))
    except (AssertionError, ValueError) as exc:
        return [f"verl validate_config: {exc}"]
    return []

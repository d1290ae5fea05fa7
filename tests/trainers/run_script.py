"""The H100 run script's composed config, as the script itself prints it (DRY_RUN=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

SCRIPT = Path(__file__).parents[2] / "trainer" / "run_h100_multisignal.sh"


def composed(*overrides: str, **env: str) -> DictConfig:
    """The config the script would start verl with, as the script itself prints it."""
    run_env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable, **env}
    output = subprocess.run(
        ["bash", str(SCRIPT), *overrides], env=run_env, capture_output=True, text=True, check=True
    ).stdout
    return OmegaConf.create(yaml.safe_load(output))

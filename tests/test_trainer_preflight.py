"""The preflight the run script runs before verl starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reward_service.local_server import ServiceProcess, free_port
from tests.run_script import SCRIPT, composed
from tests.service_process import ONE_WORKER
from trainer.data import pi1_rows, write_parquet
from trainer.preflight import preflight_problems


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("data")
    train = write_parquet(pi1_rows(), folder / "train.parquet")
    val = write_parquet(pi1_rows(4), folder / "val.parquet")
    return {"TRAIN_FILE": str(train), "VAL_FILE": str(val)}


def test_passes_with_a_healthy_service_and_data(data_files: dict[str, str]) -> None:
    with ServiceProcess(env=ONE_WORKER) as service:
        config = composed(REWARD_URL=service.url, **data_files)
        assert preflight_problems(config, pure_bf16=False) == []


def test_names_each_problem(data_files: dict[str, str], tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = composed(
        "actor_rollout_ref.rollout.quantization=fp8",
        REWARD_URL=dead,
        TRAIN_FILE=str(tmp_path / "missing.parquet"),
        VAL_FILE=data_files["VAL_FILE"],
    )
    problems = "\n".join(preflight_problems(config, pure_bf16=False))
    assert f"reward service at {dead} is not reachable" in problems
    assert "missing.parquet does not exist" in problems
    assert "quantization" in problems


def test_run_script_stops_before_verl_when_preflight_fails(data_files: dict[str, str]) -> None:
    env = {
        **os.environ,
        **data_files,
        "PYTHON": sys.executable,
        "REWARD_URL": f"http://127.0.0.1:{free_port()}",
    }
    run = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1
    assert "preflight: reward service at" in run.stderr
    assert "main_ppo" not in run.stderr and "ray" not in run.stdout.lower()


def test_gpu_run_without_flash_attention_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: CUDA's presence is the one fault injected; flash-attn is really missing."""
    import torch

    from trainer.preflight import gpu_problems

    try:
        import flash_attn  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("flash-attn is installed here")
    if not torch.cuda.is_available():
        assert gpu_problems() == []  # a CPU machine has nothing to check
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert any("flash-attn" in problem for problem in gpu_problems())

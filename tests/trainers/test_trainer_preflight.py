"""The preflight the run script runs before verl starts."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from reward_service.bench.local_server import ServiceProcess, free_port
from tests.service_process import ONE_WORKER
from tests.trainers.run_script import SCRIPT, composed
from trainer.data import pi1_rows, write_parquet
from trainer.model_patches import model_patch_problems
from trainer.preflight import NO_CUDA, preflight_problems, run_path_problems, service_problems

TOKEN = "a-token-of-sixteen-chars"
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("data")
    train = write_parquet(pi1_rows(), folder / "train.parquet")
    val = write_parquet(pi1_rows(4), folder / "val.parquet")
    return {"TRAIN_FILE": str(train), "VAL_FILE": str(val)}


def test_on_this_cpu_machine_only_the_gpu_is_missing(data_files: dict[str, str]) -> None:
    import torch

    with ServiceProcess(env=ONE_WORKER) as service:
        config = composed(REWARD_URL=service.url, **data_files)
        problems = preflight_problems(config, pure_bf16=False)
    assert problems == ([] if torch.cuda.is_available() else [NO_CUDA])


def test_verls_default_run_path_imports() -> None:
    """verl's V1 trainer imports TransferQueue once it runs; the trainer extra brings it."""
    assert run_path_problems() == []


def test_verls_model_patches_build_with_the_run_settings() -> None:
    config = composed(REWARD_URL="http://reward:8000")
    assert config.actor_rollout_ref.model.use_fused_kernels is True  # the patched forward runs
    assert model_patch_problems(config) == []


@pytest.fixture(scope="module")
def trl_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real TRL the ``trl`` extra installs, alone in a folder (its dependencies are here)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (requirement,) = [r for r in extras["optional-dependencies"]["trl"] if r.startswith("trl")]
    folder = tmp_path_factory.mktemp("trl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(folder),
            requirement,
        ],
        check=True,
        timeout=300,
    )
    return folder


def test_trl_beside_verl_stops_the_run_in_one_line(
    data_files: dict[str, str], trl_folder: Path
) -> None:
    """TRL importable in the trainer's environment breaks verl's model build; the preflight
    says so before verl starts, in one line (and the GPU line, on this CPU machine)."""
    import torch

    with ServiceProcess(env=ONE_WORKER) as service:
        env = {
            **os.environ,
            **data_files,
            "PYTHON": sys.executable,
            "REWARD_URL": service.url,
            "PYTHONPATH": os.pathsep.join([str(trl_folder), str(ROOT)]),
        }
        run = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
        )
    problems = [line for line in run.stderr.splitlines() if line.startswith("preflight: ")]
    expected_gpu = [] if torch.cuda.is_available() else [f"preflight: {NO_CUDA}"]
    assert run.returncode == 1, run.stderr[-3000:]
    assert problems[1:] == expected_gpu, problems
    assert "AutoModelForCausalLMWithValueHead" in problems[0]
    assert f"TRL is importable beside verl ({trl_folder / 'trl'})" in problems[0]
    assert "main_ppo" not in run.stderr


def test_the_token_is_checked_with_a_real_score(monkeypatch: pytest.MonkeyPatch) -> None:
    with ServiceProcess(env={**ONE_WORKER, "REWARD_SERVICE_API_TOKEN": TOKEN}) as service:
        monkeypatch.delenv("REWARD_SERVICE_API_TOKEN", raising=False)
        (problem,) = service_problems(composed(REWARD_URL=service.url))
        assert f"reward service at {service.url} did not score" in problem and "401" in problem
        monkeypatch.setenv("REWARD_SERVICE_API_TOKEN", "x" * 16)
        assert "401" in service_problems(composed(REWARD_URL=service.url))[0]
        monkeypatch.setenv("REWARD_SERVICE_API_TOKEN", TOKEN)
        assert service_problems(composed(REWARD_URL=service.url)) == []


def test_the_weights_in_force_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with ServiceProcess(env=ONE_WORKER) as service:
        weights = ["+reward.reward_kwargs.alpha=2", "+reward.reward_kwargs.beta=0.5"]
        full = [*weights, "+reward.reward_kwargs.gamma=0.25"]
        assert service_problems(composed(*full, REWARD_URL=service.url)) == []
        assert service_problems(composed(*weights, REWARD_URL=service.url)) == []


def test_checkpoints_must_fit_on_the_disk(data_files: dict[str, str], tmp_path: Path) -> None:
    from trainer.checkpoint_budget import disk_problems

    config = composed(OUTPUT_DIR=str(tmp_path / "run"), CKPT_KEEP="1000000", **data_files)
    (problem,) = disk_problems(config)
    assert "1000000 checkpoints need" in problem and "GB missing" in problem
    unbounded = composed("trainer.max_actor_ckpt_to_keep=null")
    assert "every checkpoint is kept" in disk_problems(unbounded)[0]
    assert disk_problems(composed(OUTPUT_DIR=str(tmp_path / "run"), CKPT_KEEP="1")) == []


def test_names_each_problem(data_files: dict[str, str], tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = composed(
        "actor_rollout_ref.rollout.quantization=fp8",
        REWARD_URL=dead,
        TRAIN_FILE=str(tmp_path / "missing.parquet"),
        VAL_FILE=data_files["VAL_FILE"],
    )
    problems = "\n".join(preflight_problems(config, pure_bf16=False))
    assert f"reward service at {dead} did not score a known response" in problems
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
        assert gpu_problems() == [NO_CUDA]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert any("flash-attn" in problem for problem in gpu_problems())

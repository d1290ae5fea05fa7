"""The reward-service command: score files offline or remotely, and serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from reward_service.bench.local_server import ServiceProcess
from reward_service.cli import app
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.service_process import ONE_WORKER

ROWS = [
    {"response": make_response("12.8"), "ground_truth": "12.8", "id": 1},
    {"response": make_response("13", "The answer is wrong."), "ground_truth": "12.8", "id": 2},
    {"response": "no format", "ground_truth": "\\frac{64}{5}", "id": 3},
]


def _write_rows(path: Path) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in ROWS) + b"\n")
    return path


def _check_scored(path: Path) -> None:
    scored = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [row["id"] for row in scored] == [1, 2, 3]
    for row in scored:
        expected = compute_score("x", row["response"], row["ground_truth"])
        assert {key: row[key] for key in expected} == expected


def test_score_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    output = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(
        app, ["score", str(_write_rows(tmp_path / "in.jsonl")), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    _check_scored(output)


def test_score_against_a_server(tmp_path: Path, service_url: str) -> None:
    output = tmp_path / "scored.jsonl"
    args = [
        "score",
        str(_write_rows(tmp_path / "in.jsonl")),
        "--url",
        service_url,
        "-o",
        str(output),
    ]
    result = CliRunner().invoke(app, [*args, "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    _check_scored(output)


def test_score_rejects_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"response": "x"}\n')
    result = CliRunner().invoke(app, ["score", str(bad)])
    assert result.exit_code != 0 and "ground_truth" in result.output


def test_serve_command_runs_and_stops_cleanly() -> None:
    service = ServiceProcess(env=ONE_WORKER).start()
    try:
        item = {"response": make_response(), "ground_truth": "12.8"}
        assert httpx.post(f"{service.url}/score", json=item).json()["results"][0]["score"] == 1.4
    finally:
        code = service.stop()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert code in (0, -signal.SIGTERM), service.output
    assert "Application shutdown complete" in service.output


def test_a_dead_service_leaves_the_output_file_alone(tmp_path: Path) -> None:
    from reward_service.bench.local_server import free_port

    rollouts = _write_rows(tmp_path / "rollouts.jsonl")
    output = tmp_path / "scored.jsonl"
    output.write_text("a good earlier result\n")
    dead = f"http://127.0.0.1:{free_port()}"
    args = ["score", str(rollouts), "-o", str(output), "--url", dead, "--retries", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert output.read_text() == "a good earlier result\n"
    assert "error:" in result.output and dead in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) < 8
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rollouts.jsonl", "scored.jsonl"]


def _serve_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``reward-service serve`` run with ``env`` added; settings errors stop it at once."""
    return subprocess.run(
        [sys.executable, "-m", "reward_service.cli", "serve"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_short_token_stops_serve_with_one_line() -> None:
    done = _serve_with({"REWARD_SERVICE_API_TOKEN": "secret-12", "REWARD_SERVICE_WORKERS": "0"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert sorted(lines) == [
        "error: REWARD_SERVICE_API_TOKEN: must be at least 16 characters, this one has 9",
        "error: REWARD_SERVICE_WORKERS: Input should be greater than or equal to 1",
    ]
    assert "secret-12" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("command", "usage", "described"),
    [
        ("report", "reward-service report [OPTIONS] {STATS_FILE}", "REWARD_SERVICE_STATS_FILE"),
        ("score", "reward-service score [OPTIONS] {ROLLOUTS_FILE}", "each a /score item"),
    ],
)
def test_help_names_the_file_a_command_reads(command: str, usage: str, described: str) -> None:
    """The usage line names the file by what it holds (typer writes a required argument in
    braces), and the argument's help says what it is."""
    result = CliRunner().invoke(app, [command, "--help"], prog_name="reward-service")
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert usage in text and described in text
    assert "{stats}" not in text and "{rollouts}" not in text


@pytest.mark.parametrize("where", ["directory", "under-a-file", "read-only"])
def test_an_unwritable_stats_file_stops_serve_with_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("")
    read_only = Path("/proc/reward-service-stats.jsonl")  # no one may create files there
    path, reason = {
        "directory": (tmp_path, "it is a directory"),
        "under-a-file": (tmp_path / "file" / "stats.jsonl", f"{tmp_path / 'file'} is not a"),
        "read-only": (read_only, "no file can be created in /proc"),
    }[where]
    done = _serve_with({"REWARD_SERVICE_STATS_FILE": str(path), **ONE_WORKER})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stdout
    assert lines[0].startswith(
        f"error: REWARD_SERVICE_STATS_FILE: cannot write the statistics file {path}: "
    )
    assert reason in lines[0]

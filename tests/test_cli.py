"""The reward-service command: score files offline or remotely, and serve."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from reward_service.cli import app
from reward_service.scoring import compute_score
from tests.conftest import make_response

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server never became healthy")


def test_serve_command_runs_and_stops_cleanly() -> None:
    port = free_port()
    env = {**os.environ, "REWARD_SERVICE_PORT": str(port), "REWARD_SERVICE_WORKERS": "1"}
    command = [sys.executable, "-m", "reward_service.cli", "serve"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        item = {"response": make_response(), "ground_truth": "12.8"}
        assert httpx.post(f"{url}/score", json=item).json()["results"][0]["score"] == 1.4
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output

"""Every benchmark command the docs give runs as written from the repository root: each
script (or ``-m`` module) the README, RESULTS.md, MEMORY.md and the benchmarks' own
docstrings name answers ``--help`` there, in the all-extras environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "RESULTS.md",
    ROOT / "benchmarks" / "MEMORY.md",
    *sorted((ROOT / "benchmarks").glob("*.py")),
]
COMMAND = re.compile(r"python3? (-m benchmarks\.\w+|benchmarks/\w+\.py)")


def documented_commands() -> list[str]:
    """How the docs run each benchmark: ``benchmarks/x.py`` or ``-m benchmarks.x``."""
    return sorted({match for doc in DOCS for match in COMMAND.findall(doc.read_text())})


def test_every_benchmark_is_documented() -> None:
    scripts = {
        path.stem for path in (ROOT / "benchmarks").glob("*.py") if path.name != "__init__.py"
    }
    named = {
        re.split(r"[/.]", command.removesuffix(".py"))[-1] for command in documented_commands()
    }
    assert scripts <= named, f"never given a command: {sorted(scripts - named)}"


@pytest.mark.parametrize("command", documented_commands())
def test_the_command_runs_as_written(command: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, *command.split(), "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout.lower()

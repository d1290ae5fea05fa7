"""Test helpers around a service process."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import psutil


def metric(url: str, sample: str) -> float:
    """One sample of the service's ``/metrics`` (0 when it has none yet), named as the
    exposition writes it: ``reward_requests_total{code="200"}``."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    lines = [line for line in text.splitlines() if line.startswith(sample)]
    return float(lines[0].split()[-1]) if lines else 0.0


def wait_for_metric(url: str, sample: str, at_least: float, timeout_s: float = 120.0) -> float:
    """Wait until ``sample`` reaches ``at_least``; returns its value (fails the test past
    ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while (value := metric(url, sample)) < at_least:
        assert time.monotonic() < deadline, f"{sample} stayed at {value}, below {at_least}"
        time.sleep(0.02)
    return value


def scored_requests(url: str) -> float:
    """How many ``/score`` requests the service at ``url`` answered with 200."""
    return metric(url, 'reward_requests_total{code="200"}')


ONE_WORKER = {"REWARD_SERVICE_WORKERS": "1"}
"""Settings for a service process that starts fast."""


def worker_pids() -> set[int]:
    """Live scoring worker processes: grandchildren of this process (the fork server's
    children)."""
    me = psutil.Process()
    return {
        child.pid
        for child in me.children(recursive=True)
        if child.ppid() != me.pid and child.status() != psutil.STATUS_ZOMBIE
    }


def _children(pid: int) -> list[int]:
    """The child processes of ``pid``, straight from /proc (psutil scans every process,
    too slow for a loop of kills): a child is listed under the thread that started it."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                children += map(int, (task / "children").read_text().split())
    return children


def _alive(pid: int, name: bytes = b"") -> bool:
    """Whether ``pid`` runs (is not a zombie) and its command line holds ``name``."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return False
    return state != "Z" and name in command


def fork_servers(pid: int) -> list[int]:
    """The live fork servers of the service process ``pid`` (one, except while a killed one
    is being replaced)."""
    return [child for child in _children(pid) if _alive(child, b"forkserver")]


def scoring_workers(pid: int) -> list[int]:
    """The live scoring processes of the service process ``pid``: its fork servers' children."""
    return [
        worker for server in fork_servers(pid) for worker in _children(server) if _alive(worker)
    ]

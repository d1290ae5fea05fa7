"""Test helpers around a service process."""

from __future__ import annotations

import httpx
import psutil


def scored_requests(url: str) -> float:
    """How many ``/score`` requests the service at ``url`` answered with 200."""
    prefix = 'reward_requests_total{code="200"}'
    text = httpx.get(f"{url}/metrics").text
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


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

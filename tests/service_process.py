"""The service as a separate process, started the way users and containers start it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx

SERVE_COMMAND = (sys.executable, "-m", "reward_service.cli", "serve")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``command`` (default ``reward-service serve``) on 127.0.0.1:``port``, stoppable and
    restartable on the same port."""

    def __init__(
        self,
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: Sequence[str] = SERVE_COMMAND,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = list(command)
        self.env = {
            **os.environ,
            "REWARD_SERVICE_PORT": str(self.port),
            "REWARD_SERVICE_WORKERS": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.output = ""

    def start(self, wait: bool = True) -> ServiceProcess:
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self.stop()
                raise AssertionError(
                    f"service exited with {self.process.returncode}:\n{self.output}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"service at {self.url} never became healthy")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the process (SIGKILL for a crash); returns its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.output += self.process.communicate(timeout=60)[0].decode(errors="replace")
        code = self.process.returncode
        self.process = None
        return code

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def scored_requests(url: str) -> float:
    """How many ``/score`` requests the service at ``url`` answered with 200."""
    prefix = 'reward_requests_total{code="200"}'
    text = httpx.get(f"{url}/metrics").text
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0

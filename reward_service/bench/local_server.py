"""Run the service locally on a loopback port: in a background thread, or as its own process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from typing import IO

import httpx
import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 120.0
"""How long a local server may take to become ready (the pool's first start imports sympy)."""


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host``; yields its base URL, shuts down on exit.

    Raises:
        RuntimeError: the server did not start within START_TIMEOUT_S (its lifespan failed).
    """
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server exited or hung during start-up")
            thread.join(timeout=0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


SERVE_COMMAND = (sys.executable, "-m", "reward_service.cli", "serve")
"""``reward-service serve`` with this interpreter."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``reward-service serve`` (or ``command``) as its own process on 127.0.0.1:``port``.

    Stoppable (gracefully or as a crash) and restartable on the same port. The process's
    output goes to a temporary file, read into :attr:`output` when it stops.

    Args:
        port: the port; a free one when None.
        env: ``REWARD_SERVICE_*`` settings on top of this process's environment.
        command: what to run; its settings come from the environment.
    """

    def __init__(
        self,
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: Sequence[str] = SERVE_COMMAND,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = list(command)
        self.env = {**os.environ, "REWARD_SERVICE_PORT": str(self.port), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.output = ""
        self._log: IO[bytes] | None = None

    def start(self, wait: bool = True) -> ServiceProcess:
        """Start the process; with ``wait``, return once ``/health`` answers 200 (a process
        that does not is stopped before the error is raised)."""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        if wait:
            try:
                self.wait_healthy()
            except RuntimeError:
                self.stop()
                raise
        return self

    def wait_healthy(self, seconds: float = START_TIMEOUT_S) -> None:
        """Poll ``/health`` until it answers 200.

        Raises:
            RuntimeError: the process exited, or did not become healthy in ``seconds``.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                code = self.stop()
                raise RuntimeError(f"service exited with {code}:\n{self.output}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"service at {self.url} never became healthy")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the process (SIGKILL for a crash); returns its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.process = None
        if self._log is not None:
            self._log.seek(0)
            self.output += self._log.read().decode(errors="replace")
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

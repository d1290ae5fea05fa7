"""A real two-node Ray cluster on this machine: ``ray start --head`` and a second
``ray start --address=...``, each with its own ports, CPUs, resources and temp dir.

Each node runs ``ray start --block`` as a child of the test, so stopping it (SIGTERM) takes
down exactly the processes it started (never ``ray stop``, which stops every Ray process
on the machine, other people's included).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from reward_service.bench.local_server import free_port

RAY = str(Path(sys.executable).parent / "ray")
OBJECT_STORE_BYTES = 100 * 2**20
WORKER_PORTS = 40
START_TIMEOUT_S = 90.0


_TAKEN: set[int] = set()


def _port() -> int:
    """A free port no other node or component of these clusters was given."""
    while (port := free_port()) in _TAKEN:
        pass
    _TAKEN.add(port)
    return port


def _node_ports() -> list[str]:
    flags = (
        "node-manager-port",
        "object-manager-port",
        "metrics-export-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
    )
    workers = sorted(_port() for _ in range(WORKER_PORTS))
    return [
        *(f"--{flag}={_port()}" for flag in flags),
        f"--worker-port-list={','.join(map(str, workers))}",
    ]


@dataclass
class RayNode:
    """One ``ray start --block`` process and what it was started with."""

    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    descendants: list[psutil.Process] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def metrics_port(self) -> int:
        (flag,) = [arg for arg in self.command if arg.startswith("--metrics-export-port=")]
        return int(flag.split("=")[1])

    def stop(self) -> None:
        """SIGTERM to ``ray start --block`` (it stops its processes), then whatever is left
        of the processes it started."""
        if self.process is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            self.descendants = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        _, alive = psutil.wait_procs(self.descendants, timeout=15)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process = None


@dataclass
class TwoNodeCluster:
    """A head node and a second node, ``cpus`` CPUs each, on this machine.

    The nodes run without Ray's token authentication (drivers in this test process could
    not pick up a token set after Ray was imported); they live for one test module.
    """

    root: Path
    cpus: int = 1
    env: dict[str, str] = field(default_factory=dict)
    nodes: list[RayNode] = field(default_factory=list)
    address: str = ""

    def __post_init__(self) -> None:
        self.env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", **self.env}

    def start(self) -> TwoNodeCluster:
        env = {**os.environ, **self.env}
        port = _port()
        self.address = f"127.0.0.1:{port}"
        common = [
            "start",
            "--block",
            f"--num-cpus={self.cpus}",
            f"--object-store-memory={OBJECT_STORE_BYTES}",
            "--disable-usage-stats",
        ]
        head = [
            RAY,
            *common,
            "--head",
            f"--port={port}",
            f"--ray-client-server-port={_port()}",
            "--include-dashboard=false",
            f"--temp-dir={self.root / 'head'}",
            "--resources=" + json.dumps({"test_node_head": 1}),
            *_node_ports(),
        ]
        second = [
            RAY,
            *common,
            f"--address={self.address}",
            f"--temp-dir={self.root / 'second'}",
            "--resources=" + json.dumps({"test_node_second": 1}),
            *_node_ports(),
        ]
        self.root.mkdir(parents=True, exist_ok=True)
        for name, command in (("head", head), ("second", second)):
            node = RayNode(name, command, self.root / f"{name}.log")
            node.start(env)
            self.nodes.append(node)
            self._wait_for_nodes(len(self.nodes))
        return self

    def _wait_for_nodes(self, count: int) -> None:
        code = (
            "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
            "print(sum(node['Alive'] for node in ray.nodes()))"
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"ray start ({node.name}) exited:\n{node.log.read_text()}")
            probe = subprocess.run(
                [sys.executable, "-c", code, self.address],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, **self.env},
            )
            if probe.returncode == 0 and probe.stdout.strip().splitlines()[-1] == str(count):
                return
            time.sleep(1)
        raise RuntimeError(f"the cluster never had {count} nodes")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


@contextlib.contextmanager
def two_node_cluster(
    root: Path, cpus: int = 1, env: dict[str, str] | None = None
) -> Iterator[TwoNodeCluster]:
    """A running :class:`TwoNodeCluster`, stopped on exit."""
    cluster = TwoNodeCluster(root, cpus, env or {})
    try:
        yield cluster.start()
    finally:
        cluster.stop()

"""Scale-out: the same app on Ray Serve, two replicas behind Ray's HTTP proxy, on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reward_service.bench.local_server import free_port
from reward_service.scoring import compute_score
from tests.conftest import make_response

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def serve_url() -> Iterator[str]:
    import ray
    from ray import serve

    from deploy.ray_serve_app import build_app

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
        log_to_driver=False,
    )
    port = free_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(replicas=2, workers_per_replica=1), blocking=False)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        serve.shutdown()
        ray.shutdown()


def test_two_replicas_are_running(serve_url: str) -> None:
    from ray import serve

    status = serve.status().applications["default"].deployments["reward_service"]
    assert status.status == "HEALTHY"
    assert status.replica_states.get("RUNNING") == 2


def test_batch_through_the_proxy_equals_the_plain_service(serve_url: str) -> None:
    answers = ["12.8", "13", "\\frac{64}{5}", "x", "12.80"] * 4
    items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
    with httpx.Client(base_url=serve_url, timeout=60) as client:
        assert client.get("/health").json()["workers"] == 1
        for _ in range(4):  # several requests, balanced by the proxy over the replicas
            results = client.post("/score", json={"items": items}).json()["results"]
            assert results == [compute_score("x", i["response"], "12.8") for i in items]


def test_app_builder_reads_serve_run_arguments() -> None:
    from deploy.ray_serve_app import app_builder, build_app

    assert app_builder({"replicas": "3", "workers_per_replica": "2"}) is not None
    with pytest.raises(ValueError, match="replicas"):
        build_app(replicas=0)

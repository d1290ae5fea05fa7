"""The service under pathological math, concurrent clients, long batches and shutdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.bench.workload import PATHOLOGICAL_ANSWERS, grpo_step
from reward_service.settings import ServiceSettings
from tests.conftest import SERVICE_SETTINGS, make_response
from tests.service_process import metric, worker_pids

NESTED_BRACES_50KB = "{" * 25_000 + "1" + "}" * 25_000


def _post(client: httpx.Client, items: list[dict[str, object]]) -> list[dict]:
    response = client.post("/score", json={"items": items})
    response.raise_for_status()
    return response.json()["results"]


def test_pathological_items_fail_alone_and_the_batch_returns(
    client: httpx.Client, service_url: str
) -> None:
    normal = [make_response(answer) for answer in ("12.8", "12", "\\frac{64}{5}", "7")] * 5
    bad = [make_response(answer) for answer in (*PATHOLOGICAL_ANSWERS, NESTED_BRACES_50KB)]
    mixed = normal[:10] + bad + normal[10:]
    results = _post(client, [{"response": r, "ground_truth": "12.8"} for r in mixed])

    scored_normal = results[:10] + results[10 + len(bad) :]
    assert [r["verify"] for r in scored_normal] == [1, 0, 1, 0] * 5
    assert all(r["status"] == "ok" for r in scored_normal)
    for result in results[10 : 10 + len(bad)]:
        assert result["status"] in ("timeout", "error") and result["verify"] == 0
        assert result["error"] and result["format"] == 1  # the other signals still count
    # Each distinct pathological answer held its worker for one timeout at most: no
    # verification used 5 s of CPU (the limit is 2 s; the worker's own clock, so a busy
    # machine changes nothing)
    assert SERVICE_SETTINGS.item_timeout_s < 5
    within = metric(service_url, 'reward_item_verify_seconds_bucket{le="5.0"}')
    assert within == metric(service_url, "reward_item_verify_seconds_count") > 0


def test_concurrent_clients_get_complete_correct_results(service_url: str) -> None:
    def one_client(index: int) -> list[dict]:
        answers = [f"{index}.{k}" for k in range(10)] + ["12.8"]
        items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
        with httpx.Client(base_url=service_url, timeout=120) as client:
            return _post(client, items)

    with ThreadPoolExecutor(max_workers=8) as executor:
        all_results = list(executor.map(one_client, range(8)))
    for index, results in enumerate(all_results):
        assert [r["pred"] for r in results] == [f"{index}.{k}" for k in range(10)] + ["12.8"]
        assert [r["verify"] for r in results] == [0] * 10 + [1]


def test_health_answers_during_a_big_batch(client: httpx.Client, service_url: str) -> None:
    step = grpo_step(items=40, distinct_answers=40, pathological_share=0.0, seed=7)
    items = [{"response": i.response, "ground_truth": i.ground_truth} for i in step]
    # an answer no other test uses, so no cache holds it: it keeps a worker busy for a timeout
    items.append({"response": make_response("8^{8^{8^{8^{8}}}}"), "ground_truth": "12.8"})
    done = threading.Event()
    health_during_batch: list[int] = []

    scored: list[list[dict]] = []

    def post_batch() -> None:
        try:
            with httpx.Client(base_url=service_url, timeout=120) as batch_client:
                scored.append(_post(batch_client, items))
        finally:
            done.set()

    thread = threading.Thread(target=post_batch)
    thread.start()
    while not done.is_set():
        health_during_batch.append(client.get("/health", timeout=5).status_code)
        done.wait(0.05)
    thread.join()
    assert len(scored) == 1 and scored[0][-1]["status"] == "timeout"
    assert len(health_during_batch) >= 3 and set(health_during_batch) == {200}


def _busy(pids: set[int], since: dict[int, float]) -> bool:
    return any(sum(psutil.Process(pid).cpu_times()[:2]) > since[pid] + 0.05 for pid in pids)


def test_shutdown_finishes_in_flight_requests_and_leaves_no_workers() -> None:
    before = worker_pids()
    answers = [f"{k}.5" for k in range(40)] + ["9^{9^{9^{9^{9}}}}"]
    items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
    with ThreadPoolExecutor(max_workers=1) as executor:
        with serve_in_thread(create_app(ServiceSettings(workers=2, item_timeout_s=2))) as url:
            workers = worker_pids() - before
            assert len(workers) == 2
            idle = {pid: sum(psutil.Process(pid).cpu_times()[:2]) for pid in workers}
            in_flight = executor.submit(_post, httpx.Client(base_url=url, timeout=60), items)
            deadline = time.monotonic() + 30
            while not _busy(workers, idle):  # once the server is scoring, shut it down
                assert time.monotonic() < deadline and not in_flight.done()
                time.sleep(0.01)
        results = in_flight.result(timeout=60)
    assert [r["status"] for r in results] == ["ok"] * 40 + ["timeout"]
    assert worker_pids() - before == set()


def test_token_is_required_when_configured() -> None:
    token = "s3cret-token-0123456789"
    settings = ServiceSettings(workers=1, api_token=token)
    item = {"response": make_response(), "ground_truth": "12.8"}
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        assert client.post("/score", json=item).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert client.post("/score", json=item, headers=wrong).status_code == 401
        right = {"authorization": f"Bearer {token}"}
        assert client.post("/score", json=item, headers=right).json()["results"][0]["verify"] == 1
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REWARD_SERVICE_WORKERS": "0"}, "workers"),
        ({"REWARD_SERVICE_ITEM_TIMEOUT_S": "-1"}, "item_timeout_s"),
        ({"REWARD_SERVICE_API_TOKEN": "short"}, "at least 16"),
        ({"REWARD_SERVICE_API_TOKEN": " " * 20}, "may hold only"),
        ({"REWARD_SERVICE_API_TOKEN": "sixteen-chars-or-more "}, "may hold only"),
        ({"REWARD_SERVICE_API_TOKEN": "sixteen-chars-or-moré"}, "may hold only"),
        ({"REWARD_SERVICE_API_TOKEN": "sixteen\nchars-or-more"}, "may hold only"),
        ({"REWARD_SERVICE_ALPHA": "nan"}, "alpha"),
        ({"REWARD_SERVICE_WORKER_MEMORY_MB": "10"}, "worker_memory_mb"),
    ],
)
def test_unsafe_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        ServiceSettings()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARD_SERVICE_PORT", "9123")
    monkeypatch.setenv("REWARD_SERVICE_ITEM_TIMEOUT_S", "1.5")
    settings = ServiceSettings()
    assert (settings.port, settings.item_timeout_s, settings.host) == (9123, 1.5, "127.0.0.1")


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_a_service_open_to_the_network_without_a_token_says_so(
    caplog: pytest.LogCaptureFixture, host: str, warned: bool
) -> None:
    settings = ServiceSettings(workers=1, host=host)  # the test server itself binds 127.0.0.1
    with (
        caplog.at_level("WARNING", logger="reward_service"),
        serve_in_thread(create_app(settings)) as url,
    ):
        assert httpx.get(f"{url}/health", timeout=60).status_code == 200
    said = [
        r.getMessage() for r in caplog.records if "no REWARD_SERVICE_API_TOKEN" in r.getMessage()
    ]
    assert bool(said) is warned
    assert not said or f"{host}:{settings.port}" in said[0]

"""What a request may cost, over real HTTP: memory and work bounded by the bytes it sent,
short 4xx answers, bytes in flight counted as read (chunked bodies and the OpenRLHF route
too), the same limits on every scoring route, and idle or slow clients that cannot lock
the others out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from reward_service.api import body as request_body
from reward_service.app import create_app
from reward_service.bench.local_server import ServiceProcess, serve_in_thread
from reward_service.settings import ServiceSettings
from tests.conftest import make_response
from tests.service_process import metric, wait_for_metric

ITEM = {"response": make_response(), "ground_truth": "12.8"}
JSON = {"content-type": "application/json"}


def _peak_rss(pid: int) -> int:
    """The process's resident-memory high-water mark, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceProcess]:
    """A real ``reward-service serve`` with default limits but one worker."""
    with ServiceProcess(env={"REWARD_SERVICE_WORKERS": "1"}) as running:
        yield running


# --- 2. memory and work bounded by the bytes sent -------------------------------------------


@pytest.mark.parametrize(
    ("count", "status"),
    [(300_000, 413), (16_384, 422)],  # past the item limit; at it, every item invalid
    ids=["past the item limit", "at the item limit"],
)
def test_a_body_of_empty_items_costs_a_small_multiple_of_its_bytes(
    service: ServiceProcess, count: int, status: int
) -> None:
    body = b'{"items":[' + b",".join([b"{}"] * count) + b"]}"
    pid = service.process.pid  # type: ignore[union-attr]
    _reset_peak_rss(pid)
    before = _peak_rss(pid)
    response = httpx.post(f"{service.url}/score", content=body, headers=JSON, timeout=60)
    grew = _peak_rss(pid) - before
    assert response.status_code == status
    assert len(response.content) < 2_000  # a few errors, never one per item
    # orjson's objects for "{}" are ~24x its 3 bytes; the 300,000 items took 1 GB before
    assert grew < 40 * len(body), f"grew {grew >> 20} MiB for a {len(body) >> 10} KiB body"


def test_validation_stops_at_the_first_few_errors(service: ServiceProcess) -> None:
    bad_item = {"response": 1, "ground_truth": 2, **{f"x{k}": k for k in range(1000)}}
    for body in ({"items": [bad_item] * 100}, {"items": [{}] * 100}, bad_item):
        response = httpx.post(f"{service.url}/score", json=body, timeout=60)
        errors = response.json()["detail"]
        assert response.status_code == 422 and 1 <= len(errors) <= 6, errors
        assert all(len(orjson.dumps(error)) < 600 for error in errors)


# --- 3. bytes in flight as read, on every scoring route ------------------------------------


def _raw_request(url: str, path: str, headers: dict[str, str]) -> socket.socket:
    """A connection that has sent a request's headers (and no body yet)."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return connection


def _status(connection: socket.socket) -> int:
    connection.settimeout(60)
    return int(connection.recv(4096).split(b" ", 2)[1])


def test_promised_bytes_hold_nothing(service: ServiceProcess) -> None:
    """Two idle connections that declare the largest body allowed: nobody is locked out."""
    promise = {"Content-Type": "application/json", "Content-Length": str(256 * 1024 * 1024)}
    idle = [_raw_request(service.url, "/score", promise) for _ in range(2)]
    try:
        codes = [
            httpx.post(f"{service.url}/score", json=ITEM, timeout=60).status_code for _ in range(5)
        ]
    finally:
        for connection in idle:
            connection.close()
    assert codes == [200] * 5


SMALL_LIMITS = ServiceSettings(workers=1, max_body_bytes=40_000, max_inflight_bytes=50_000)


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(request_body, "BODY_IDLE_S", 2.0)
    with serve_in_thread(create_app(SMALL_LIMITS)) as url:
        yield url


def _openrlhf_body(size: int) -> bytes:
    query = "<think>x</think> \\boxed{12.8} <reflection>correct</reflection>"
    body = {"query": [query], "prompts": [""], "labels": ["12.8"], "pad": "x" * size}
    return orjson.dumps(body)


def test_chunked_and_openrlhf_bytes_are_held_as_they_arrive(small_limits: str) -> None:
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    slow = _raw_request(small_limits, "/score", chunked)
    first = orjson.dumps(ITEM)[:-1] + b', "data_source": "' + b"x" * 30_000
    slow.sendall(b"%x\r\n%s\r\n" % (len(first), first))  # 30 KB held, the rest to come
    wait_for_metric(small_limits, "reward_inflight_bytes", len(first))
    crowded = httpx.post(
        f"{small_limits}/openrlhf/get_reward", content=_openrlhf_body(25_000), headers=JSON
    )
    fits = httpx.post(
        f"{small_limits}/openrlhf/get_reward", content=_openrlhf_body(1_000), headers=JSON
    )
    end = b'"}'
    slow.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end))
    assert _status(slow) == 200
    slow.close()
    assert crowded.status_code == 503 and "in flight" in crowded.text
    assert crowded.headers["Retry-After"] == "2"
    assert fits.status_code == 200


@pytest.mark.parametrize("path", ["/score", "/openrlhf/get_reward"])
def test_every_scoring_route_has_the_body_limit(small_limits: str, path: str) -> None:
    declared = httpx.post(f"{small_limits}{path}", content=_openrlhf_body(41_000), headers=JSON)

    def chunks() -> Iterator[bytes]:
        body = _openrlhf_body(41_000)
        yield from (body[start : start + 8192] for start in range(0, len(body), 8192))

    streamed = httpx.post(f"{small_limits}{path}", content=chunks(), headers=JSON)
    assert declared.status_code == streamed.status_code == 413


def test_a_client_that_stops_sending_is_dropped(small_limits: str) -> None:
    promise = {"Content-Type": "application/json", "Content-Length": "30000"}
    stalled = _raw_request(small_limits, "/score", promise)
    stalled.sendall(b"x" * 20_000)  # then nothing: the 20 KB it holds are given back
    code = _status(stalled)
    stalled.close()
    padded = b'{"pad": "' + b"x" * 35_000 + b'"}'
    after = httpx.post(f"{small_limits}/score", content=padded, headers=JSON)
    assert code == 408
    assert after.status_code == 422  # read whole (not 503): nothing else was held


def test_a_client_that_leaves_mid_body_is_a_499(
    small_limits: str, caplog: pytest.LogCaptureFixture
) -> None:
    promise = {"Content-Type": "application/json", "Content-Length": "30000"}
    leaving = _raw_request(small_limits, "/score", promise)
    leaving.sendall(b"x" * 10_000)
    leaving.close()
    deadline = time.monotonic() + 30
    while metric(small_limits, 'reward_requests_total{code="499"}') < 1:
        assert time.monotonic() < deadline, "the disconnect was never counted"
        time.sleep(0.1)
    assert metric(small_limits, 'reward_requests_total{code="500"}') == 0
    assert not [record for record in caplog.records if record.levelname == "ERROR"]

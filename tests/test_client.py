"""The async client: chunks spread over several URLs, failover, and error translation."""

from __future__ import annotations

import asyncio

import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import free_port, serve_in_thread
from reward_service.client import RewardClient, RewardRequestRejected, RewardServiceUnavailable
from reward_service.scoring import compute_score
from reward_service.settings import ServiceSettings
from tests.conftest import make_response
from tests.service_process import scored_requests

ITEMS = [{"response": make_response(f"{k}.8"), "ground_truth": "12.8"} for k in range(20)]


def test_chunks_spread_over_replicas(service_url: str) -> None:
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as second_url:
        before = scored_requests(service_url), scored_requests(second_url)

        async def score() -> list[dict]:
            async with RewardClient([service_url, second_url], chunk_items=5) as client:
                return await client.score(ITEMS)

        results = asyncio.run(score())
        after = scored_requests(service_url), scored_requests(second_url)
    assert results == [compute_score("x", i["response"], "12.8") for i in ITEMS]
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)


def test_a_dead_replica_fails_over_to_a_live_one(service_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    async def score() -> list[dict]:
        async with RewardClient([dead, service_url], retries=1, backoff_s=0.01) as client:
            return await client.score(ITEMS[:3], step=5)

    assert [r["pred"] for r in asyncio.run(score())] == ["0.8", "1.8", "2.8"]


def test_all_dead_names_every_url() -> None:
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]

    async def score() -> None:
        async with RewardClient(urls, retries=3, backoff_s=0.01) as client:
            await client.score(ITEMS[:1])

    with pytest.raises(RewardServiceUnavailable) as caught:
        asyncio.run(score())
    assert "after 4 attempts" in str(caught.value)
    assert all(url in str(caught.value) for url in urls)


def test_refused_request_is_not_retried(service_url: str) -> None:
    async def score() -> None:
        async with RewardClient(service_url, retries=5) as client:
            await client.score([{"response": "x"}])

    with pytest.raises(RewardRequestRejected, match=r"422.*ground_truth"):
        asyncio.run(score())


@pytest.mark.parametrize("kwargs", [{"urls": []}, {"urls": "http://x", "retries": -1}])
def test_bad_client_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RewardClient(**kwargs)


def test_a_non_json_success_is_an_outage_not_a_crash() -> None:
    """A proxy in front of the service answers 200 with an HTML page: retried, then named."""
    import http.server
    import threading

    class HtmlPage(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>maintenance</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HtmlPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:

        async def score() -> None:
            async with RewardClient(url, retries=1, backoff_s=0.01) as client:
                await client.score(ITEMS[:1])

        with pytest.raises(RewardServiceUnavailable, match="without a JSON 'results' list"):
            asyncio.run(score())
    finally:
        server.shutdown()

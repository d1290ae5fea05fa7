"""The Prometheus metrics: every scoring request counted by the code it got, items by
status, and gauges of the work in the service now."""

from __future__ import annotations

import threading

import httpx

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from tests.conftest import make_response
from tests.service_process import metric, wait_for_metric
from tests.stats import known_alarms


def test_requests_are_counted_by_the_code_they_got() -> None:
    item = {"response": make_response(), "ground_truth": "12.8"}
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        assert httpx.post(f"{url}/score", json=item, timeout=60).status_code == 200
        assert httpx.post(f"{url}/score", json={"items": []}, timeout=60).status_code == 422
        assert httpx.post(f"{url}/score", content=b"{}", timeout=60).status_code == 415
        openrlhf = {"query": ["x"], "prompts": [""], "labels": ["1"]}
        assert httpx.post(f"{url}/openrlhf/get_reward", json=openrlhf).status_code == 200
        httpx.get(f"{url}/health", timeout=60)  # not a scoring route: not counted
        counts = {
            code: metric(url, f'reward_requests_total{{code="{code}"}}') for code in (200, 415, 422)
        }
        items = metric(url, 'reward_items_total{status="ok"}')
    assert counts == {200: 2, 415: 1, 422: 1}
    assert items == 2


def test_the_gauges_show_the_work_in_the_service_now() -> None:
    slow = [
        {"response": make_response(f"(x+1)^{{{2 * p}}}"), "ground_truth": f"(x^2+2x+1)^{{{p}}}"}
        for p in range(100, 108)
    ]
    settings = ServiceSettings(workers=1, item_timeout_s=30, cache_size=0)
    with serve_in_thread(create_app(settings)) as url:
        assert metric(url, "reward_inflight_items") == 0
        sent = threading.Thread(
            target=httpx.post,
            args=(f"{url}/score",),
            kwargs={"json": {"items": slow}, "timeout": 300},
        )
        sent.start()
        assert wait_for_metric(url, "reward_inflight_items", len(slow)) == len(slow)
        assert metric(url, "reward_inflight_bytes") > 0
        wait_for_metric(url, 'reward_pool_tasks{state="running"}', 1)
        assert metric(url, 'reward_pool_tasks{state="running"}') <= settings.workers
        sent.join()
        idle = [
            metric(url, name)
            for name in (
                "reward_inflight_items",
                "reward_inflight_bytes",
                'reward_pool_tasks{state="running"}',
                'reward_pool_tasks{state="queued"}',
            )
        ]
    assert idle == [0, 0, 0, 0]


def test_one_alarm_gauge_per_kind_and_severity_at_1_while_open() -> None:
    """The known run: answer_collapse (warning) and no_learning_signal (info) open,
    scoring_failures closed."""
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        quiet = httpx.get(f"{url}/metrics", timeout=60).text
        for body in known_alarms.bodies():
            httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()
        text = httpx.get(f"{url}/metrics", timeout=60).text
    gauges = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("reward_alarm{")
    }
    kinds = ["verdict_gaming", "format_without_answers", "truncation", "answer_collapse"]
    kinds += ["no_learning_signal", "scoring_failures"]
    series = {f'reward_alarm{{kind="{kind}",severity="warning"}}' for kind in kinds}
    series.add('reward_alarm{kind="no_learning_signal",severity="info"}')
    assert set(gauges) == series
    assert {name for name, value in gauges.items() if value} == {
        'reward_alarm{kind="answer_collapse",severity="warning"}',
        'reward_alarm{kind="no_learning_signal",severity="info"}',
    }
    assert "# TYPE reward_alarm gauge" in quiet
    assert all(f"{name} 0.0" in quiet for name in series)

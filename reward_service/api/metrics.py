"""Prometheus metrics of one service instance, on a registry of its own."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reward_service.api.admission import InFlightLimit
from reward_service.engine import BatchReport, ScoringPool
from reward_service.errors import RETRY_AFTER_S
from reward_service.stats.alarms import KINDS, SEVERITIES

SCORING_ROUTES = frozenset({"/score", "/openrlhf/get_reward"})

_BATCH_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
_ITEM_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30)


class ServiceMetrics:
    """Request, item, latency, timeout, restart and cache counters for ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reward_requests",
            "Requests to the scoring routes (/score, /openrlhf/get_reward) by HTTP code.",
            ["code"],
            registry=self.registry,
        )
        self.items = Counter(
            "reward_items", "Scored items by status.", ["status"], registry=self.registry
        )
        self.batch_seconds = Histogram(
            "reward_batch_seconds",
            "Wall time to score one request.",
            buckets=_BATCH_SECONDS,
            registry=self.registry,
        )
        self.batch_items = Histogram(
            "reward_batch_items",
            "Items per request.",
            buckets=(1, 8, 32, 128, 512, 1024, 4096, 8192, 16384),
            registry=self.registry,
        )
        self.item_seconds = Histogram(
            "reward_item_verify_seconds",
            "Worker time to verify one distinct answer.",
            buckets=_ITEM_SECONDS,
            registry=self.registry,
        )
        self.timeouts = Counter(
            "reward_timeouts", "Items whose verification timed out.", registry=self.registry
        )
        self.worker_restarts = Counter(
            "reward_worker_restarts",
            "Worker processes killed (timeout) or dead (memory, crash) and replaced.",
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "reward_cache_hits", "Distinct answers served from the cache.", registry=self.registry
        )
        self.cache_misses = Counter(
            "reward_cache_misses", "Distinct answers verified in the pool.", registry=self.registry
        )
        self.prompts_not_found = Counter(
            "reward_openrlhf_prompts_not_found",
            "OpenRLHF queries that do not start with their prompt (each an item error).",
            registry=self.registry,
        )
        self.stats_failures = Counter(
            "reward_stats_failures",
            "Batches whose statistics could not be recorded or appended to the stats file.",
            registry=self.registry,
        )
        self.record_rows_lost = Counter(
            "reward_record_rows_lost",
            "Scored items the record will never hold (a full or read-only disk, a full queue).",
            registry=self.registry,
        )

    def watch(self, in_flight: InFlightLimit, pool: ScoringPool) -> None:
        """Gauges of the work in the service now, read when ``/metrics`` is scraped."""
        in_flight_items = Gauge(
            "reward_inflight_items",
            "Items of the requests being served now.",
            registry=self.registry,
        )
        in_flight_items.set_function(lambda: in_flight.items)
        in_flight_bytes = Gauge(
            "reward_inflight_bytes",
            "Request-body bytes held now.",
            registry=self.registry,
        )
        in_flight_bytes.set_function(lambda: in_flight.bytes)
        tasks = Gauge(
            "reward_pool_tasks",
            "Scoring tasks now: running on a process, or queued for their request's turn.",
            ["state"],
            registry=self.registry,
        )
        tasks.labels("running").set_function(lambda: pool.tasks_running)
        tasks.labels("queued").set_function(lambda: pool.tasks_queued)

    def watch_alarms(self, open_alarms: Callable[[], Iterable[tuple[str, str]]]) -> None:
        """``reward_alarm``, read from ``open_alarms`` (each open alarm's kind and severity)
        when ``/metrics`` is scraped."""
        self.registry.register(AlarmGauges(open_alarms))

    def record_batch(self, report: BatchReport, seconds: float) -> None:
        """Count one scored batch."""
        self.batch_seconds.observe(seconds)
        self.batch_items.observe(len(report.results))
        statuses = Tally(result.status for result in report.results)
        for status, count in statuses.items():
            self.items.labels(status).inc(count)
        self.timeouts.inc(statuses["timeout"])
        self.cache_hits.inc(report.cache_hits)
        self.cache_misses.inc(report.verified)
        for item_seconds in report.verify_seconds:
            self.item_seconds.observe(item_seconds)


class AlarmGauges:
    """``reward_alarm{kind, severity}``: 1 while an alarm of that kind and severity is open,
    else 0; one series for each severity a kind is raised with
    (:data:`~reward_service.stats.alarms.SEVERITIES`)."""

    NAME = "reward_alarm"
    HELP = "1 while the statistics alarm of this kind and severity is open (see /stats alarms)."

    def __init__(self, open_alarms: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self._open_alarms = open_alarms

    def describe(self) -> Iterator[Metric]:
        """The family without values: registering reads no alarm."""
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["kind", "severity"])

    def collect(self) -> Iterator[Metric]:
        """The gauges, from the alarms open now."""
        raised = set(self._open_alarms())
        gauge = GaugeMetricFamily(self.NAME, self.HELP, labels=["kind", "severity"])
        for kind in KINDS:
            for severity in SEVERITIES[kind]:
                gauge.add_metric([kind, severity], float((kind, severity) in raised))
        yield gauge


class ScoreRequestCounter:
    """ASGI middleware: counts every request to a scoring route by the status code it was
    answered with, in one place, so the counts cannot disagree with what clients saw.

    A request whose client went away before an answer was sent counts as ``499``. A
    request that the server cuts off at shutdown (past its grace period) is answered 503
    with ``Retry-After`` here, as any client expects of a server going away, instead of
    uvicorn's 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in SCORING_ROUTES:
            await self.app(scope, receive, send)
            return
        status = {"code": 500, "started": False}

        async def remember_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.update(code=message["status"], started=True)
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        except asyncio.CancelledError:
            if status["started"]:  # the answer has begun: nothing else can be sent
                raise
            await _shutting_down(remember_status)  # not re-raised: uvicorn would send 500
        finally:
            scope["app"].state.service.metrics.requests.labels(str(status["code"])).inc()


async def _shutting_down(send: Send) -> None:
    body = b'{"detail":"the server is shutting down; retry"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})

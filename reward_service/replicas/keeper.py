"""One view of a Ray Serve deployment, whatever its number of replicas and nodes.

Every replica reports what it records to one named, detached Ray actor, the *keeper*:

- each scored batch (a :class:`BatchRecord`: its counts and its kept responses): the keeper
  holds the run's steps in a :class:`StatsRecorder` (the statistics file, its checkpoint, the
  response tables), so ``/stats``, ``/stats/responses/{id}``, ``/dashboard`` and the file
  describe every batch of every replica. The keeper numbers the batches that carry no step
  (the recorder's quiet-gap policy, on the times the replicas scored them), so every
  replica's untagged batches fall into the same steps, and answers with the step it counted
  each batch in: the replica then files the batch's rows in its record under that step, the
  one ``/stats`` shows (a tagged batch's rows go at once);
- its Prometheus metrics, every few seconds: ``GET /metrics/replicas`` serves every live
  replica's, each series labelled with its replica. In return it gets the deployment's open
  alarms (read from the keeper's steps), which its own ``reward_alarm`` gauges show: a
  scrape of any replica never waits for the keeper.

Reports leave the request path: a replica queues them and one background task sends the
queue, dropping a record only once the keeper has it. A replica that dies loses nothing it
has sent (sending takes milliseconds); the keeper is restarted by Ray on the head node,
where it reads its file back, and whatever the replicas could not send meanwhile is sent
again. A report that reached a keeper dying before its answer is sent again too, so that
rare case counts one batch twice.

Ray is imported when a keeper is needed, never by importing this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest

from reward_service.errors import NoSuchResponse, StatsUnavailable
from reward_service.scoring import ScoreResult
from reward_service.stats import BatchRecord, ScoredItem, StatsRecorder, StepCallback
from reward_service.stats.alarms import DEFAULT_ALARM_SETTINGS, AlarmSettings

if TYPE_CHECKING:
    from reward_service.api.metrics import ServiceMetrics
    from reward_service.settings import ServiceSettings

logger = logging.getLogger("reward_service.stats")

KEEPER_NAME = "reward_service_stats"
KEEPER_NAMESPACE = "reward_service"
HEAD_NODE_RESOURCE = "node:__internal_head__"
"""A resource only Ray's head node has: the keeper (and so its file) stays on that node."""
SEND_AT_MOST = 1024
"""Records per call to the keeper."""
PENDING_AT_MOST = 200_000
"""Records a replica holds while the keeper is away; past it the oldest are dropped."""
RETRY_S = 1.0
METRICS_EVERY_S = 5.0
"""How often a replica sends its metrics (/metrics/replicas is at most this old) and reads
the open alarms back (its ``reward_alarm`` gauges are at most this old)."""
REPLICA_GONE_S = 60.0
"""A replica silent this long is gone: its metrics leave /metrics/replicas."""
ASK_TIMEOUT_S = 10.0
FLUSH_AT_STOP_S = 10.0


class StatsKeeper:
    """The keeper's state (``ray.remote`` makes it the actor): the whole deployment's steps
    and every replica's last metrics.

    Args:
        max_steps: steps kept (``REWARD_SERVICE_STATS_STEPS``).
        stats_file: the statistics file on the keeper's node, or None.
        step_gap_s: the quiet gap that ends a step of untagged batches
            (``REWARD_SERVICE_STATS_STEP_GAP_S``).
        alarm_settings: the alarms' thresholds and windows (``REWARD_SERVICE_ALARM_*``).
    """

    def __init__(
        self,
        max_steps: int,
        stats_file: str | None,
        step_gap_s: float,
        alarm_settings: AlarmSettings = DEFAULT_ALARM_SETTINGS,
    ) -> None:
        logging.basicConfig(level=logging.INFO)
        self.settings = (max_steps, stats_file, step_gap_s, alarm_settings)
        self._recorder = StatsRecorder(
            max_steps,
            jsonl_path=None if stats_file is None else Path(stats_file),
            untagged_gap_s=step_gap_s,
            alarm_settings=alarm_settings,
        )
        self._metrics: dict[str, tuple[float, bytes]] = {}  # replica: (when, exposition)
        self._reports: dict[str, int] = {}  # replica: metrics reports received

    def describe(self) -> tuple[int, str | None, float, AlarmSettings]:
        """The settings it was started with."""
        return self.settings

    def add(self, records: list[BatchRecord]) -> list[int]:
        """Count batches recorded by a replica; returns the step each was counted in (the
        number it gave the untagged ones), in order."""
        return [self._recorder.add(record) for record in records]

    def snapshot_json(self, limit: int | None = None) -> bytes:
        """What ``/stats`` serves, for the whole deployment."""
        return self._recorder.snapshot_json(limit)

    def response(self, row_id: int) -> dict[str, Any] | None:
        """What ``/stats/responses/{row_id}`` serves."""
        return self._recorder.response(row_id)

    def put_metrics(self, replica: str, exposition: bytes) -> list[tuple[str, str]]:
        """Keep ``replica``'s latest metrics (Prometheus text format); returns the kind and
        severity of each open alarm, for the replica's gauges."""
        self._metrics[replica] = (time.monotonic(), exposition)
        self._reports[replica] = self._reports.get(replica, 0) + 1
        return self._recorder.open_alarms()

    def metrics_reports(self) -> dict[str, int]:
        """How many metrics reports each replica has sent: one newer than a moment shows
        everything that replica did before it."""
        return dict(self._reports)

    def replica_metrics(self) -> dict[str, bytes]:
        """The latest metrics of each replica heard from in the last REPLICA_GONE_S."""
        now = time.monotonic()
        for replica in [r for r, (seen, _) in self._metrics.items() if now - seen > REPLICA_GONE_S]:
            del self._metrics[replica]
        return {replica: exposition for replica, (_, exposition) in self._metrics.items()}


def keeper(settings: ServiceSettings) -> Any:
    """A handle to the keeper, which is started (on the head node) if it is not running.

    A keeper started with other statistics settings is used as it is, with a warning: it
    outlives deployments (kill it to start afresh, see the README).
    """
    import ray

    wanted = (
        settings.stats_steps,
        None if settings.stats_file is None else str(settings.stats_file),
        settings.stats_step_gap_s,
        settings.alarm_settings(),
    )
    handle = (
        ray.remote(StatsKeeper)
        .options(
            name=KEEPER_NAME,
            namespace=KEEPER_NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,
            num_cpus=0,
            resources={HEAD_NODE_RESOURCE: 0.001},
        )
        .remote(*wanted)
    )
    found = tuple(ray.get(handle.describe.remote(), timeout=120))
    if found != wanted:
        logger.warning(
            "the statistics keeper runs with %s, not %s: kill it to change them", found, wanted
        )
    return handle


class SharedStats:
    """A replica's statistics: its batches go to the keeper, ``/stats`` comes from it.

    Args:
        handle: the keeper.
        reconnect: a handle to the keeper, after it was lost (blocks).
        replica: this replica's name, the label of its metrics.
        registry: this replica's Prometheus metrics.
        on_drop: called for each batch dropped (the keeper away for too long).
    """

    def __init__(
        self,
        handle: Any,
        reconnect: Callable[[], Any],
        replica: str,
        registry: CollectorRegistry,
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self._keeper = handle
        self._reconnect = reconnect
        self._replica = replica
        self._registry = registry
        self._on_drop = on_drop
        self._pending: deque[tuple[BatchRecord, StepCallback | None]] = deque()
        self._open_alarms: list[tuple[str, str]] = []
        self._loop = asyncio.get_running_loop()
        self._waiting = asyncio.Event()

    def record(
        self,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
        *,
        on_step: StepCallback | None = None,
    ) -> None:
        """Queue one scored batch for the keeper (never waits for it). ``on_step`` learns a
        tagged batch's step at once, an untagged one's when the keeper has numbered it."""
        if len(self._pending) >= PENDING_AT_MOST:
            _, dropped = self._pending.popleft()
            self._on_drop()
            if dropped is not None:
                dropped(None)
        if on_step is not None and step is not None:
            on_step(step)
            on_step = None
        self._pending.append((BatchRecord.of(items, results, step, latency_ms), on_step))
        self._loop.call_soon_threadsafe(self._waiting.set)

    def snapshot_json(self, limit: int | None = None) -> bytes:
        """The deployment's ``/stats``, from the keeper (blocks: call it off the event loop).

        Raises:
            StatsUnavailable: the keeper did not answer in ASK_TIMEOUT_S (restarting).
        """
        return self._ask("snapshot_json", limit)

    def response(self, row_id: int) -> dict[str, Any] | None:
        """One kept response, from the keeper (blocks like :meth:`snapshot_json`)."""
        return self._ask("response", row_id)

    def replica_metrics(self) -> dict[str, bytes]:
        """Every live replica's metrics, from the keeper (blocks like :meth:`snapshot_json`)."""
        return self._ask("replica_metrics")

    def open_alarms(self) -> list[tuple[str, str]]:
        """The deployment's open alarms (kind, severity) as the keeper last sent them, at most
        METRICS_EVERY_S old (never waits: a scrape of this replica reads it)."""
        return list(self._open_alarms)

    def _ask(self, method: str, *args: Any) -> Any:
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        try:
            return ray.get(getattr(self._keeper, method).remote(*args), timeout=ASK_TIMEOUT_S)
        except NoSuchResponse:  # raised by the keeper's recorder: an answer, not a failure
            raise
        except (RayError, GetTimeoutError) as exc:
            raise StatsUnavailable(f"the statistics keeper did not answer: {exc}") from exc

    @property
    def pending(self) -> int:
        """Batches not yet acknowledged by the keeper."""
        return len(self._pending)

    async def send_forever(self) -> None:
        """Send queued batches as they come, and the metrics every METRICS_EVERY_S (taking
        the open alarms back); while the keeper is away, keep them and try again every
        RETRY_S (the alarms last read stay)."""
        metrics_due = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._waiting.wait(), METRICS_EVERY_S)
            self._waiting.clear()
            try:
                await self._send_pending()
                if time.monotonic() >= metrics_due:
                    exposition = generate_latest(self._registry)
                    put = self._keeper.put_metrics.remote(self._replica, exposition)
                    self._open_alarms = await put
                    metrics_due = time.monotonic() + METRICS_EVERY_S
            except Exception as exc:  # the keeper restarting, or gone: Ray's errors
                logger.warning(
                    "statistics keeper unreachable (%s); %d batches wait", exc, self.pending
                )
                await asyncio.sleep(RETRY_S)
                with contextlib.suppress(Exception):
                    self._keeper = await asyncio.to_thread(self._reconnect)
                self._waiting.set()

    async def _send_pending(self) -> None:
        while self._pending:
            chunk = list(itertools.islice(self._pending, SEND_AT_MOST))
            steps = await self._keeper.add.remote([record for record, _ in chunk])
            for _ in chunk:
                self._pending.popleft()
            if not isinstance(steps, list):  # a keeper started by an earlier version
                logger.warning("the statistics keeper gives no steps: kill it (see the README)")
                steps = [None] * len(chunk)
            for (_, on_step), step in zip(chunk, steps, strict=True):
                if on_step is not None:
                    on_step(step)

    def give_up(self) -> None:
        """Tell every batch still waiting for the keeper that it will get no step."""
        while self._pending:
            _, on_step = self._pending.popleft()
            if on_step is not None:
                on_step(None)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until the keeper has every queued batch; returns whether it has."""
        deadline = time.monotonic() + timeout_s
        while self._pending and time.monotonic() < deadline:
            self._waiting.set()
            await asyncio.sleep(0.05)
        return not self._pending


def serve_replica_id() -> str:
    """This Serve replica's id (a Ray actor's id, or ``driver``, outside Serve)."""
    from ray import serve

    try:
        return serve.get_replica_context().replica_id.unique_id
    except Exception:  # not in a Serve replica (a plain Ray actor or driver)
        import ray

        return ray.get_runtime_context().get_actor_id() or "driver"


@contextlib.asynccontextmanager
async def open_shared_stats(
    settings: ServiceSettings, metrics: ServiceMetrics
) -> AsyncIterator[SharedStats]:
    """This replica's :class:`SharedStats`, sending in the background until the app stops."""
    handle = await asyncio.to_thread(keeper, settings)
    stats = SharedStats(
        handle,
        lambda: keeper(settings),
        serve_replica_id(),
        metrics.registry,
        on_drop=metrics.stats_failures.inc,
    )
    sender = asyncio.create_task(stats.send_forever())
    try:
        yield stats
    finally:
        if not await stats.flush(FLUSH_AT_STOP_S):
            logger.error("stopping with %d batches the statistics keeper never got", stats.pending)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        stats.give_up()

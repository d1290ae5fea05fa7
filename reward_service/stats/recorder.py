"""The service's record of every scored batch: the last steps in memory, every batch on file.

A :class:`StatsRecorder` puts together the three things it keeps, each in a module of its
own: the steps (:mod:`.kept_steps`), the response tables (:mod:`.tables`) and, with a
statistics file, the file and its checkpoint (:mod:`.persistence`), so that the steps it
held before a crash, a restart or an upgrade are back at start-up. The alarms
(:mod:`.alarms`) are read from the kept steps, so they come back with them.

A batch reaches a recorder as a :class:`BatchRecord` (its counts and its kept responses),
recorded in this process or sent by a Ray Serve replica to the deployment's keeper
(:mod:`reward_service.replicas.keeper`); the recorder that keeps it numbers it when it
carries no step.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reward_service.scoring import ScoreResult
from reward_service.stats.alarms import DEFAULT_ALARM_SETTINGS, Alarm, AlarmMonitor, AlarmSettings
from reward_service.stats.kept_steps import UNTAGGED_STEP_GAP_S, KeptSteps
from reward_service.stats.persistence import CHECKPOINT_EVERY_S, StatsFile
from reward_service.stats.step import ScoredItem, StepStats
from reward_service.stats.tables import KeptResponse, ResponseTables, keep
from reward_service.stats.view import STATS_MAX_BYTES, RowCache, served_json, stats_view

LATEST_ITEMS = 12
"""Responses kept for the latest table."""
FAILED_ITEMS = 8
"""Timed-out or failed responses kept for their own table."""

StepCallback = Callable[[int | None], None]
"""Told, once, the step a recorded batch was counted in (the trainer's, or the number given
to an untagged batch); None when it never will be (a Ray Serve replica gave the batch up)."""


def _last_kept(
    pairs: Sequence[tuple[ScoredItem, ScoreResult]], count: int
) -> tuple[KeptResponse, ...]:
    return tuple(keep(item, result) for item, result in pairs[max(0, len(pairs) - count) :])


@dataclass(frozen=True)
class BatchRecord:
    """One scored batch on its way to a recorder, in this process or in another one (Ray
    pickles it to a deployment's keeper).

    Attributes:
        step: the trainer's step; None: the recorder numbers the batch
            (:func:`~reward_service.stats.kept_steps.untagged_step`).
        stats: the batch's counts; their ``step`` is -1 until the recorder numbers them, their
            ``time`` is when the batch was scored. The recorder takes them over.
        latest: its last responses, for the latest table.
        failed: its last timed-out or failed responses, for theirs.
    """

    step: int | None
    stats: StepStats
    latest: tuple[KeptResponse, ...]
    failed: tuple[KeptResponse, ...]

    @classmethod
    def of(
        cls,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
        now: float | None = None,
        latest_items: int = LATEST_ITEMS,
        failed_items: int = FAILED_ITEMS,
    ) -> BatchRecord:
        """The record of one scored batch (scored at ``now``, by default now); only the
        responses a table can keep are cut and carried."""
        now = time.time() if now is None else now
        known = -1 if step is None else step
        stats = StepStats.of_batch(known, items, results, latency_ms, now)
        pairs = list(zip(items, results, strict=True))
        failed = [(item, result) for item, result in pairs if result.status != "ok"]
        return cls(step, stats, _last_kept(pairs, latest_items), _last_kept(failed, failed_items))


class StatsStore(Protocol):
    """What the service records batches in and serves ``/stats`` from: a
    :class:`StatsRecorder`, or a Ray Serve replica's
    :class:`~reward_service.replicas.keeper.SharedStats`."""

    def record(
        self,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
        *,
        on_step: StepCallback | None = None,
    ) -> None:
        """Count one scored batch; never fails the request that scored it. ``on_step`` is
        told the step the batch was counted in, as soon as that is known."""

    def snapshot_json(self, limit: int | None = None) -> bytes:
        """What ``/stats`` sends: the view of the kept steps (the last ``limit``), bounded.

        Raises:
            StatsUnavailable: they cannot be read now.
        """
        ...

    def response(self, row_id: int) -> dict[str, Any] | None:
        """The row ``row_id`` of the response tables with its text, while it is kept.

        Raises:
            NoSuchResponse: this run never issued ``row_id``.
            StatsUnavailable: it cannot be read now.
        """
        ...

    def open_alarms(self) -> list[tuple[str, str]]:
        """The kind and severity of each open alarm (for ``/metrics``); never waits on
        another process."""
        ...


class StatsRecorder:
    """Keeps the last ``max_steps`` steps and the latest scored responses, thread-safe.

    Args:
        max_steps: steps kept in memory (the lowest step numbers are dropped first; the
            file keeps all).
        latest_items: responses kept for the dashboard's "latest" table.
        failed_items: timed-out or failed responses kept for their own table.
        jsonl_path: when set, the steps kept are read back from it at start-up, every
            batch is appended there as one JSON line, and the kept steps are checkpointed
            beside it every ``checkpoint_every_s``.
        on_write_failure: called when writing the file fails (the failure is logged and
            the batch still counted in memory: a side file never fails scoring).
        untagged_gap_s: the quiet gap that ends a step of untagged batches.
        alarm_settings: the alarms' thresholds and windows.

    Raises:
        OSError: ``jsonl_path`` cannot be created (at start-up).
    """

    def __init__(
        self,
        max_steps: int = 1000,
        latest_items: int = LATEST_ITEMS,
        failed_items: int = FAILED_ITEMS,
        jsonl_path: Path | None = None,
        on_write_failure: Callable[[], None] = lambda: None,
        untagged_gap_s: float = UNTAGGED_STEP_GAP_S,
        checkpoint_every_s: float = CHECKPOINT_EVERY_S,
        alarm_settings: AlarmSettings = DEFAULT_ALARM_SETTINGS,
    ) -> None:
        self._lock = threading.Lock()
        self._steps = KeptSteps(max_steps, untagged_gap_s)
        self._monitor = AlarmMonitor(alarm_settings)
        self._tables = ResponseTables(latest_items, failed_items)
        self._rows: RowCache = {}
        self._file: StatsFile | None = None
        if jsonl_path is not None:  # an unwritable path fails at start-up, not per request
            self._file = StatsFile(
                jsonl_path, self._steps, self._lock, on_write_failure, checkpoint_every_s
            )
            self._file.reload()

    def wait_reloaded(self, timeout_s: float | None = None) -> bool:
        """Wait for a background reading of the file; returns whether it is done."""
        return self._file is None or self._file.wait_reloaded(timeout_s)

    def record(
        self,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
        now: float | None = None,
        *,
        on_step: StepCallback | None = None,
    ) -> None:
        """Count one scored batch (scored at ``now``, by default now); ``step`` None is
        numbered by :func:`~reward_service.stats.kept_steps.untagged_step`. ``on_step`` is
        told the step it was counted in, at once."""
        latest, failed = self._tables.latest.maxlen or 0, self._tables.failed.maxlen or 0
        counted = self.add(BatchRecord.of(items, results, step, latency_ms, now, latest, failed))
        if on_step is not None:
            on_step(counted)

    def add(self, record: BatchRecord) -> int:
        """Count one batch recorded here or by another replica; returns its step."""
        with self._lock:
            step = self._steps.add(record.step, record.stats)
            self._tables.add(step, record.latest, record.failed)
            if self._file is not None:
                self._file.append(record.stats)
            return step

    def close(self) -> None:
        """Checkpoint every batch recorded (a clean stop)."""
        if self._file is not None:
            self._file.close()

    def response(self, row_id: int) -> dict[str, Any] | None:
        """The row ``row_id`` of the response tables with its text, while it is kept.

        Raises:
            NoSuchResponse: ``row_id`` is not one this recorder issued.
        """
        with self._lock:
            return self._tables.response(row_id)

    def step_counts(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The kept steps' (the last ``limit``) lossless counts, :meth:`StepStats.to_dict`,
        in step order (copies)."""
        with self._lock:
            return copy.deepcopy([stats.to_dict() for stats in self._steps.served(limit)])

    def alarms(self) -> list[Alarm]:
        """The alarms of every kept step (:func:`~reward_service.stats.alarms.derive_alarms`)."""
        with self._lock:
            return self._monitor.update(self._steps.served())

    def open_alarms(self) -> list[tuple[str, str]]:
        """The kind and severity of each open alarm."""
        return [(alarm.kind, alarm.severity) for alarm in self.alarms() if alarm.open]

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The view of the kept steps (the last ``limit``), the response tables and the
        alarms of every kept step."""
        with self._lock:
            steps = self._steps.served(limit)
            alarms = self._alarm_rows()
            return stats_view(steps, *self._tables.rows(), alarms, cache=self._cache(limit))

    def snapshot_json(self, limit: int | None = None, max_bytes: int = STATS_MAX_BYTES) -> bytes:
        """:meth:`snapshot` as JSON of at most ``max_bytes`` (what ``/stats`` sends)."""
        with self._lock:
            steps = self._steps.served(limit)
            alarms = self._alarm_rows()
            return served_json(
                steps, *self._tables.rows(), alarms, max_bytes=max_bytes, cache=self._cache(limit)
            )

    def _alarm_rows(self) -> list[dict[str, Any]]:
        """The alarms of every kept step, as ``/stats`` serves them (the lock held)."""
        return [alarm.to_dict() for alarm in self._monitor.update(self._steps.served())]

    def _cache(self, limit: int | None) -> RowCache | None:
        """The row cache, for views of every kept step (a limited view would empty it)."""
        return None if limit else self._rows

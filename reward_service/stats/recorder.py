"""The service's record of every scored batch: the last steps in memory, every batch on file."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from reward_service.scoring import ScoreResult
from reward_service.stats.latest import KeptResponse, keep, table_row, text_row
from reward_service.stats.step import ScoredItem, StepStats
from reward_service.stats.view import STATS_MAX_BYTES, RowCache, served_json, stats_view

logger = logging.getLogger("reward_service.stats")

UNTAGGED_STEP_GAP_S = 10.0
"""A quiet gap this long (no batch at all) ends a step of untagged batches."""


def untagged_step(
    last_step: int | None, last_time: float, highest_step: int, now: float, gap_s: float
) -> int:
    """The step a batch that carries no step belongs to.

    Trainers that do not tag steps (OpenRLHF) score a step as a burst of requests while they
    generate, then train without scoring anything. So an untagged batch belongs to the step
    of the batch recorded just before it when that one came less than ``gap_s`` earlier, and
    starts a new step (one past the highest kept) after a quiet gap. With nothing recorded
    yet it is step 0. An untagged batch among tagged ones joins the step being scored.
    """
    if last_step is None:
        return 0
    if now - last_time < gap_s:
        return last_step
    return highest_step + 1


class StatsRecorder:
    """Keeps the last ``max_steps`` steps and the latest scored responses, thread-safe.

    Args:
        max_steps: steps kept in memory (the lowest are dropped; the JSONL keeps all).
        latest_items: responses kept for the dashboard's "latest" table.
        failed_items: timed-out or failed responses kept for their own table.
        jsonl_path: when set, every batch is appended there as one JSON line.
        on_write_failure: called when appending to ``jsonl_path`` fails (the failure is
            logged and the batch still counted in memory: a side file never fails scoring).
        untagged_gap_s: the quiet gap that ends a step of untagged batches.

    Raises:
        OSError: ``jsonl_path`` cannot be created (at start-up).
    """

    def __init__(
        self,
        max_steps: int = 1000,
        latest_items: int = 12,
        failed_items: int = 8,
        jsonl_path: Path | None = None,
        on_write_failure: Callable[[], None] = lambda: None,
        untagged_gap_s: float = UNTAGGED_STEP_GAP_S,
    ) -> None:
        self._max_steps = max_steps
        self._steps: dict[int, StepStats] = {}
        self._latest: deque[KeptResponse] = deque(maxlen=latest_items)
        self._failed: deque[KeptResponse] = deque(maxlen=failed_items)
        self._last: tuple[int, float] | None = None
        self._rows_made = 0
        self._jsonl_path = jsonl_path
        self._on_write_failure = on_write_failure
        self._untagged_gap_s = untagged_gap_s
        self._rows: RowCache = {}
        self._lock = threading.Lock()
        if jsonl_path is not None:  # an unwritable path fails at start-up, not per request
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            jsonl_path.touch()

    def record(
        self,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
        now: float | None = None,
    ) -> StepStats:
        """Count one scored batch; ``step`` None is numbered by :func:`untagged_step`."""
        now = time.time() if now is None else now
        with self._lock:
            if step is None:
                last_step, last_time = self._last if self._last else (None, 0.0)
                highest = max(self._steps, default=-1)
                step = untagged_step(last_step, last_time, highest, now, self._untagged_gap_s)
            batch = StepStats.of_batch(step, items, results, latency_ms, now)
            self._add(batch)
            self._last = (step, now)
            self._keep_rows(step, items, results)
            if self._jsonl_path is not None:
                self._append(batch)
            return batch

    def _add(self, batch: StepStats) -> None:
        if batch.step in self._steps:
            self._steps[batch.step].merge(batch)
            return
        self._steps[batch.step] = StepStats.from_dict(batch.to_dict())
        if len(self._steps) > self._max_steps:
            del self._steps[min(self._steps)]

    def _keep_rows(
        self, step: int, items: Sequence[ScoredItem], results: Sequence[ScoreResult]
    ) -> None:
        """The batch's last responses for the latest table, its timed-out and failed ones
        for theirs (only the rows that are kept are built)."""
        pairs = list(zip(items, results, strict=True))
        failed = [(item, result) for item, result in pairs if result.status != "ok"]
        for table, rows in ((self._latest, pairs), (self._failed, failed)):
            for item, result in rows[max(0, len(rows) - (table.maxlen or 0)) :]:
                self._rows_made += 1
                table.append(keep(self._rows_made, step, item, result))

    def _append(self, batch: StepStats) -> None:
        try:
            with self._jsonl_path.open("ab") as sink:  # type: ignore[union-attr]
                sink.write(orjson.dumps(batch.to_dict()) + b"\n")
        except OSError as exc:
            logger.error("could not append step %d to %s: %s", batch.step, self._jsonl_path, exc)
            self._on_write_failure()

    def response(self, row_id: int) -> dict[str, Any] | None:
        """The row ``row_id`` of the response tables with its text, while it is kept."""
        with self._lock:
            for kept in (*self._latest, *self._failed):
                if kept.id == row_id:
                    return text_row(kept)
        return None

    def _served(self, limit: int | None) -> list[StepStats]:
        steps = [self._steps[step] for step in sorted(self._steps)]
        return steps[-limit:] if limit else steps

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The view of the kept steps (the last ``limit``) and the response tables."""
        with self._lock:
            steps = self._served(limit)
            return stats_view(steps, *self._tables(), cache=self._cache(limit))

    def snapshot_json(self, limit: int | None = None, max_bytes: int = STATS_MAX_BYTES) -> bytes:
        """:meth:`snapshot` as JSON of at most ``max_bytes`` (what ``/stats`` sends)."""
        with self._lock:
            steps = self._served(limit)
            return served_json(
                steps, *self._tables(), max_bytes=max_bytes, cache=self._cache(limit)
            )

    def _tables(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return [table_row(k) for k in self._latest], [table_row(k) for k in self._failed]

    def _cache(self, limit: int | None) -> RowCache | None:
        """The row cache, for views of every kept step (a limited view would empty it)."""
        return None if limit else self._rows

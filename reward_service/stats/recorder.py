"""The service's record of every scored batch: the last steps in memory, every batch on file.

With a statistics file, a recorder starts from it: the steps it held before a crash, a
restart or an upgrade are back at start-up, in bounded time and memory (the checkpoint
beside the file, then the lines appended after it; see :mod:`.checkpoint`).

A batch reaches a recorder as a :class:`BatchRecord` (its counts and its kept responses),
recorded in this process or sent by a Ray Serve replica to the deployment's keeper
(:mod:`.shared`); the recorder that keeps it numbers it when it carries no step.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from reward_service.scoring import ScoreResult
from reward_service.stats.checkpoint import read_checkpoint, write_checkpoint
from reward_service.stats.jsonl import append_line, iter_batches, last_batch, seal_torn_tail
from reward_service.stats.latest import KeptResponse, Row, keep, table_row, text_row
from reward_service.stats.step import ScoredItem, StepStats
from reward_service.stats.view import STATS_MAX_BYTES, RowCache, served_json, stats_view

logger = logging.getLogger("reward_service.stats")

UNTAGGED_STEP_GAP_S = 10.0
"""A quiet gap this long (no batch at all) ends a step of untagged batches."""
CHECKPOINT_EVERY_S = 10.0
"""How often the kept steps are written beside the file: a restart reads at most this long
of appended lines on top of them."""
REPLAY_AT_START_BYTES = 32 * 2**20
"""Lines after the checkpoint read before the service is ready (about 3 s on 2 busy cores);
more (a file from before checkpoints) are read in the background while it scores."""
LATEST_ITEMS = 12
"""Responses kept for the latest table."""
FAILED_ITEMS = 8
"""Timed-out or failed responses kept for their own table."""


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


def _last_kept(
    pairs: Sequence[tuple[ScoredItem, ScoreResult]], count: int
) -> tuple[KeptResponse, ...]:
    return tuple(keep(item, result) for item, result in pairs[max(0, len(pairs) - count) :])


@dataclass(frozen=True)
class BatchRecord:
    """One scored batch on its way to a recorder, in this process or in another one (Ray
    pickles it to a deployment's keeper).

    Attributes:
        step: the trainer's step; None: the recorder numbers the batch (:func:`untagged_step`).
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


class NoSuchResponse(LookupError):
    """A response id this run never issued (as opposed to one no longer kept)."""


class StatsUnavailable(RuntimeError):
    """The statistics are out of reach for now (a shared store restarting): retry later."""


class StatsStore(Protocol):
    """What the service records batches in and serves ``/stats`` from: a
    :class:`StatsRecorder`, or a Ray Serve replica's :class:`~.shared.SharedStats`."""

    def record(
        self,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
    ) -> None:
        """Count one scored batch; never fails the request that scored it."""

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
    ) -> None:
        self._max_steps = max_steps
        self._steps: dict[int, StepStats] = {}
        self._highest = -1  # the highest step kept or read from the file's last line
        self._last: tuple[int, float] | None = None  # the last batch's step and time
        self._latest: deque[Row] = deque(maxlen=latest_items)
        self._failed: deque[Row] = deque(maxlen=failed_items)
        # row ids go on from the start time in ms: a restart never reuses a recent id
        self._rows_made = self._first_row = time.time_ns() // 1_000_000
        self._rows: RowCache = {}
        self._jsonl_path = jsonl_path
        self._on_write_failure = on_write_failure
        self._untagged_gap_s = untagged_gap_s
        self._lock = threading.Lock()
        self._file_size = 0
        self._checkpoint_every_s = checkpoint_every_s
        self._checkpointed_at = time.monotonic()
        self._step_lines: dict[int, bytes] = {}  # each kept step's checkpoint line
        self._dirty: set[int] = set()  # steps changed since their line was written
        self._replaying: threading.Thread | None = None
        self._writing: threading.Thread | None = None  # the checkpoint being written
        self._append_failed = False  # the last append failed: it may have cut a line off
        if jsonl_path is not None:  # an unwritable path fails at start-up, not per request
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            jsonl_path.touch()
            self._reload(jsonl_path)

    def _reload(self, path: Path) -> None:
        """The kept steps: the checkpoint's, then the lines appended after it (read in the
        background when there are more than REPLAY_AT_START_BYTES of them). Untagged
        batches are numbered on from the file's last batch, its step and its time."""
        seal_torn_tail(path)
        self._file_size = path.stat().st_size
        last = last_batch(path)
        if last is not None:
            self._last = (last.step, last.time)
            self._highest = last.step
        checkpoint = read_checkpoint(path)
        start = 0 if checkpoint is None else checkpoint.covers
        for stats in checkpoint.steps if checkpoint is not None else ():
            self._keep(stats)
        if self._file_size - start <= REPLAY_AT_START_BYTES:
            self._replay(path, start, self._file_size)
            return
        logger.warning(
            "statistics: reading %.0f MiB of %s in the background (%s); until it is done, "
            "/stats shows the steps read so far",
            (self._file_size - start) / 2**20,
            path,
            "no checkpoint" if checkpoint is None else "lines after the checkpoint",
        )
        self._replaying = threading.Thread(
            target=self._replay, args=(path, start, self._file_size), daemon=True
        )
        self._replaying.start()

    def _replay(self, path: Path, start: int, end: int) -> None:
        """Merge the batches on bytes [start, end) of the file into the kept steps."""
        started = time.perf_counter()
        batches = 0
        for batch in iter_batches(path, start, end, on_bad_line=logger.warning):
            with self._lock:
                self._keep(batch)
            batches += 1
        with self._lock:
            self._replaying = None
            if self._steps:
                logger.info(
                    "statistics: %d steps (%d to %d) back from %s in %.2f s (%d batches read "
                    "after %d bytes of checkpoint)",
                    len(self._steps),
                    min(self._steps),
                    max(self._steps),
                    path,
                    time.perf_counter() - started,
                    batches,
                    start,
                )

    def wait_reloaded(self, timeout_s: float | None = None) -> bool:
        """Wait for a background reading of the file; returns whether it is done."""
        replaying = self._replaying
        if replaying is not None:
            replaying.join(timeout_s)
        return self._replaying is None

    def _keep(self, batch: StepStats) -> None:
        """Merge ``batch`` into its step (it is kept as is when its step is new)."""
        self._highest = max(self._highest, batch.step)
        kept = self._steps.get(batch.step)
        if kept is not None:
            kept.merge(batch)
        else:
            self._steps[batch.step] = batch
            if len(self._steps) > self._max_steps:
                oldest = min(self._steps)
                del self._steps[oldest]
                self._step_lines.pop(oldest, None)
                self._dirty.discard(oldest)
                if oldest == batch.step:
                    return
        self._dirty.add(batch.step)

    def record(
        self,
        items: Sequence[ScoredItem],
        results: Sequence[ScoreResult],
        step: int | None,
        latency_ms: float,
        now: float | None = None,
    ) -> None:
        """Count one scored batch (scored at ``now``, by default now); ``step`` None is
        numbered by :func:`untagged_step`."""
        latest, failed = self._latest.maxlen or 0, self._failed.maxlen or 0
        self.add(BatchRecord.of(items, results, step, latency_ms, now, latest, failed))

    def add(self, record: BatchRecord) -> int:
        """Count one batch recorded here or by another replica; returns its step."""
        batch = record.stats
        with self._lock:
            batch.step = self._number(record.step, batch.time)
            self._keep(batch)
            self._last = (batch.step, batch.time)
            for table, kept in ((self._latest, record.latest), (self._failed, record.failed)):
                for response in kept:
                    self._rows_made += 1
                    table.append(Row(self._rows_made, batch.step, response))
            if self._jsonl_path is not None and self._append(batch) and self._checkpoint_due():
                self._checkpoint()
            return batch.step

    def _number(self, step: int | None, now: float) -> int:
        """The step of a batch: the trainer's, else :func:`untagged_step`'s."""
        if step is not None:
            return step
        last_step, last_time = self._last or (None, 0.0)
        return untagged_step(last_step, last_time, self._highest, now, self._untagged_gap_s)

    def _checkpoint_due(self) -> bool:
        """Time for a checkpoint (never while the file is being read back: it would say
        the steps hold lines they do not hold yet)."""
        elapsed = time.monotonic() - self._checkpointed_at
        return self._replaying is None and elapsed >= self._checkpoint_every_s

    def _append(self, batch: StepStats) -> bool:
        """Append ``batch`` (under the lock: nothing has merged into it yet). After a failed
        write (a full disk) the next one first ends the line it may have cut off."""
        try:
            line = orjson.dumps(batch.to_dict())
        except orjson.JSONEncodeError as exc:
            logger.error(
                "statistics of step %d cannot be written to %s (%s); /stats keeps them",
                batch.step,
                self._jsonl_path,
                exc,
            )
            self._on_write_failure()
            return False
        try:
            if self._append_failed:
                seal_torn_tail(self._jsonl_path)  # type: ignore[arg-type]
            self._file_size = append_line(self._jsonl_path, line)  # type: ignore[arg-type]
        except OSError as exc:
            logger.error("could not append step %d to %s: %s", batch.step, self._jsonl_path, exc)
            self._append_failed = True
            self._on_write_failure()
            return False
        self._append_failed = False
        return True

    def _checkpoint(self) -> None:
        """Serialise the changed steps, then write the kept steps beside the file in a thread
        (a checkpoint of a long run is megabytes: never on the request path). A checkpoint
        due while the last one is still being written is left to the next one."""
        self._checkpointed_at = time.monotonic()
        if self._writing is not None and self._writing.is_alive():
            return
        covers, lines = self._checkpoint_lines()
        self._writing = threading.Thread(
            target=self._write_checkpoint, args=(covers, lines), daemon=True
        )
        self._writing.start()

    def _checkpoint_lines(self) -> tuple[int, list[bytes]]:
        """The file's size and the kept steps' lines (only the changed ones serialised; a
        step that cannot be keeps its last line, or none, and is named in the log)."""
        for step in self._dirty:
            try:
                self._step_lines[step] = orjson.dumps(self._steps[step].to_dict())
            except orjson.JSONEncodeError as exc:
                logger.error("step %d cannot be checkpointed (%s); it is left out", step, exc)
        self._dirty.clear()
        lines = [self._step_lines[step] for step in sorted(self._steps) if step in self._step_lines]
        return self._file_size, lines

    def _write_checkpoint(self, covers: int, lines: list[bytes]) -> None:
        try:
            write_checkpoint(self._jsonl_path, covers, lines)  # type: ignore[arg-type]
        except OSError as exc:
            logger.error("could not write the checkpoint of %s: %s", self._jsonl_path, exc)
            self._on_write_failure()

    def close(self) -> None:
        """Checkpoint every batch recorded (a clean stop): waits for a checkpoint being
        written, then writes the last one here."""
        if self._writing is not None:
            self._writing.join()
        with self._lock:
            if self._jsonl_path is not None and self._replaying is None:
                self._write_checkpoint(*self._checkpoint_lines())  # logs its own failures

    def response(self, row_id: int) -> dict[str, Any] | None:
        """The row ``row_id`` of the response tables with its text, while it is kept.

        Raises:
            NoSuchResponse: ``row_id`` is not one this recorder issued.
        """
        with self._lock:
            if not self._first_row < row_id <= self._rows_made:
                raise NoSuchResponse(f"no such response: {row_id}")
            for row in (*self._latest, *self._failed):
                if row.id == row_id:
                    return text_row(row)
        return None

    def step_counts(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The kept steps' (the last ``limit``) lossless counts, :meth:`StepStats.to_dict`,
        in step order (copies)."""
        with self._lock:
            return copy.deepcopy([stats.to_dict() for stats in self._served(limit)])

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
        return [table_row(r) for r in self._latest], [table_row(r) for r in self._failed]

    def _cache(self, limit: int | None) -> RowCache | None:
        """The row cache, for views of every kept step (a limited view would empty it)."""
        return None if limit else self._rows

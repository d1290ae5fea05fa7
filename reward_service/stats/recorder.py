"""The service's record of every scored batch: the last steps in memory, every batch on file.

With a statistics file, a recorder starts from it: the steps it held before a crash, a
restart or an upgrade are back at start-up, in bounded time and memory (the checkpoint
beside the file, then the lines appended after it; see :mod:`.checkpoint`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from reward_service.scoring import FORMAT_RULES, ScoreResult
from reward_service.stats.checkpoint import read_checkpoint, write_checkpoint
from reward_service.stats.jsonl import append_batch, iter_batches, last_batch, seal_torn_tail
from reward_service.stats.step import CALIBRATION_CELLS, StepStats, latest_entry

logger = logging.getLogger("reward_service.stats")

CHECKPOINT_EVERY_S = 10.0
"""How often the kept steps are written beside the file: a restart reads at most this long
of appended lines on top of them."""
REPLAY_AT_START_BYTES = 32 * 2**20
"""Lines after the checkpoint read before the service is ready (about 3 s on 2 busy cores);
more (a file from before checkpoints) are read in the background while it scores."""
LATEST_ITEMS = 8


@dataclass(frozen=True)
class BatchRecord:
    """One scored batch on its way to a recorder, in this process or in another one.

    Attributes:
        step: the trainer's step; None: the recorder numbers the batch.
        counts: the batch's :meth:`StepStats.to_dict` (its ``step`` is the recorder's to set).
        latest: its last responses for the dashboard (their ``step`` too).
    """

    step: int | None
    counts: dict[str, Any]
    latest: list[dict[str, Any]]

    @classmethod
    def of(
        cls,
        results: Sequence[ScoreResult],
        responses: Sequence[str],
        step: int | None,
        latency_ms: float,
        latest_items: int = LATEST_ITEMS,
    ) -> BatchRecord:
        """The record of one scored batch."""
        known = -1 if step is None else step
        counts = StepStats.of_batch(known, results, latency_ms, time.time()).to_dict()
        pairs = list(zip(responses, results, strict=True))
        pairs = pairs[max(0, len(pairs) - latest_items) :]
        return cls(step, counts, [latest_entry(known, text, result) for text, result in pairs])


class StatsUnavailable(RuntimeError):
    """The statistics are out of reach for now (a shared store restarting): retry later."""


class StatsStore(Protocol):
    """What the service records batches in and serves ``/stats`` from."""

    def record(
        self,
        results: Sequence[ScoreResult],
        responses: Sequence[str],
        step: int | None,
        latency_ms: float,
    ) -> None:
        """Count one scored batch; never fails the request that scored it."""

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The kept steps (the last ``limit``) and the latest responses, JSON-ready.

        Raises:
            StatsUnavailable: they cannot be read now.
        """
        ...


class StatsRecorder:
    """Keeps the last ``max_steps`` steps and the latest scored responses, thread-safe.

    Args:
        max_steps: steps kept in memory (the lowest step numbers are dropped first; the
            file keeps all).
        latest_items: responses kept for the dashboard's "latest" table.
        jsonl_path: when set, the steps kept are read back from it at start-up, every
            batch is appended there as one JSON line, and the kept steps are checkpointed
            beside it every ``checkpoint_every_s``.
        on_write_failure: called when writing the file fails (the failure is logged and
            the batch still counted in memory: a side file never fails scoring).

    Raises:
        OSError: ``jsonl_path`` cannot be created (at start-up).
    """

    def __init__(
        self,
        max_steps: int = 1000,
        latest_items: int = LATEST_ITEMS,
        jsonl_path: Path | None = None,
        on_write_failure: Callable[[], None] = lambda: None,
        checkpoint_every_s: float = CHECKPOINT_EVERY_S,
    ) -> None:
        self._max_steps = max_steps
        self._steps: dict[int, StepStats] = {}
        self._last_step: int | None = None
        self._latest: deque[dict[str, Any]] = deque(maxlen=latest_items)
        self._jsonl_path = jsonl_path
        self._on_write_failure = on_write_failure
        self._lock = threading.Lock()
        self._file_size = 0
        self._checkpoint_every_s = checkpoint_every_s
        self._checkpointed_at = time.monotonic()
        self._step_lines: dict[int, bytes] = {}  # each kept step's checkpoint line
        self._dirty: set[int] = set()  # steps changed since their line was written
        self._replaying: threading.Thread | None = None
        if jsonl_path is not None:  # an unwritable path fails at start-up, not per request
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            jsonl_path.touch()
            self._reload(jsonl_path)

    def _reload(self, path: Path) -> None:
        """The kept steps: the checkpoint's, then the lines appended after it (read in the
        background when there are more than REPLAY_AT_START_BYTES of them)."""
        seal_torn_tail(path)
        self._file_size = path.stat().st_size
        last = last_batch(path)
        self._last_step = None if last is None else last.step
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

    def _number(self, step: int | None) -> int:
        """The step of a batch: the trainer's, else the one after the last batch's."""
        if step is not None:
            return step
        return 0 if self._last_step is None else self._last_step + 1

    def _keep(self, batch: StepStats) -> None:
        """Merge ``batch`` into its step (it is kept as is when its step is new)."""
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
        results: Sequence[ScoreResult],
        responses: Sequence[str],
        step: int | None,
        latency_ms: float,
    ) -> None:
        """Count one scored batch; ``step`` None numbers it after the last step."""
        self.add(BatchRecord.of(results, responses, step, latency_ms, self._latest.maxlen or 0))

    def add(self, record: BatchRecord) -> int:
        """Count one batch recorded here or by another replica; returns its step."""
        with self._lock:
            step = self._number(record.step)
            counts = {**record.counts, "step": step}
            self._keep(StepStats.from_dict(counts))
            self._last_step = step
            self._latest.extend({**entry, "step": step} for entry in record.latest)
            if self._jsonl_path is not None and self._append(counts) and self._checkpoint_due():
                self._checkpoint()
            return step

    def _checkpoint_due(self) -> bool:
        """Time for a checkpoint (never while the file is being read back: it would say
        the steps hold lines they do not hold yet)."""
        elapsed = time.monotonic() - self._checkpointed_at
        return self._replaying is None and elapsed >= self._checkpoint_every_s

    def _append(self, counts: dict[str, Any]) -> bool:
        try:
            self._file_size = append_batch(self._jsonl_path, counts)  # type: ignore[arg-type]
            return True
        except OSError as exc:
            path, step = self._jsonl_path, counts["step"]
            logger.error("could not append step %d to %s: %s", step, path, exc)
            self._on_write_failure()
            return False

    def _checkpoint(self) -> None:
        """Write the kept steps beside the file (only the changed ones are serialised)."""
        for step in self._dirty:
            self._step_lines[step] = orjson.dumps(self._steps[step].to_dict())
        self._dirty.clear()
        self._checkpointed_at = time.monotonic()
        try:
            write_checkpoint(
                self._jsonl_path,  # type: ignore[arg-type]
                self._file_size,
                (self._step_lines[step] for step in sorted(self._steps)),
            )
        except OSError as exc:
            logger.error("could not write the checkpoint of %s: %s", self._jsonl_path, exc)
            self._on_write_failure()

    def close(self) -> None:
        """Checkpoint what changed since the last checkpoint (a clean stop)."""
        with self._lock:
            if self._jsonl_path is not None and self._dirty and self._replaying is None:
                self._checkpoint()

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The kept steps (the last ``limit``) and the latest responses, JSON-ready."""
        with self._lock:
            kept = [self._steps[step] for step in sorted(self._steps)]
            steps = kept[-limit:] if limit else kept
            return {
                "steps": [stats.to_dict() for stats in steps],
                "latest": list(self._latest),
                "format_rules": list(FORMAT_RULES),
                "calibration_cells": list(CALIBRATION_CELLS),
            }

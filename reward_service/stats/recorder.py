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

from reward_service.scoring import FORMAT_RULES, ScoreResult
from reward_service.stats.step import CALIBRATION_CELLS, StepStats, latest_entry

logger = logging.getLogger("reward_service.stats")


class StatsRecorder:
    """Keeps the last ``max_steps`` steps and the latest scored responses, thread-safe.

    Args:
        max_steps: steps kept in memory (older ones are dropped; the JSONL keeps all).
        latest_items: responses kept for the dashboard's "latest" table.
        jsonl_path: when set, every batch is appended there as one JSON line.
        on_write_failure: called when appending to ``jsonl_path`` fails (the failure is
            logged and the batch still counted in memory: a side file never fails scoring).

    Raises:
        OSError: ``jsonl_path`` cannot be created (at start-up).
    """

    def __init__(
        self,
        max_steps: int = 1000,
        latest_items: int = 8,
        jsonl_path: Path | None = None,
        on_write_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._steps: deque[StepStats] = deque(maxlen=max_steps)
        self._latest: deque[dict[str, Any]] = deque(maxlen=latest_items)
        self._jsonl_path = jsonl_path
        self._on_write_failure = on_write_failure
        self._lock = threading.Lock()
        if jsonl_path is not None:  # an unwritable path fails at start-up, not per request
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            jsonl_path.touch()

    def record(
        self,
        results: Sequence[ScoreResult],
        responses: Sequence[str],
        step: int | None,
        latency_ms: float,
    ) -> StepStats:
        """Count one scored batch; ``step`` None numbers it after the last step."""
        with self._lock:
            if step is None:
                step = self._steps[-1].step + 1 if self._steps else 0
            batch = StepStats.of_batch(step, results, latency_ms, time.time())
            if self._steps and self._steps[-1].step == step:
                self._steps[-1].merge(batch)
            else:
                self._steps.append(StepStats.from_dict(batch.to_dict()))
            for response, result in list(zip(responses, results, strict=True))[
                -self._latest.maxlen :
            ]:
                self._latest.append(latest_entry(step, response, result))
            if self._jsonl_path is not None:
                self._append(batch)
            return batch

    def _append(self, batch: StepStats) -> None:
        try:
            with self._jsonl_path.open("ab") as sink:  # type: ignore[union-attr]
                sink.write(orjson.dumps(batch.to_dict()) + b"\n")
        except OSError as exc:
            logger.error("could not append step %d to %s: %s", batch.step, self._jsonl_path, exc)
            self._on_write_failure()

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The kept steps (the last ``limit``) and the latest responses, JSON-ready."""
        with self._lock:
            steps = list(self._steps)[-limit:] if limit else list(self._steps)
            return {
                "steps": [stats.to_dict() for stats in steps],
                "latest": list(self._latest),
                "format_rules": list(FORMAT_RULES),
                "calibration_cells": list(CALIBRATION_CELLS),
            }

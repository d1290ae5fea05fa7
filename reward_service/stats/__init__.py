"""Reward statistics: per-step counts, the service's recorder, the statistics file, the report.

- :mod:`~reward_service.stats.step`: :class:`StepStats`, one step's counts, merged by addition.
- :mod:`~reward_service.stats.recorder`: :class:`StatsRecorder`, what ``/stats`` serves.
- :mod:`~reward_service.stats.jsonl`: the statistics file, appended and read back as a stream.
- :mod:`~reward_service.stats.checkpoint`: the kept steps beside the file, for a quick restart.
- :mod:`~reward_service.stats.shared`: one view of every Ray Serve replica's batches.
- :mod:`~reward_service.stats.report`: the PNG report (needs the ``report`` extra).
- ``dashboard.html``: the page ``/dashboard`` serves.
"""

from reward_service.stats.jsonl import read_jsonl
from reward_service.stats.recorder import BatchRecord, StatsRecorder, StatsStore, StatsUnavailable
from reward_service.stats.step import (
    ANSWER_CHARS_KEPT,
    ANSWERS_KEPT,
    CALIBRATION_CELLS,
    RESPONSE_CHARS_KEPT,
    SIGNALS,
    StepStats,
    merge_by_step,
)

__all__ = [
    "ANSWERS_KEPT",
    "ANSWER_CHARS_KEPT",
    "CALIBRATION_CELLS",
    "RESPONSE_CHARS_KEPT",
    "SIGNALS",
    "BatchRecord",
    "StatsRecorder",
    "StatsStore",
    "StatsUnavailable",
    "StepStats",
    "merge_by_step",
    "read_jsonl",
]

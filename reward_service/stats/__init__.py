"""Reward statistics: per-step counts, the service's recorder, the statistics file, the report.

- :mod:`~reward_service.stats.step`: :class:`StepStats`, one step's counts, merged by addition.
- :mod:`~reward_service.stats.recorder`: :class:`StatsRecorder`, what ``/stats`` serves.
- :mod:`~reward_service.stats.jsonl`: the statistics file, read back per step.
- :mod:`~reward_service.stats.report`: the PNG report (needs the ``report`` extra).
- ``dashboard.html``: the page ``/dashboard`` serves.
"""

from reward_service.stats.jsonl import read_jsonl
from reward_service.stats.recorder import StatsRecorder
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
    "StatsRecorder",
    "StepStats",
    "merge_by_step",
    "read_jsonl",
]

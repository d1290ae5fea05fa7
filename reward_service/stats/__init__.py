"""Reward statistics: per-step counts, the service's recorder, the statistics file, the report.

- :mod:`~reward_service.stats.step`: :class:`StepStats`, one step's counts, merged exactly.
- :mod:`~reward_service.stats.answers`: the key equivalent answers are counted under.
- :mod:`~reward_service.stats.groups`: GRPO groups and the learning signal they carry.
- :mod:`~reward_service.stats.sketch`: bounded distinct counts that merge exactly.
- :mod:`~reward_service.stats.recorder`: :class:`StatsRecorder`, what the service keeps, read
  back from the statistics file at start-up; :class:`StatsStore`, what the routes use. It
  puts together:
- :mod:`~reward_service.stats.kept_steps`: the kept steps, and the step of an untagged batch;
- :mod:`~reward_service.stats.tables`: the response tables (latest and failed responses);
- :mod:`~reward_service.stats.persistence`: the statistics file and its checkpoint.
- :mod:`~reward_service.stats.alarms`: the known ways a GRPO run goes wrong, read from the
  kept steps.
- :mod:`~reward_service.stats.view`: what ``/stats`` serves, bounded in bytes.
- :mod:`~reward_service.stats.panels`: the panels and colours of the page and the report.
- :mod:`~reward_service.stats.jsonl`: the statistics file, appended and read back as a stream.
- :mod:`~reward_service.stats.checkpoint`: the kept steps beside the file, for a quick restart.
- :mod:`~reward_service.stats.report`: the PNG report (needs the ``report`` extra).
- ``dashboard.html``: the page ``/dashboard`` serves.
"""

from reward_service.stats.jsonl import read_jsonl
from reward_service.stats.recorder import BatchRecord, StatsRecorder, StatsStore, StepCallback
from reward_service.stats.step import (
    ANSWERS_KEPT,
    CALIBRATION_CELLS,
    SIGNALS,
    ScoredItem,
    StepStats,
    merge_by_step,
)
from reward_service.stats.view import STATS_MAX_BYTES, stats_view

__all__ = [
    "ANSWERS_KEPT",
    "CALIBRATION_CELLS",
    "SIGNALS",
    "STATS_MAX_BYTES",
    "BatchRecord",
    "ScoredItem",
    "StatsRecorder",
    "StatsStore",
    "StepCallback",
    "StepStats",
    "merge_by_step",
    "read_jsonl",
    "stats_view",
]

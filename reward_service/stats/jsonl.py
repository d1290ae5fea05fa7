"""The statistics file: one JSON line per scored batch, read back merged per step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from reward_service.stats.step import StepStats, merge_by_step


def read_jsonl(path: Path, on_bad_line: Callable[[str], None] = lambda _: None) -> list[StepStats]:
    """The batches a service appended to ``path``, merged per step.

    A line that is not a batch (cut off by a crash, edited by hand) is skipped and described
    to ``on_bad_line`` as ``path:line: reason``.
    """
    batches = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            batches.append(StepStats.from_dict(orjson.loads(line)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            on_bad_line(
                f"{path}:{number}: skipped, not a statistics line ({type(exc).__name__}: {exc})"
            )
    return merge_by_step(batches)

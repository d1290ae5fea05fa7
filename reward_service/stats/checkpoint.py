"""The statistics file's checkpoint: the kept steps, merged, as of a byte offset of the file.

A run writes a line per batch, and verl's streamed samples make that thousands of lines
per step, so reading a long run's file back takes minutes. The recorder writes the steps it
keeps beside the file (``stats.jsonl.steps``) every few seconds; a restart reads them and
only the lines appended after them. The checkpoint names the file's bytes it covers (their
count and their last bytes), so one left beside a file that was truncated or replaced is
ignored, never merged into the wrong run. Like the file, it is its owner's alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from reward_service.stats.jsonl import FILE_MODE
from reward_service.stats.step import StepStats

logger = logging.getLogger("reward_service.stats")

FORMAT = 1
TAIL_BYTES = 64
"""How many of the covered file's last bytes the checkpoint keeps, to recognise the file."""


@dataclass(frozen=True)
class Checkpoint:
    """Steps merged from the first ``covers`` bytes of the statistics file.

    Attributes:
        covers: bytes of the statistics file merged in.
        steps: the kept steps, in step order.
    """

    covers: int
    steps: list[StepStats]


def checkpoint_path(stats_path: Path) -> Path:
    """Where the checkpoint of ``stats_path`` lives: beside it, ``.steps`` added."""
    return stats_path.with_name(f"{stats_path.name}.steps")


def _tail(stats_path: Path, covers: int) -> str:
    with stats_path.open("rb") as source:
        source.seek(max(0, covers - TAIL_BYTES))
        return source.read(min(covers, TAIL_BYTES)).hex()


def write_checkpoint(stats_path: Path, covers: int, step_lines: Iterable[bytes]) -> None:
    """Replace the checkpoint, atomically: ``step_lines`` are the steps' JSON, in order.

    Raises:
        OSError: it cannot be written (the previous one, if any, is left as it was).
    """
    header = {
        "format": FORMAT,
        "covers": covers,
        "tail": _tail(stats_path, covers),
    }
    target = checkpoint_path(stats_path)
    partial = target.with_name(f"{target.name}.partial")
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as sink:
        os.fchmod(sink.fileno(), FILE_MODE)  # whatever the umask, or a partial left behind
        sink.write(orjson.dumps(header) + b"\n")
        for line in step_lines:
            sink.write(line + b"\n")
    os.replace(partial, target)


def read_checkpoint(stats_path: Path) -> Checkpoint | None:
    """The checkpoint of ``stats_path``; None (and why, in the log) when there is none or
    it does not match the file."""
    path = checkpoint_path(stats_path)
    if not path.exists():
        return None
    try:
        with path.open("rb") as source:
            header = orjson.loads(source.readline())
            if header.get("format") != FORMAT:
                raise ValueError(f"format {header.get('format')!r}, not {FORMAT}")
            covers = int(header["covers"])
            if covers > stats_path.stat().st_size or _tail(stats_path, covers) != header["tail"]:
                raise ValueError(f"{stats_path} is not the file it was written for")
            steps = [StepStats.from_dict(orjson.loads(line)) for line in source if line.strip()]
        return Checkpoint(covers, steps)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        logger.warning("ignoring the checkpoint %s (%s): the whole file is read", path, exc)
        return None

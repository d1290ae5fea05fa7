"""The statistics file: one JSON line per scored batch, appended, read back as a stream.

Reading never holds the file in memory: it goes through it in ``CHUNK_BYTES`` pieces, from
any byte offset, so a run of millions of batches is read back in bounded memory. The file
holds answers and data sources, which ``/stats`` serves only with the token, so it is its
owner's alone (:data:`FILE_MODE`), as is its checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from reward_service.stats.step import StepStats, merge_by_step

logger = logging.getLogger("reward_service.stats")

CHUNK_BYTES = 1 << 20
"""How much of the file is read at once."""
FILE_MODE = 0o600
"""The statistics file's and its checkpoint's mode: read and written by their owner only."""
_NOT_A_BATCH = (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError)


def make_private(path: Path) -> None:
    """Create ``path`` if it is missing, and make it its owner's alone (:func:`tighten`).

    Raises:
        OSError: it cannot be created.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE))
    tighten(path)


def tighten(path: Path) -> None:
    """Give ``path``, if it exists, :data:`FILE_MODE`, whatever the umask it was created
    under; a file this user may not change (another user's) is left as it is, and named in
    the log."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_IMODE(path.stat().st_mode) == FILE_MODE:
            return
        try:
            os.chmod(path, FILE_MODE)
        except PermissionError as exc:
            logger.warning("%s keeps its mode, this user may not change it (%s)", path, exc)


def _appending(path: Path) -> BinaryIO:
    """``path`` opened to append (created, if it went missing, for its owner only)."""
    return open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "ab")


def append_line(path: Path, line: bytes) -> int:
    """Append ``line`` (one batch's JSON) and its newline; returns the file's size after it.

    Raises:
        OSError: the file cannot be written (part of the line may be).
    """
    with _appending(path) as sink:
        sink.write(line + b"\n")
        return sink.tell()


def iter_batches(
    path: Path,
    start: int = 0,
    end: int | None = None,
    on_bad_line: Callable[[str], None] = lambda _: None,
) -> Iterator[StepStats]:
    """The batches on the complete lines of bytes [start, end) of ``path``, in file order.

    A line that is not a batch (cut off by a crash, edited by hand) is skipped and described
    to ``on_bad_line`` as ``path:line: reason``; a last line without its newline is being
    written (or was torn) and is not read.
    """
    number = 0
    with path.open("rb") as source:
        source.seek(start)
        line_start, rest, left = start, b"", (end if end is not None else 2**63) - start
        while left > 0 and (chunk := source.read(min(CHUNK_BYTES, left))):
            left -= len(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                number += 1
                if line.strip():
                    try:
                        batch = StepStats.from_dict(orjson.loads(line))
                    except _NOT_A_BATCH as exc:
                        where = f"{path}:{number}" if start == 0 else f"{path}, byte {line_start}"
                        reason = f"{type(exc).__name__}: {exc}"
                        on_bad_line(f"{where}: skipped, not a statistics line ({reason})")
                    else:
                        yield batch
                line_start += len(line) + 1


def read_jsonl(path: Path, on_bad_line: Callable[[str], None] = lambda _: None) -> list[StepStats]:
    """The batches a service appended to ``path``, merged per step.

    A line that is not a batch (cut off by a crash, edited by hand) is skipped and described
    to ``on_bad_line`` as ``path:line: reason``.
    """
    tail = torn_tail(path)
    if tail is not None:
        on_bad_line(f"{path}: last line skipped, cut off ({len(tail)} bytes, no newline)")
    return merge_by_step(iter_batches(path, on_bad_line=on_bad_line))


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's lines, last first (the bytes after the last newline first of all)."""
    with path.open("rb") as source:
        position, rest = source.seek(0, 2), b""
        while position > 0:
            size = min(CHUNK_BYTES, position)
            position -= size
            source.seek(position)
            lines = (source.read(size) + rest).split(b"\n")
            rest = lines.pop(0)
            yield from reversed(lines)
        yield rest


def torn_tail(path: Path) -> bytes | None:
    """The bytes after the file's last newline (a line cut off mid-write), or None."""
    return next(_lines_backwards(path)) or None


def last_batch(path: Path) -> StepStats | None:
    """The batch on the file's last complete statistics line, or None."""
    lines = _lines_backwards(path)
    next(lines)  # after the last newline: nothing, or a line being written
    for line in lines:
        with contextlib.suppress(*_NOT_A_BATCH):
            return StepStats.from_dict(orjson.loads(line))
    return None


def seal_torn_tail(path: Path) -> str | None:
    """End a line that was cut off mid-write (the writer was killed, the disk filled up), so
    appending goes on from a fresh line: a complete record that only lost its newline counts
    again, a torn one is skipped (and named in the log) by every reader. Returns what it
    found, for the log, or None when the last line was whole.

    Raises:
        OSError: the file cannot be written.
    """
    tail = torn_tail(path)
    if tail is None:
        return None
    try:
        StepStats.from_dict(orjson.loads(tail))
        found = f"{path}: the last batch had lost its newline; it is kept"
    except _NOT_A_BATCH:
        found = (
            f"{path}: last line cut off mid-write ({len(tail)} bytes: {tail[:60]!r}...), skipped"
        )
    with _appending(path) as sink:
        sink.write(b"\n")
    return found

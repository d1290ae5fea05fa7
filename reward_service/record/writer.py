"""Writing the record: every scored item, off the request path, durable and bounded.

``RecordWriter.append(step, batch)`` only queues the batch (it never blocks, never raises);
a background thread writes what was queued every ``flush_interval_s`` as one new Parquet
file per step (:mod:`reward_service.record.files` says how a file appears whole or not at
all). When a later step has been written and a step has had no rows for
``compact_after_s`` (and at close), the writer merges its own files of that step into one.
After a compaction, retention removes the oldest step folders past ``max_steps`` or
``max_bytes``.

A write that fails (a full disk, a read-only or vanished folder) costs its rows, never the
caller's request: they are counted as lost (``status``, ``on_lost``), the log says so once,
and the next flush tries again, so writing resumes by itself when the disk is writable.
Past ``max_pending_rows`` waiting to be written, new batches are lost the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from reward_service.record.files import (
    COMPACTED_FROM,
    data_file_name,
    data_files,
    make_private_folder,
    mark_record,
    owned_by,
    replaced_files,
    safe_replica,
    step_folder,
    step_folders,
    write_atomically,
)
from reward_service.record.schema import FILE_SCHEMA, ScoredBatch, batch_table, batches_table

logger = logging.getLogger("reward_service.record")

FLUSH_INTERVAL_S = 0.5
"""How often queued rows are written: an answered batch is on disk within about this long."""
COMPACT_AFTER_S = 5.0
"""A step has had no rows for this long, and a later step was written: it is compacted."""
MAX_PENDING_ROWS = 65_536
"""Rows waiting to be written, at most; past it new batches are lost (counted)."""
ROW_GROUP_BYTES = 32 * 2**20
"""A compacted file's row groups hold about this much (Arrow bytes) each."""
COMPRESSION = "zstd"


@dataclass(frozen=True)
class RecordStatus:
    """Where a writer stands (for ``/health`` and tests).

    Attributes:
        directory: the record's folder.
        rows_written: rows on disk, written by this writer.
        rows_lost: rows that will never be written (a failed write, a full queue, closed).
        rows_pending: rows queued, not yet written.
        failing: why writing fails now (the last error), or None while it works.
    """

    directory: str
    rows_written: int
    rows_lost: int
    rows_pending: int
    failing: str | None


def _ignore_lost(rows: int) -> None:
    """The default ``on_lost``."""


class RecordWriter:
    """Writes scored batches into the record at ``directory`` (made if missing).

    Args:
        directory: the record's folder; replicas of one deployment may share it.
        replica_id: names this writer's files; unique among the writers of a directory.
        max_steps, max_bytes: retention: the most steps, the most bytes kept (None: no
            limit); the oldest step folders are removed past either.
        flush_interval_s, compact_after_s, max_pending_rows: see the module constants.
        fsync: sync each file before it appears (survives a power loss, not only a kill).
        on_lost: called with a row count each time rows are lost (e.g. a Prometheus
            counter's ``inc``), from the caller's thread or the writer's.
    """

    def __init__(
        self,
        directory: str | Path,
        replica_id: str,
        *,
        max_steps: int | None = None,
        max_bytes: int | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        compact_after_s: float = COMPACT_AFTER_S,
        max_pending_rows: int = MAX_PENDING_ROWS,
        fsync: bool = True,
        on_lost: Callable[[int], None] = _ignore_lost,
    ) -> None:
        self.directory = Path(directory)
        self.replica = safe_replica(replica_id)
        self._max_steps, self._max_bytes = max_steps, max_bytes
        self._flush_interval_s = flush_interval_s
        self._compact_after_s = compact_after_s
        self._max_pending_rows = max_pending_rows
        self._fsync = fsync
        self._on_lost = on_lost
        self._session = secrets.token_hex(6)
        self._batch_numbers = itertools.count()
        self._file_numbers = itertools.count()
        self._lock = threading.Lock()
        self._queue: list[tuple[int, ScoredBatch]] = []
        self._pending = self._written = self._lost = 0
        self._closed = False
        self._troubles: dict[str, int] = {}  # kind -> rows lost since it began
        self._failing: str | None = None
        self._prepared = False
        self._unsettled: dict[int, float] = {}  # step -> last write (monotonic), uncompacted
        self._newest_step = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def append(self, step: int, batch: ScoredBatch) -> None:
        """Queue ``batch``'s rows under ``step``; never blocks, never raises (rows that
        cannot be queued are counted as lost)."""
        rows = len(batch.results)
        with self._lock:
            refused = self._closed or self._pending + rows > self._max_pending_rows
            if not refused:
                self._queue.append((step, batch))
                self._pending += rows
        if refused and self._closed:
            self._lose(rows, "closed", "batches came after the writer was closed: lost")
        elif refused:
            waiting = f"over {self._max_pending_rows} rows wait to be written"
            self._lose(rows, "queue", f"{waiting}: new batches are lost until fewer wait")

    def lose(self, rows: int, why: str) -> None:
        """Count ``rows`` that will never be appended (a batch that got no step) as lost,
        like the writer's own losses; ``why`` is logged the first time only."""
        self._lose(rows, "unrecorded", f"{why}: their rows are lost")

    @property
    def status(self) -> RecordStatus:
        """The counts so far and whether writing fails now."""
        with self._lock:
            return RecordStatus(
                str(self.directory), self._written, self._lost, self._pending, self._failing
            )

    def close(self, timeout_s: float = 60.0) -> None:
        """Write what is queued, compact this writer's steps, and stop (idempotent)."""
        with self._lock:
            self._closed = True
        self._stop.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("record: still writing to %s after %.0f s", self.directory, timeout_s)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # the writer's thread

    def _run(self) -> None:
        try:
            self._prepare()
        except OSError as exc:  # the first write tries again
            self._trouble("write", _cannot_write(self.directory, exc))
            with self._lock:
                self._failing = str(exc)
        while not self._stop.wait(self._flush_interval_s):
            self._tick(final=False)
        self._tick(final=True)

    def _tick(self, final: bool) -> None:
        try:
            self._write_queued()
            self._compact_settled(final)
        except Exception:  # a bug of ours must not end the thread
            with self._lock:
                first = "bug" not in self._troubles
                self._troubles["bug"] = 0
            if first:
                logger.exception("record: writing to %s failed", self.directory)

    def _write_queued(self) -> None:
        with self._lock:
            queued, self._queue = self._queue, []
        by_step: dict[int, list[tuple[ScoredBatch, str]]] = {}
        for step, batch in queued:
            batch_id = f"{self._session}-{next(self._batch_numbers)}"
            by_step.setdefault(step, []).append((batch, batch_id))
        for step, batches in by_step.items():
            table = self._rows(batches)
            if table.num_rows:
                self._write_step(step, table)
        if queued:
            self._recovered("queue", "batches are queued again")

    def _rows(self, batches: list[tuple[ScoredBatch, str]]) -> pa.Table:
        """The rows of ``batches``, converted together; when that fails, one batch at a
        time, so that a batch that cannot be recorded costs its own rows only."""
        with contextlib.suppress(Exception):  # else one of them cannot be: which?
            return batches_table(batches, self.replica)
        tables = []
        for batch, batch_id in batches:
            try:
                tables.append(batch_table(batch, self.replica, batch_id))
            except Exception as exc:  # the batch's own problem: it is lost, nothing else
                self._unqueue(len(batch.results))
                self._lose(len(batch.results), "rows", f"a batch cannot be recorded: {exc!r}")
        return pa.concat_tables(tables) if tables else FILE_SCHEMA.empty_table()

    def _write_step(self, step: int, table: pa.Table) -> None:
        folder = step_folder(self.directory, step)
        name = data_file_name(self.replica, self._session, next(self._file_numbers))
        try:
            self._prepare()
            make_private_folder(folder)
            write_atomically(folder / name, _parquet_writer(table), self._fsync)
        except OSError as exc:
            self._unqueue(table.num_rows)
            self._lose(table.num_rows, "write", _cannot_write(self.directory, exc))
            with self._lock:
                self._failing = str(exc)
            return
        with self._lock:
            self._pending -= table.num_rows
            self._written += table.num_rows
            self._failing = None
        self._recovered("write", f"writing to {self.directory} again")
        self._unsettled[step] = time.monotonic()
        self._newest_step = max(self._newest_step, step)

    def _prepare(self) -> None:
        """Once: mark the record, finish what a killed writer of this replica left."""
        if self._prepared:
            return
        mark_record(self.directory)
        for step, folder in step_folders(self.directory).items():
            if len(self._own_files(folder)) > 1:
                self._unsettled[step] = time.monotonic()
        self._prepared = True

    def _own_files(self, folder: Path) -> list[Path]:
        """This replica's data files in ``folder``, after removing its leftover temporary
        files and the files an interrupted compaction had already replaced."""
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(folder):
                if name.startswith(f".{self.replica}.") and name.endswith(".tmp"):
                    _remove(folder / name)
        own = [path for path in data_files(folder) if owned_by(path.name, self.replica)]
        replaced = set()
        for path in own:
            with contextlib.suppress(OSError, pa.ArrowException, ValueError):
                replaced.update(replaced_files(path))
        for path in own:
            if path.name in replaced:
                _remove(path)
        return [path for path in own if path.name not in replaced]

    def _compact_settled(self, final: bool) -> None:
        now = time.monotonic()
        settled = [
            step
            for step, last in self._unsettled.items()
            if final or (step < self._newest_step and now - last >= self._compact_after_s)
        ]
        for step in settled:
            if self._compact(step):
                del self._unsettled[step]
            else:
                self._unsettled[step] = now  # try again later
        if settled:
            self._apply_retention()

    def _compact(self, step: int) -> bool:
        """Merge this replica's files of ``step`` into one; False to try again later."""
        folder = step_folder(self.directory, step)
        try:
            sources = self._own_files(folder)
            if len(sources) < 2:
                return True
            target = folder / data_file_name(self.replica, self._session, next(self._file_numbers))
            write_atomically(target, _merger(sources), self._fsync)
        except OSError as exc:
            self._trouble("compact", f"cannot compact {folder} ({exc}); trying again later")
            return False
        except pa.ArrowException as exc:  # a file damaged after it was written
            logger.warning("record: %s left uncompacted: %s", folder, exc)
            return True
        self._recovered("compact", f"compacting in {self.directory} again")
        for path in sources:
            _remove(path)
        return True

    def _apply_retention(self) -> None:
        if self._max_steps is None and self._max_bytes is None:
            return
        try:
            folders = step_folders(self.directory)
            doomed = _oldest_past(folders, self._max_steps, self._max_bytes)
        except OSError as exc:
            self._trouble("retention", f"cannot apply retention in {self.directory} ({exc})")
            return
        for step in doomed:
            shutil.rmtree(folders[step], ignore_errors=True)
            self._unsettled.pop(step, None)
        if doomed:
            logger.info("record: removed steps %d-%d (retention)", doomed[0], doomed[-1])

    # accounting

    def _unqueue(self, rows: int) -> None:
        with self._lock:
            self._pending -= rows

    def _lose(self, rows: int, kind: str, message: str) -> None:
        with self._lock:
            self._lost += rows
        self._trouble(kind, message, rows)
        try:
            self._on_lost(rows)
        except Exception:
            logger.exception("record: on_lost failed")

    def _trouble(self, kind: str, message: str, rows: int = 0) -> None:
        """Log ``message`` when ``kind`` of trouble begins, not again until it is over."""
        with self._lock:
            began = kind not in self._troubles
            self._troubles[kind] = self._troubles.get(kind, 0) + rows
        if began:
            logger.warning("record: %s", message)

    def _recovered(self, kind: str, message: str) -> None:
        with self._lock:
            lost = self._troubles.pop(kind, None)
        if lost is not None:
            logger.warning("record: %s (%d rows lost meanwhile)", message, lost)


def _cannot_write(directory: Path, exc: OSError) -> str:
    return f"cannot write to {directory} ({exc}); rows are lost until it can"


def _parquet_writer(table: pa.Table) -> Callable[[BinaryIO], None]:
    return lambda sink: pq.write_table(table, sink, compression=COMPRESSION)


def _merger(sources: list[Path]) -> Callable[[BinaryIO], None]:
    """Writes ``sources`` (one replica's files of a step) as one file that names them."""

    def merge(sink: BinaryIO) -> None:
        names = json.dumps([path.name for path in sources]).encode()
        schema = FILE_SCHEMA.with_metadata({COMPACTED_FROM: names})
        with pq.ParquetWriter(sink, schema, compression=COMPRESSION) as writer:
            group: list[pa.Table] = []
            for path in sources:
                group.append(pq.read_table(path, schema=FILE_SCHEMA))
                if sum(table.nbytes for table in group) >= ROW_GROUP_BYTES:
                    writer.write_table(pa.concat_tables(group))
                    group = []
            if group:
                writer.write_table(pa.concat_tables(group))

    return merge


def _oldest_past(
    folders: dict[int, Path], max_steps: int | None, max_bytes: int | None
) -> list[int]:
    """The oldest steps to remove to keep at most ``max_steps`` and ``max_bytes``, never
    the newest one.

    Raises:
        OSError: a folder cannot be measured.
    """
    steps = sorted(folders)
    count = max(0, len(steps) - max_steps) if max_steps is not None else 0
    if max_bytes is not None:
        sizes = [_folder_bytes(folders[step]) for step in steps]
        total = sum(sizes)
        while count < len(steps) - 1 and total - sum(sizes[:count]) > max_bytes:
            count += 1
    return steps[: min(count, len(steps) - 1)]


def _folder_bytes(folder: Path) -> int:
    with os.scandir(folder) as entries:
        return sum(entry.stat().st_size for entry in entries if entry.is_file())


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

"""Writing the record: every scored item, off the request path, durable and bounded.

``RecordWriter.append(step, batch)`` only queues the batch (it never blocks, never raises);
a background thread writes what was queued every ``flush_interval_s`` as one new Parquet
file per step (:mod:`reward_service.record.files` says how a file appears whole or not at
all). When a later step has been written and a step has had no rows for
``compact_after_s`` (and at close), the writer merges its own files of that step into one.
After a compaction, retention removes the oldest steps past ``max_steps`` or ``max_bytes``:
the record's own files of them, and each folder once that left it empty.

The writer never writes into a folder of other files (it is no record), makes the record's
folder 0o700 when it starts, and never writes through a ``step=N`` that is a symbolic link
(its rows are lost, said once).

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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from reward_service.record.files import (
    COMPACTED_FROM,
    NotAStepFolder,
    StepFolder,
    data_file_name,
    is_data_file,
    make_private,
    mark_record,
    new_session,
    owned_by,
    record_bytes,
    remove_step,
    replaced_files,
    safe_replica,
    step_folder,
    step_folders,
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
PAGE_CHECK_ROWS = 8
"""Rows written between checks of a Parquet page's size (pyarrow's ``write_batch_size``): a
page holds about 1 MB and at most this many rows more, so that reading a few rows decodes
little (at pyarrow's 1,024 rows, one page of long responses held hundreds of MB)."""
DICTIONARY_COLUMNS = [name for name in FILE_SCHEMA.names if name != "response"]
"""Columns written with a dictionary: all but the responses, which seldom repeat whole and
whose dictionary page a reader of one row would decode whole."""
_LAYOUT: dict[str, Any] = {
    "compression": COMPRESSION,
    "write_batch_size": PAGE_CHECK_ROWS,
    "use_dictionary": DICTIONARY_COLUMNS,
}
"""How every file of the record is written (pyarrow's options)."""


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
    """Writes scored batches into the record at ``directory`` (made if missing, marked as
    a record and made private before the constructor returns, when it can be).

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
        self._session = new_session()
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
        with contextlib.suppress(OSError):  # the thread tries again, and says why it fails
            mark_record(self.directory)  # before the caller puts anything of its own there
            make_private(self.directory)
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
        name = data_file_name(self.replica, self._session, next(self._file_numbers))
        try:
            self._prepare()
            with StepFolder(self.directory, step, create=True) as folder:
                folder.write(name, _parquet_writer(table), self._fsync)
        except NotAStepFolder as exc:
            self._unqueue(table.num_rows)
            self._lose(table.num_rows, f"step {step}", f"{exc}; its rows are lost")
            return
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
        """Once: mark the record (never a folder of other files), make it private, finish
        what a killed writer of this replica left."""
        if self._prepared:
            return
        mark_record(self.directory)
        try:
            make_private(self.directory)
        except OSError as exc:  # another user's folder: the record is kept all the same
            logger.warning("record: cannot make %s private (%s)", self.directory, exc)
        for step in step_folders(self.directory):
            with contextlib.suppress(OSError), StepFolder(self.directory, step) as folder:
                if len(self._own_files(folder)) > 1:
                    self._unsettled[step] = time.monotonic()
        self._prepared = True

    def _own_files(self, folder: StepFolder) -> list[str]:
        """This replica's data files in ``folder``, after removing its leftover temporary
        files and the files an interrupted compaction had already replaced.

        Raises:
            OSError: the folder cannot be listed, or a file removed.
        """
        names = folder.names()
        for name in names:
            if name.startswith(f".{self.replica}.") and name.endswith(".tmp"):
                folder.remove(name)
        own = [name for name in names if is_data_file(name) and owned_by(name, self.replica)]
        replaced = set()
        for name in own:
            with (
                contextlib.suppress(OSError, pa.ArrowException, ValueError),
                folder.open(name) as source,
            ):
                replaced.update(replaced_files(source))
        for name in own:
            if name in replaced:
                folder.remove(name)
        return [name for name in own if name not in replaced]

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
        try:
            with StepFolder(self.directory, step) as folder:
                return self._compact_in(folder)
        except (FileNotFoundError, NotAStepFolder):  # removed, or replaced by a link
            return True
        except OSError as exc:
            where = f"{self.directory}/step={step}"
            self._trouble("compact", f"cannot compact {where} ({exc}); trying again later")
            return False

    def _compact_in(self, folder: StepFolder) -> bool:
        """Merge this replica's files in ``folder`` into one; False to try again later.

        Raises:
            OSError: a file cannot be read, written or removed.
        """
        sources = self._own_files(folder)
        if len(sources) < 2:
            return True
        target = data_file_name(self.replica, self._session, next(self._file_numbers))
        try:
            folder.write(target, _merger(folder, sources), self._fsync)
        except pa.ArrowException as exc:  # a file damaged after it was written
            logger.warning("record: %s left uncompacted: %s", folder.path, exc)
            return True
        self._recovered("compact", f"compacting in {self.directory} again")
        for name in sources:
            folder.remove(name)
        return True

    def _apply_retention(self) -> None:
        if self._max_steps is None and self._max_bytes is None:
            return
        try:
            held = record_bytes(self.directory)
        except OSError as exc:
            self._trouble("retention", f"cannot apply retention in {self.directory} ({exc})")
            return
        removed, kept = [], {}
        for step in _oldest_past(held, self._max_steps, self._max_bytes):
            try:
                others = remove_step(self.directory, step)
            except OSError as exc:
                self._trouble("retention", f"retention cannot remove step {step} ({exc})")
                continue
            removed.append(step)
            self._unsettled.pop(step, None)
            if others:
                kept[step] = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        if removed:
            first, last = removed[0], removed[-1]
            shown = f"steps {first}-{last}" if len(removed) > 1 else f"step {first}"
            logger.info("record: removed %s (retention)", shown)
        for step, others in kept.items():
            logger.warning(
                "record: %s keeps its folder (retention): it holds files the record did not "
                "write (%s)",
                step_folder(self.directory, step),
                others,
            )

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
    return lambda sink: pq.write_table(table, sink, **_LAYOUT)


def _merger(folder: StepFolder, sources: list[str]) -> Callable[[BinaryIO], None]:
    """Writes ``sources`` (one replica's files in ``folder``) as one file that names them."""

    def merge(sink: BinaryIO) -> None:
        names = json.dumps(sources).encode()
        schema = FILE_SCHEMA.with_metadata({COMPACTED_FROM: names})
        with pq.ParquetWriter(sink, schema, **_LAYOUT) as writer:
            group: list[pa.Table] = []
            for name in sources:
                with folder.open(name) as source:
                    group.append(pq.read_table(source, schema=FILE_SCHEMA))
                if sum(table.nbytes for table in group) >= ROW_GROUP_BYTES:
                    writer.write_table(pa.concat_tables(group))
                    group = []
            if group:
                writer.write_table(pa.concat_tables(group))

    return merge


def _oldest_past(held: dict[int, int], max_steps: int | None, max_bytes: int | None) -> list[int]:
    """The oldest of the ``held`` steps (with their bytes) to remove to keep at most
    ``max_steps`` and ``max_bytes``, never the newest one."""
    steps = sorted(held)
    count = max(0, len(steps) - max_steps) if max_steps is not None else 0
    if max_bytes is not None:
        sizes = [held[step] for step in steps]
        total = sum(sizes)
        while count < len(steps) - 1 and total - sum(sizes[:count]) > max_bytes:
            count += 1
    return steps[: min(count, len(steps) - 1)]

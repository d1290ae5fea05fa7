"""Reading the record back, one step at a time, from one folder or several (one per node).

A step is read from its own files only, so a step of a long run costs what that step
holds. A file that cannot be read (torn, damaged) is skipped with one log line; the files
an interrupted compaction had already replaced are not read twice. A step is read whole
or not at all: when a file it listed is removed before it is read (a compaction merged it
into a new one, retention removed the step), the step is listed and read again. A few rows
of a large step are read by position (:meth:`StepFiles.rows_at`): only the pages that hold
them are decoded, never every response of the step.

Plain Parquet readers see the same rows without this package, told that ``step`` (the
``step=N`` folders) is a 64-bit integer::

    steps = pyarrow.dataset.partitioning(pa.schema([("step", pa.int64())]), flavor="hive")
    pyarrow.dataset.dataset(DIR, format="parquet", partitioning=steps)
    duckdb.sql("SELECT * FROM read_parquet('DIR/**/*.parquet', hive_partitioning=true, "
               "hive_types={'step': BIGINT})")
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from reward_service.record.files import (
    MARKER,
    compacted_from,
    data_files,
    is_record,
    step_folder,
    step_folders,
)
from reward_service.record.schema import FILE_SCHEMA, RECORD_SCHEMA

logger = logging.getLogger("reward_service.record")

T = TypeVar("T")
READ_TRIES = 5
"""Listings of a step one read tries at most while its files are removed under it (each
compaction ends its step's changes; the last try reads what is left, and says so)."""
FILE_POSITION, ROW_POSITION = "_file", "_row"
"""The columns :meth:`StepFiles.read` adds with ``positions``: where each row lies."""
STREAMED_ROWS = 4
"""Rows decoded at once when rows are read by position."""
STREAM_BUFFER_BYTES = 2**20
"""A file read by position is read this much at a time, never a whole column at once."""


class NotARecord(ValueError):
    """A folder that is no readable record; the message is one line that says why."""


class _Vanished(Exception):
    """A file of the step was removed after it was listed: list the step again."""


@dataclass(frozen=True)
class StepFiles:
    """One listing of a step's data files in every folder of a record (less those a
    compacted file replaced): what one read of the step reads.

    Attributes:
        step: the step.
        paths: its files.
        last_try: a file removed since the listing is left out (with one log line) rather
            than a reason to list the step again.
    """

    step: int
    paths: tuple[Path, ...]
    last_try: bool = False

    def read(self, columns: Sequence[str] | None = None, positions: bool = False) -> pa.Table:
        """Every row's ``columns`` (all of :data:`RECORD_SCHEMA`'s by default), and with
        ``positions`` where it lies (:data:`FILE_POSITION`, :data:`ROW_POSITION`), for
        :meth:`rows_at`.

        Raises:
            ValueError: a column is not the record's.
        """
        schema = _selected(columns)
        file_columns = [name for name in schema.names if name != "step"]
        if positions:
            schema = schema.append(pa.field(FILE_POSITION, pa.int32()))
            schema = schema.append(pa.field(ROW_POSITION, pa.int64()))
        tables = []
        for number, path in enumerate(self.paths):
            try:
                table = _read_file(path, file_columns)
            except FileNotFoundError:
                self._gone(path)
                continue
            if table is None:
                continue
            table = _with_step(table, self.step, schema)
            if positions:
                rows = table.num_rows
                table = table.append_column(FILE_POSITION, pa.repeat(pa.scalar(number), rows))
                table = table.append_column(ROW_POSITION, pa.array(range(rows), pa.int64()))
            tables.append(table.cast(schema))
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def rows_at(
        self, positions: pa.Table, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The rows at ``positions`` (:meth:`read`'s position columns), in that order, with
        their ``columns`` (all by default): only the pages that hold them are decoded. A row
        whose file cannot be read any more is left out.

        Raises:
            ValueError: a column is not the record's.
        """
        schema = _selected(columns)
        file_columns = [name for name in schema.names if name != "step"]
        files = positions[FILE_POSITION].to_pylist()
        wanted = list(zip(files, positions[ROW_POSITION].to_pylist(), strict=True))
        found: dict[tuple[int, int], dict[str, Any]] = {}
        for number in sorted({file for file, _ in wanted}):
            rows = sorted({row for file, row in wanted if file == number})
            path = self.paths[number]
            try:
                table = _rows_of_file(path, rows, file_columns)
            except FileNotFoundError:
                self._gone(path)
                continue
            if table is not None:
                for row, values in zip(rows, table.to_pylist(), strict=True):
                    found[number, row] = values
        if "step" in schema.names:
            for values in found.values():
                values["step"] = self.step
        return [
            {name: values[name] for name in schema.names}
            for position in wanted
            if (values := found.get(position)) is not None
        ]

    def _gone(self, path: Path) -> None:
        """``path`` was removed once listed: list the step again, or, on the last try, go
        on without it (and say so).

        Raises:
            _Vanished: unless this is the last try.
        """
        if not self.last_try:
            raise _Vanished
        logger.warning(
            "record: step %d kept changing while it was read; %s, removed meanwhile, is left out",
            self.step,
            path,
        )


@dataclass(frozen=True)
class Record:
    """A record: the folders of one run (one per node, or one shared by every replica).

    Attributes:
        folders: the record's folders, each holding :data:`MARKER`.
    """

    folders: tuple[Path, ...]

    def steps(self) -> list[int]:
        """Every step any folder holds a file of, in order."""
        found: set[int] = set()
        for folder in self.folders:
            found.update(step for step, path in _step_folders(folder).items() if data_files(path))
        return sorted(found)

    def read_step(self, step: int, columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of ``step`` (all of :data:`RECORD_SCHEMA`'s columns, or ``columns``),
        from every folder; empty when no folder has it."""
        return self.read(step, lambda files: files.read(columns))

    def read(self, step: int, reading: Callable[[StepFiles], T]) -> T:
        """What ``reading`` makes of ``step``'s files, listed afresh and read again when
        one is removed meanwhile (up to :data:`READ_TRIES` times), so that it sees the
        whole step: ``reading`` reads them through :class:`StepFiles` only. The memory
        Arrow used for it is given back when it is done (a long-lived service reads many)."""
        try:
            for _ in range(READ_TRIES - 1):
                with contextlib.suppress(_Vanished):
                    return reading(self._listing(step, last_try=False))
            return reading(self._listing(step, last_try=True))
        finally:
            pa.default_memory_pool().release_unused()

    def _listing(self, step: int, last_try: bool) -> StepFiles:
        return StepFiles(step, tuple(_readable_files(self.folders, step, last_try)), last_try)

    def held(self, steps: Container[int] | None = None) -> list[int]:
        """The steps the record holds among ``steps`` (e.g. a ``range``; all by default)."""
        return [step for step in self.steps() if steps is None or step in steps]

    def iter_steps(
        self, steps: Container[int] | None = None, columns: Sequence[str] | None = None
    ) -> Iterator[tuple[int, pa.Table]]:
        """``(step, rows)`` for each of ``steps`` the record holds (all by default), one
        step in memory at a time."""
        for step in self.held(steps):
            yield step, self.read_step(step, columns)

    def item_count(self, steps: Container[int] | None = None) -> int:
        """How many rows ``steps`` hold (all by default), from the files' footers only."""
        return sum(
            _row_count(path)
            for step in self.held(steps)
            for path in _readable_files(self.folders, step)
        )


def open_record(folders: str | Path | Sequence[str | Path]) -> Record:
    """The record in ``folders`` (one path, or one per node, read together).

    Raises:
        NotARecord: a folder is missing, unreadable or not a record.
    """
    paths = [folders] if isinstance(folders, str | Path) else list(folders)
    if not paths:
        raise NotARecord("no record folder given")
    for path in map(Path, paths):
        _check_record(path)
    return Record(tuple(Path(path) for path in paths))


def _check_record(path: Path) -> None:
    if not path.exists():
        raise NotARecord(f"{path}: no such folder")
    if not path.is_dir():
        raise NotARecord(f"{path}: not a folder")
    try:
        step_folders(path)
    except OSError as exc:
        raise NotARecord(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not is_record(path):
        raise NotARecord(f"{path}: not a reward-service record (it has no {MARKER})")


def _step_folders(folder: Path) -> dict[int, Path]:
    try:
        return step_folders(folder)
    except OSError as exc:
        logger.warning("record: %s skipped, cannot be read (%s)", folder, exc)
        return {}


def _selected(columns: Sequence[str] | None) -> pa.Schema:
    if columns is None:
        return RECORD_SCHEMA
    unknown = set(columns) - set(RECORD_SCHEMA.names)
    if unknown:
        raise ValueError(f"no such record columns: {sorted(unknown)}")
    return pa.schema([RECORD_SCHEMA.field(name) for name in columns])


def _readable_files(folders: Iterable[Path], step: int, last_try: bool = True) -> list[Path]:
    """The data files of ``step`` in ``folders``, less those a compacted file replaced
    (left behind when its writer was killed before removing them).

    Raises:
        _Vanished: a file was removed once listed (unless ``last_try``: then it is left out).
    """
    files = [path for folder in folders for path in data_files(step_folder(folder, step))]
    replaced = set()
    for path in list(files):
        try:
            metadata = pq.read_schema(path).metadata
        except FileNotFoundError:
            if not last_try:
                raise _Vanished from None
            files.remove(path)
            continue
        except (OSError, pa.ArrowException):
            continue  # its reading says why
        replaced.update((path.parent, name) for name in compacted_from(metadata))
    return [path for path in files if (path.parent, path.name) not in replaced]


def _row_count(path: Path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException):
        return 0


def _read_file(path: Path, columns: list[str]) -> pa.Table | None:
    """The ``columns`` of one file, or None (with one log line) when it cannot be read.

    Raises:
        FileNotFoundError: it was removed (no reason to log: the caller lists again).
    """
    try:
        table = pq.ParquetFile(path).read(columns=columns).select(columns)
        return table.cast(pa.schema([FILE_SCHEMA.field(name) for name in columns]))
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
        logger.warning("record: %s skipped, cannot be read (%s)", path, exc)
        return None


def _rows_of_file(path: Path, rows: list[int], columns: list[str]) -> pa.Table | None:
    """The ``columns`` of the ``rows`` (ascending) of one file, decoding only the pages
    that hold them, or None (with one log line) when it cannot be read.

    Raises:
        FileNotFoundError: it was removed.
    """
    schema = pa.schema([FILE_SCHEMA.field(name) for name in columns])
    try:
        with pq.ParquetFile(path, buffer_size=STREAM_BUFFER_BYTES, pre_buffer=False) as source:
            chunks: list[pa.RecordBatch] = []
            start = 0
            for group in range(source.num_row_groups):
                count = source.metadata.row_group(group).num_rows
                inside = [row - start for row in rows if start <= row < start + count]
                if inside:
                    chunks.extend(_rows_of_group(source, group, inside, columns))
                start += count
        table = pa.Table.from_batches(chunks) if chunks else None
        return None if table is None else table.select(columns).cast(schema)
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
        logger.warning("record: %s skipped, cannot be read (%s)", path, exc)
        return None


def _rows_of_group(
    source: pq.ParquetFile, group: int, rows: list[int], columns: list[str]
) -> Iterator[pa.RecordBatch]:
    """The ``rows`` (ascending, counted from the group's first) of one row group, decoded
    :data:`STREAMED_ROWS` at a time up to the last of them."""
    offset = 0
    chunks = source.iter_batches(STREAMED_ROWS, [group], columns, use_threads=False)
    for chunk in chunks:
        chosen = [row - offset for row in rows if offset <= row < offset + chunk.num_rows]
        if chosen:
            yield chunk.take(chosen)
        offset += chunk.num_rows
        if offset > rows[-1]:
            return


def _with_step(table: pa.Table, step: int, schema: pa.Schema) -> pa.Table:
    if "step" not in schema.names:
        return table
    steps = pa.array([step] * table.num_rows, pa.int64())
    return table.add_column(schema.get_field_index("step"), schema.field("step"), steps)

"""Reading the record back, one step at a time, from one folder or several (one per node).

A step is read from its own files only, so a step of a long run costs what that step
holds. A file that cannot be read (torn, damaged) is skipped with one log line; the files
an interrupted compaction had already replaced are not read twice.

Plain Parquet readers see the same rows without this package::

    pyarrow.dataset.dataset(DIR, format="parquet", partitioning="hive")
    duckdb.sql("SELECT * FROM read_parquet('DIR/**/*.parquet', hive_partitioning=true)")
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

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


class NotARecord(ValueError):
    """A folder that is no readable record; the message is one line that says why."""


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
        schema = _selected(columns)
        file_columns = [name for name in schema.names if name != "step"]
        tables = [
            _with_step(table, step, schema)
            for path in _readable_files(self.folders, step)
            if (table := _read_file(path, file_columns)) is not None
        ]
        if not tables:
            return schema.empty_table()
        return pa.concat_tables(tables)

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


def _readable_files(folders: Iterable[Path], step: int) -> list[Path]:
    """The data files of ``step`` in ``folders``, less those a compacted file replaced
    (left behind when its writer was killed before removing them)."""
    files = [path for folder in folders for path in data_files(step_folder(folder, step))]
    replaced = set()
    for path in files:
        metadata = _footer_metadata(path)
        replaced.update((path.parent, name) for name in compacted_from(metadata))
    return [path for path in files if (path.parent, path.name) not in replaced]


def _footer_metadata(path: Path) -> dict[bytes, bytes] | None:
    try:
        return pq.read_schema(path).metadata
    except (OSError, pa.ArrowException):
        return None  # its reading says why


def _row_count(path: Path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException):
        return 0


def _read_file(path: Path, columns: list[str]) -> pa.Table | None:
    """The ``columns`` of one file, or None (with one log line) when it cannot be read."""
    try:
        table = pq.ParquetFile(path).read(columns=columns).select(columns)
        return table.cast(pa.schema([FILE_SCHEMA.field(name) for name in columns]))
    except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
        logger.warning("record: %s skipped, cannot be read (%s)", path, exc)
        return None


def _with_step(table: pa.Table, step: int, schema: pa.Schema) -> pa.Table:
    if "step" not in schema.names:
        return table
    steps = pa.array([step] * table.num_rows, pa.int64())
    return table.add_column(schema.get_field_index("step"), schema.field("step"), steps)

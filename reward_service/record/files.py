"""The record on disk: a hive-partitioned Parquet dataset, one folder per step.

    DIR/
      _reward_record.json                        marks DIR as a record (format version)
      step=412/
        <replica>.<session>.<n>.parquet          one flush of one writer (zstd)
        .<replica>.<session>.<n>.parquet.tmp     being written: no reader looks at it

A file appears whole or not at all: it is written under a dot name, synced and renamed.
Parquet readers skip names that start with ``.`` or ``_`` (pyarrow.dataset) or do not end
in ``.parquet`` (DuckDB's ``**/*.parquet``). A writer compacts its flushes of a finished
step into one file whose footer names the files it replaced (:data:`COMPACTED_FROM`), so a
kill between writing it and removing them leaves the duplicates recognisable.
The record holds model outputs: the folders it makes are 0o700, its files 0o600.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

MARKER = "_reward_record.json"
FORMAT_VERSION = 1
COMPACTED_FROM = b"reward_service.compacted_from"
"""Footer key of a compacted file: the JSON list of the file names it replaced."""
STEP_PREFIX = "step="
_STEP_NAME = re.compile(r"step=(\d{1,13})")


def step_folder(root: Path, step: int) -> Path:
    """The folder of ``step`` in the record at ``root``."""
    return root / f"{STEP_PREFIX}{step}"


def step_folders(root: Path) -> dict[int, Path]:
    """The step folders in ``root``, by step.

    Raises:
        OSError: ``root`` cannot be listed.
    """
    folders = {}
    with os.scandir(root) as entries:
        for entry in entries:
            match = _STEP_NAME.fullmatch(entry.name)
            if match and entry.is_dir():
                folders[int(match.group(1))] = Path(entry.path)
    return folders


def data_files(folder: Path) -> list[Path]:
    """The Parquet files a reader reads in a step folder (none when it is gone), by name."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [folder / name for name in sorted(names) if is_data_file(name)]


def is_data_file(name: str) -> bool:
    """Whether a reader reads a file of this name."""
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def safe_replica(replica_id: str) -> str:
    """``replica_id`` as the first part of a file name: letters, digits, ``-`` and ``_``,
    never a leading ``_`` (readers would skip the file)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", replica_id).lstrip("_")
    return name[:64] or "replica"


def data_file_name(replica: str, session: str, number: int) -> str:
    """The name of a writer's ``number``-th file (``replica`` as :func:`safe_replica` made it)."""
    return f"{replica}.{session}.{number:06d}.parquet"


def owned_by(name: str, replica: str) -> bool:
    """Whether a data file of this name was written by ``replica`` (any of its sessions)."""
    return name.startswith(f"{replica}.")


def temp_name(name: str) -> str:
    """The name a file is written under before it is renamed to ``name``."""
    return f".{name}.tmp"


def make_private_folder(path: Path) -> None:
    """Make ``path`` (and its missing parents) as 0o700 folders, whatever the umask.

    Raises:
        OSError: it cannot be made.
    """
    if path.is_dir():
        return
    make_private_folder(path.parent)
    with contextlib.suppress(FileExistsError):  # another replica made it meanwhile
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)


def write_atomically(path: Path, write: Callable[[BinaryIO], None], fsync: bool) -> int:
    """Write a new file at ``path`` through ``write`` (0o600), all of it or nothing: under
    :func:`temp_name`, synced when ``fsync``, then renamed. Returns its size in bytes.

    Raises:
        OSError: it could not be written (nothing is left behind).
    """
    temp = path.with_name(temp_name(path.name))
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with open(descriptor, "wb", closefd=False) as sink:
            write(sink)
        if fsync:
            os.fsync(descriptor)
        size = os.fstat(descriptor).st_size
    except BaseException:
        os.close(descriptor)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(descriptor)
    os.rename(temp, path)
    return size


def mark_record(root: Path) -> None:
    """Make ``root`` a record: the folder (0o700 when made here) and its marker file.

    Raises:
        OSError: either cannot be written.
    """
    make_private_folder(root)
    marker = root / MARKER
    if not marker.exists():
        content = json.dumps({"format": FORMAT_VERSION, "what": "reward-service record"})
        write_atomically(marker, lambda sink: sink.write(content.encode()), fsync=False)


def is_record(root: Path) -> bool:
    """Whether ``root`` holds a record's marker."""
    return (root / MARKER).is_file()


def compacted_from(metadata: dict[bytes, bytes] | None) -> list[str]:
    """The file names a compacted file replaced, from its footer's key-value metadata."""
    if not metadata or COMPACTED_FROM not in metadata:
        return []
    names = json.loads(metadata[COMPACTED_FROM])
    return [name for name in names if isinstance(name, str)]


def replaced_files(path: Path) -> list[str]:
    """The file names the data file at ``path`` replaced (none unless it is compacted).

    Raises:
        OSError, pyarrow.ArrowException: its footer cannot be read.
    """
    return compacted_from(pq.read_schema(path).metadata)

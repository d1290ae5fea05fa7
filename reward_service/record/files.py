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

The record never writes among nor removes what it did not write: a folder of other files
is no record (:func:`mark_record` refuses it), only the record's own files of a step are
removed (:func:`remove_step`), and a ``step=N`` that is a symbolic link, or anything but a
folder, is no part of the record: nothing is read, written or removed through it
(:class:`StepFolder`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

from reward_service.settings import RECORD_MARKER, record_folder_problem

MARKER = RECORD_MARKER
FORMAT_VERSION = 1
COMPACTED_FROM = b"reward_service.compacted_from"
"""Footer key of a compacted file: the JSON list of the file names it replaced."""
STEP_PREFIX = "step="
_STEP_NAME = re.compile(r"step=(\d{1,13})")
_SESSION_BYTES = 6
_WRITTEN_NAME = re.compile(
    rf"[A-Za-z0-9-][A-Za-z0-9_-]{{0,63}}\.[0-9a-f]{{{2 * _SESSION_BYTES}}}\.[0-9]{{6,}}\.parquet"
)
"""The name of a data file a writer of the record wrote (:func:`data_file_name`)."""
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class ForeignFolder(OSError):
    """A folder of other files (no record's marker): the record never writes among them."""


class NotAStepFolder(OSError):
    """A ``step=N`` that is a symbolic link or a file: no part of the record."""


def step_folder(root: Path, step: int) -> Path:
    """The folder of ``step`` in the record at ``root``."""
    return root / f"{STEP_PREFIX}{step}"


def step_folders(root: Path) -> dict[int, Path]:
    """The step folders in ``root``, by step: folders only, never a symbolic link.

    Raises:
        OSError: ``root`` cannot be listed.
    """
    folders = {}
    with os.scandir(root) as entries:
        for entry in entries:
            match = _STEP_NAME.fullmatch(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                folders[int(match.group(1))] = Path(entry.path)
    return folders


def data_files(folder: Path) -> list[Path]:
    """The Parquet files a reader reads in a step folder (none when it is gone, or is a
    symbolic link), by name."""
    if folder.is_symlink():
        return []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
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


def new_session() -> str:
    """A writer's session: it tells its files from those of the replica's earlier writers."""
    return secrets.token_hex(_SESSION_BYTES)


def data_file_name(replica: str, session: str, number: int) -> str:
    """The name of a writer's ``number``-th file (``replica`` as :func:`safe_replica` made it,
    ``session`` as :func:`new_session` did)."""
    return f"{replica}.{session}.{number:06d}.parquet"


def written_by_record(name: str) -> bool:
    """Whether a file of this name in a step folder is one the record's writers write: a
    data file (:func:`data_file_name`) or one being written (:func:`temp_name`)."""
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:-4]
    return _WRITTEN_NAME.fullmatch(name) is not None


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


def make_private(root: Path) -> None:
    """Make the record's folder 0o700 (it holds model outputs) when others may enter it.

    Raises:
        OSError: its mode cannot be changed (another user's folder, a read-only disk).
    """
    if stat.S_IMODE(os.stat(root).st_mode) & 0o077:
        os.chmod(root, 0o700)


def mark_record(root: Path) -> None:
    """Make ``root`` a record: the folder (0o700 when made here) and its marker file.

    Raises:
        ForeignFolder: ``root`` holds other files and no marker: it is not marked.
        OSError: either cannot be written.
    """
    make_private_folder(root)
    if is_record(root):
        return
    problem = record_folder_problem(root)
    if problem is not None:
        raise ForeignFolder(problem)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:  # claimed before any other file: a replica beside sees an empty folder or a record
        descriptor = os.open(root / MARKER, flags, 0o600)
    except FileExistsError:  # another replica marked it meanwhile
        return
    content = json.dumps({"format": FORMAT_VERSION, "what": "reward-service record"})
    with open(descriptor, "wb") as sink:
        os.fchmod(descriptor, 0o600)
        sink.write(content.encode())


class StepFolder:
    """The folder of one step, opened so that nothing is read, written or removed through a
    symbolic link (or anything but a folder) in its place: files are named relative to it.

    Args:
        root: the record's folder.
        step: the step.
        create: make the folder (0o700) when it is missing.

    Raises:
        NotAStepFolder: ``step=N`` is a symbolic link or a file.
        FileNotFoundError: it is missing (and not ``create``).
        OSError: it cannot be made or opened.
    """

    def __init__(self, root: Path, step: int, create: bool = False) -> None:
        self.path = step_folder(root, step)
        parent = os.open(root, _FOLDER_FLAGS)
        try:
            made = False
            if create:
                with contextlib.suppress(FileExistsError):  # or another replica made it
                    os.mkdir(self.path.name, 0o700, dir_fd=parent)
                    made = True
            try:
                self._fd = os.open(self.path.name, _FOLDER_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotAStepFolder(
                        f"{self.path} is a symbolic link or a file, no folder of the record: "
                        "nothing is written there"
                    ) from None
                raise
        finally:
            os.close(parent)
        if made:
            os.fchmod(self._fd, 0o700)  # whatever the umask

    def names(self) -> list[str]:
        """The names in the folder, sorted."""
        return sorted(os.listdir(self._fd))

    def is_file(self, name: str) -> bool:
        """Whether ``name`` is a regular file (not a link, not a folder)."""
        try:
            return stat.S_ISREG(os.stat(name, dir_fd=self._fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return False

    def size(self, name: str) -> int:
        """The size of file ``name`` in bytes (0 when it is gone)."""
        try:
            return os.stat(name, dir_fd=self._fd, follow_symlinks=False).st_size
        except FileNotFoundError:
            return 0

    def open(self, name: str) -> BinaryIO:
        """File ``name``, opened for reading (never through a link).

        Raises:
            OSError: it cannot be opened.
        """

        def opener(path: str, flags: int) -> int:
            return os.open(path, flags | os.O_NOFOLLOW, dir_fd=self._fd)

        return open(name, "rb", opener=opener)

    def write(self, name: str, write: Callable[[BinaryIO], None], fsync: bool) -> int:
        """Write a new file ``name`` through ``write`` (0o600), all of it or nothing: under
        :func:`temp_name`, synced when ``fsync``, then renamed. Returns its size in bytes.

        Raises:
            OSError: it could not be written (nothing is left behind).
        """
        temp = temp_name(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(temp, flags, 0o600, dir_fd=self._fd)
        try:
            os.fchmod(descriptor, 0o600)
            with open(descriptor, "wb", closefd=False) as sink:
                write(sink)
            if fsync:
                os.fsync(descriptor)
            size = os.fstat(descriptor).st_size
            os.rename(temp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            self.remove(temp)
            raise
        finally:
            os.close(descriptor)
        return size

    def remove(self, name: str) -> None:
        """Remove ``name`` (a link itself, never what it points to); gone already is fine.

        Raises:
            OSError: it cannot be removed.
        """
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self._fd)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> StepFolder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def record_bytes(root: Path) -> dict[int, int]:
    """The steps in ``root`` that hold the record's data files, with their files' bytes.

    Raises:
        OSError: ``root`` cannot be listed.
    """
    held = {}
    for step in step_folders(root):
        with contextlib.suppress(OSError), StepFolder(root, step) as folder:
            names = [name for name in folder.names() if written_by_record(name)]
            if any(is_data_file(name) for name in names):
                held[step] = sum(folder.size(name) for name in names)
    return held


def remove_step(root: Path, step: int) -> list[str]:
    """Remove the record's own files of ``step`` (every writer's data and temporary files),
    then its folder once that left it empty. Returns the names of the other files it holds,
    left where they are (with the folder).

    Raises:
        OSError: a file or the folder cannot be removed.
    """
    with StepFolder(root, step) as folder:
        for name in folder.names():
            if written_by_record(name) and folder.is_file(name):
                folder.remove(name)
        left = folder.names()
    if not left:
        try:
            os.rmdir(step_folder(root, step))  # never through a link: rmdir does not follow
        except OSError as exc:  # gone already, or a writer wrote there meanwhile
            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
                raise
    return [name for name in left if not written_by_record(name)]


def is_record(root: Path) -> bool:
    """Whether ``root`` holds a record's marker."""
    return (root / MARKER).is_file()


def compacted_from(metadata: dict[bytes, bytes] | None) -> list[str]:
    """The file names a compacted file replaced, from its footer's key-value metadata."""
    if not metadata or COMPACTED_FROM not in metadata:
        return []
    names = json.loads(metadata[COMPACTED_FROM])
    return [name for name in names if isinstance(name, str)]


def replaced_files(source: Path | BinaryIO) -> list[str]:
    """The file names the data file ``source`` replaced (none unless it is compacted).

    Raises:
        OSError, pyarrow.ArrowException: its footer cannot be read.
    """
    return compacted_from(pq.read_schema(source).metadata)

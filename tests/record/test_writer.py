"""The record writer: on disk within a second, compacted, bounded, never failing its caller."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reward_service.record import RecordWriter, open_record
from reward_service.record.files import data_files, is_record, step_folder
from tests.record.helpers import batch, fill, remount, wait_until

REPO = Path(__file__).parents[2]
QUICK = {"flush_interval_s": 0.05}
"""For tests whose subject is not the flush interval."""


def rows_on_disk(root: Path) -> int:
    """The rows a reader finds in ``root`` (0 before the writer has marked it)."""
    return open_record(root).item_count() if is_record(root) else 0


def steps_on_disk(root: Path) -> list[int]:
    """The steps a reader finds in ``root`` (none before the writer has marked it)."""
    return open_record(root).steps() if is_record(root) else []


def written(writer: RecordWriter, rows: int) -> bool:
    return writer.status.rows_written == rows


def files_of(root: Path, step: int) -> list[str]:
    return [path.name for path in data_files(step_folder(root, step))]


def test_an_answered_batch_is_on_disk_within_a_second(tmp_path: Path) -> None:
    with RecordWriter(tmp_path, "r") as writer:
        record_seen = time.monotonic()
        writer.append(7, batch(64))
        wait_until(lambda: rows_on_disk(tmp_path) == 64, timeout_s=5)
        assert time.monotonic() - record_seen < 1.5
        assert open_record(tmp_path).steps() == [7]


def test_append_leaves_the_work_to_the_writer_thread(tmp_path: Path) -> None:
    """A batch that cannot be turned into rows costs its rows, on the writer's thread."""

    class Unreadable:
        ground_truth, data_source, group, response_tokens, truncated = "12.8", None, None, 1, None

        @property
        def response(self) -> str:
            raise RuntimeError("read on the writer's thread, never the caller's")

    broken = dataclasses.replace(batch(3), items=[Unreadable()] * 3)
    lost: list[int] = []
    with RecordWriter(tmp_path, "r", on_lost=lost.append) as writer:
        writer.append(0, broken)
        writer.append(0, batch(5))
        wait_until(lambda: writer.status.rows_lost == 3 and written(writer, 5))
    assert lost == [3]


def test_a_full_queue_loses_new_batches_and_counts_them(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path, "r", max_pending_rows=25, flush_interval_s=3600)
    writer.append(0, batch(10))
    writer.append(0, batch(10, seed=1))
    writer.append(0, batch(10, seed=2))
    assert (writer.status.rows_pending, writer.status.rows_lost) == (20, 10)
    writer.close()
    writer.append(0, batch(4))  # after close: counted, never raised
    assert (writer.status.rows_written, writer.status.rows_lost) == (20, 14)


def test_a_finished_step_ends_in_one_file_per_replica(tmp_path: Path) -> None:
    writers = [RecordWriter(tmp_path, name, compact_after_s=0.2, **QUICK) for name in ("a", "b")]
    for flush in range(3):  # three flushes each: three files each
        for writer in writers:
            writer.append(0, batch(4, seed=flush))
            wait_until(lambda writer=writer, rows=4 * (flush + 1): written(writer, rows))
    assert len(files_of(tmp_path, 0)) == 6
    for writer in writers:
        writer.append(1, batch(4, seed=9))
    names = wait_until(lambda: len(files_of(tmp_path, 0)) == 2 and files_of(tmp_path, 0))
    assert sorted(name.split(".")[0] for name in names) == ["a", "b"]
    assert open_record(tmp_path).read_step(0).num_rows == 24
    for writer in writers:
        writer.close()
    assert len(files_of(tmp_path, 1)) == 2  # close compacts the last step too


def test_retention_keeps_the_newest_steps(tmp_path: Path) -> None:
    with RecordWriter(tmp_path, "r", max_steps=3, compact_after_s=0, **QUICK) as writer:
        for step in range(6):
            writer.append(step, batch(4, seed=step))
            wait_until(lambda step=step: written(writer, 4 * (step + 1)))
    assert open_record(tmp_path).steps() == [3, 4, 5]


def step_bytes(root: Path, step: int) -> int:
    return sum(path.stat().st_size for path in data_files(step_folder(root, step)))


def test_retention_by_bytes_drops_the_oldest_steps(tmp_path: Path) -> None:
    reference, record = tmp_path / "reference", tmp_path / "record"
    for root, max_bytes in ((reference, None), (record, 0)):
        if max_bytes == 0:  # room for two and a half steps of the reference
            max_bytes = int(2.5 * max(step_bytes(reference, step) for step in range(5)))
        with RecordWriter(root, "r", max_bytes=max_bytes, compact_after_s=0, **QUICK) as writer:
            for step in range(5):  # the same rows every step: steps of one size
                writer.append(step, batch(32))
                wait_until(lambda step=step: written(writer, 32 * (step + 1)))
    assert open_record(record).steps() == [3, 4]
    assert step_bytes(record, 3) + step_bytes(record, 4) <= max_bytes


def test_files_and_folders_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        with RecordWriter(tmp_path / "record", "r") as writer:
            writer.append(0, batch(4))
    finally:
        os.umask(previous)
    root = tmp_path / "record"
    folders = [root, step_folder(root, 0)]
    assert {stat.S_IMODE(path.stat().st_mode) for path in folders} == {0o700}
    files = [root / "_reward_record.json", *data_files(step_folder(root, 0))]
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}


def test_a_compaction_cut_short_is_finished_and_never_read_twice(tmp_path: Path) -> None:
    """A kill between writing the compacted file and removing its sources leaves both;
    readers count each row once and the replica's next writer removes the sources."""
    writer = RecordWriter(tmp_path, "r", compact_after_s=3600, **QUICK)
    writer.append(0, batch(8))
    wait_until(lambda: written(writer, 8))
    writer.append(0, batch(8, seed=1))
    wait_until(lambda: written(writer, 16))
    aside = tmp_path.parent / f"{tmp_path.name}-aside"
    shutil.copytree(step_folder(tmp_path, 0), aside)
    writer.close()
    for source in aside.iterdir():
        shutil.copy2(source, step_folder(tmp_path, 0))
    assert len(files_of(tmp_path, 0)) == 3
    assert open_record(tmp_path).read_step(0).num_rows == 16
    RecordWriter(tmp_path, "r").close()
    assert len(files_of(tmp_path, 0)) == 1
    assert open_record(tmp_path).read_step(0).num_rows == 16


KILLED_WRITER = """
import sys, time
from reward_service.record import RecordWriter
from tests.record.helpers import batch
writer = RecordWriter(sys.argv[1], "killed", compact_after_s=0.3)
for number in range(100_000):
    writer.append(number // 20, batch(8, seed=number % 50))
    print(8 * (number + 1), time.time(), flush=True)
    time.sleep(0.01)
"""


def test_kill_9_loses_at_most_the_last_second(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:  # killed while it writes and compacts, after 3 s of appending (a step each 0.2 s)
        wait_until(lambda: len(steps_on_disk(tmp_path)) >= 15, timeout_s=60)
    finally:
        child.send_signal(signal.SIGKILL)
        killed_at = time.time()
        lines = child.communicate()[0].splitlines()
    appended = [(int(rows), float(at)) for rows, at in (line.split() for line in lines)]
    due = max((rows for rows, at in appended if at < killed_at - 1.5), default=0)
    assert due > 0
    with caplog.at_level(logging.WARNING, "reward_service.record"):
        on_disk = open_record(tmp_path).item_count()
        RecordWriter(tmp_path, "killed").close()  # its next start tidies up what it left
        record = open_record(tmp_path)
        assert sum(table.num_rows for _, table in record.iter_steps()) == on_disk
    assert due <= on_disk <= appended[-1][0]
    assert caplog.messages == []
    assert all(len(files_of(tmp_path, step)) == 1 for step in record.steps())


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [message for message in caplog.messages if text in message]


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_an_unwritable_disk_costs_rows_never_a_request(
    small_disk: Path, trouble: str, caplog: pytest.LogCaptureFixture
) -> None:
    lost: list[int] = []
    root = small_disk / "record"
    with caplog.at_level(logging.WARNING, "reward_service.record"):
        with RecordWriter(root, "r", on_lost=lost.append, **QUICK) as writer:
            writer.append(0, batch(8))
            wait_until(lambda: written(writer, 8))
            ballast = fill(small_disk) if trouble == "full" else remount(small_disk, "ro")
            for seed in range(1, 4):
                writer.append(1, batch(16, seed=seed))  # returns: scoring goes on
                wait_until(lambda seed=seed: writer.status.rows_lost == 16 * seed)
            reason = "No space left" if trouble == "full" else "Read-only file system"
            assert reason in (writer.status.failing or "")
            assert len(warnings(caplog, "cannot write")) == 1
            if ballast:
                ballast.unlink()
            else:
                remount(small_disk, "rw")
            writer.append(2, batch(8, seed=9))
            wait_until(lambda: written(writer, 16))
            assert writer.status.failing is None
        assert len(warnings(caplog, "writing to")) == 1  # and once that it writes again
    assert sum(lost) == 48
    assert open_record(root).steps() == [0, 2]


def tree(root: Path) -> dict[str, str | None]:
    """Every path under ``root``, with its text (None for a folder or a link)."""
    return {
        str(path.relative_to(root)): path.read_text()
        if path.is_file() and not path.is_symlink()
        else None
        for path in sorted(root.rglob("*"))
    }


def test_a_folder_of_other_files_is_never_written_among(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not even marked: its rows are lost (counted, said once), its files kept."""
    root = tmp_path / "foreign"
    for step in (1, 2):
        (root / f"step={step}").mkdir(parents=True)
    (root / "step=1" / "data.csv").write_text("precious\n")
    (root / "notes.txt").write_text("mine\n")
    before = tree(root)
    lost: list[int] = []
    with (
        caplog.at_level(logging.WARNING, "reward_service.record"),
        RecordWriter(root, "r", max_steps=1, on_lost=lost.append, **QUICK) as writer,
    ):
        for step in (5, 6, 7):
            writer.append(step, batch(4, seed=step))
            wait_until(lambda step=step: writer.status.rows_lost == 4 * (step - 4))
        assert "is no record" in (writer.status.failing or "")
    assert tree(root) == before
    assert sum(lost) == 12
    assert len(warnings(caplog, "is no record")) == 1


def test_retention_removes_only_what_the_record_wrote(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The record's files of a step go, and its folder once empty; a file someone else put
    there stays, with its folder, and the log says so."""
    root = tmp_path / "record"
    with RecordWriter(root, "r", **QUICK) as writer:
        for step in (1, 2):
            writer.append(step, batch(4, seed=step))
            wait_until(lambda step=step: written(writer, 4 * step))
    (root / "step=1" / "notes.txt").write_text("mine\n")
    (root / "notes.txt").write_text("mine too\n")
    with (
        caplog.at_level(logging.INFO, "reward_service.record"),
        RecordWriter(root, "r", max_steps=1, compact_after_s=0, **QUICK) as writer,
    ):
        writer.append(3, batch(4, seed=3))
        wait_until(lambda: written(writer, 4))
    assert open_record(root).steps() == [3]
    assert sorted(os.listdir(root)) == ["_reward_record.json", "notes.txt", "step=1", "step=3"]
    assert os.listdir(root / "step=1") == ["notes.txt"]
    assert (root / "step=1" / "notes.txt").read_text() == "mine\n"
    assert warnings(caplog, "(retention)") == [
        "record: removed steps 1-2 (retention)",
        f"record: {root / 'step=1'} keeps its folder (retention): it holds files the record "
        "did not write (notes.txt)",
    ]


def test_a_step_folder_that_is_a_symbolic_link_is_never_written_through_nor_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, elsewhere = tmp_path / "record", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("mine\n")
    with RecordWriter(root, "r", **QUICK) as writer:
        writer.append(1, batch(4))
        wait_until(lambda: written(writer, 4))
    (root / "step=5").symlink_to(elsewhere)
    lost: list[int] = []
    options = {"max_steps": 1, "compact_after_s": 0, "on_lost": lost.append, **QUICK}
    with (
        caplog.at_level(logging.INFO, "reward_service.record"),
        RecordWriter(root, "r", **options) as writer,
    ):
        for seed in (5, 6):
            writer.append(5, batch(4, seed=seed))
            wait_until(lambda seed=seed: writer.status.rows_lost == 4 * (seed - 4))
        writer.append(7, batch(4, seed=7))
        wait_until(lambda: written(writer, 4))
    assert tree(elsewhere) == {"precious.txt": "mine\n"}
    assert (root / "step=5").is_symlink()
    assert open_record(root).steps() == [7]
    assert sum(lost) == 8
    assert len(warnings(caplog, "step=5")) == 1
    assert "symbolic link" in warnings(caplog, "step=5")[0]
    assert warnings(caplog, "(retention)") == ["record: removed step 1 (retention)"]


@pytest.mark.parametrize("kind", ["empty", "record"])
def test_a_record_folder_that_exists_is_made_private(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "record"
    if kind == "record":
        with RecordWriter(root, "r") as writer:
            writer.append(0, batch(4))
    root.mkdir(exist_ok=True)
    root.chmod(0o777)
    with RecordWriter(root, "r"):  # at once: before the service serves, or writes anything
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        assert is_record(root)


def test_a_file_put_beside_at_start_up_does_not_make_the_record_a_foreign_folder(
    tmp_path: Path,
) -> None:
    """The service may keep its statistics file in the record's folder, and opens it
    right after the writer: the folder is a record by then."""
    root = tmp_path / "record"
    with RecordWriter(root, "r", **QUICK) as writer:
        (root / "stats.jsonl").write_text("")
        writer.append(0, batch(4))
        wait_until(lambda: written(writer, 4))
    assert writer.status.rows_lost == 0

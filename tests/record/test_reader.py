"""Reading the record: step by step here, and with pyarrow, DuckDB, pandas or polars alone."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from reward_service.record import RECORD_SCHEMA, NotARecord, RecordWriter, open_record
from reward_service.record.files import data_files, step_folder
from tests.record.helpers import batch, wait_until

STEPS = {3: [batch(40, seed=1), batch(24, seed=2)], 4: [batch(32, seed=3)]}


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Steps 3 (two batches) and 4 (one), written by one writer and closed."""
    root = tmp_path_factory.mktemp("record")
    with RecordWriter(root, "replica-0") as writer:
        for step, batches in STEPS.items():
            for scored in batches:
                writer.append(step, scored)
    return root


def rows_of(step: int) -> list[tuple[str, str | None, int]]:
    return [
        (item.response, result.verdict, result.verify)
        for scored in STEPS[step]
        for item, result in zip(scored.items, scored.results, strict=True)
    ]


def test_pyarrow_alone_reads_the_whole_record(record: Path) -> None:
    table = ds.dataset(record, format="parquet", partitioning="hive").to_table()
    assert set(table.column_names) == set(RECORD_SCHEMA.names)
    assert sorted(set(table.column("step").to_pylist())) == [3, 4]
    assert table.num_rows == sum(len(rows_of(step)) for step in STEPS)


def test_a_user_asks_duckdb_how_often_a_wrong_answer_was_called_correct(record: Path) -> None:
    [(share,)] = duckdb.sql(
        f"""
        SELECT avg(CASE WHEN verdict = 'correct' AND verify = 0 THEN 1 ELSE 0 END)
        FROM read_parquet('{record}/**/*.parquet', hive_partitioning = true)
        WHERE step = 3
        """
    ).fetchall()
    rows = rows_of(3)
    expected = sum(verdict == "correct" and verify == 0 for _, verdict, verify in rows)
    assert share == pytest.approx(expected / len(rows))


def test_steps_are_read_one_at_a_time_in_the_order_written(record: Path) -> None:
    steps = list(open_record(record).iter_steps(columns=["step", "response", "verdict"]))
    assert [step for step, _ in steps] == [3, 4]
    for step, table in steps:
        assert set(table.column("step").to_pylist()) == {step}
        assert [(row["response"], row["verdict"]) for row in table.to_pylist()] == [
            (response, verdict) for response, verdict, _ in rows_of(step)
        ]


def test_a_step_is_read_from_its_own_files_only(
    record: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "record"
    shutil.copytree(record, copy)
    for path in data_files(step_folder(copy, 3)):
        path.write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING, "reward_service.record"):
        assert open_record(copy).read_step(4).num_rows == len(rows_of(4))
    assert caplog.messages == []


def test_a_torn_file_is_skipped_with_one_log_line(
    record: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "record"
    shutil.copytree(record, copy)
    whole = data_files(step_folder(copy, 4))[0]
    torn = whole.with_name("torn.parquet")
    torn.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    (whole.parent / "garbage.parquet").write_bytes(b"PAR1" + b"\x00" * 100)
    with caplog.at_level(logging.WARNING, "reward_service.record"):
        assert open_record(copy).read_step(4).num_rows == len(rows_of(4))
    assert len(caplog.messages) == 2
    assert "torn.parquet" in caplog.messages[0] or "torn.parquet" in caplog.messages[1]
    assert all("skipped" in message for message in caplog.messages)


def test_node_folders_are_read_as_one_run(tmp_path: Path) -> None:
    nodes = [tmp_path / "node-a", tmp_path / "node-b"]
    for number, node in enumerate(nodes):
        with RecordWriter(node, f"replica-{number}") as writer:
            writer.append(0, batch(5, seed=number))
            writer.append(number + 1, batch(3, seed=number))
    record = open_record(nodes)
    assert record.steps() == [0, 1, 2]
    assert record.read_step(0).num_rows == 10
    assert set(record.read_step(0).column("replica").to_pylist()) == {"replica-0", "replica-1"}
    assert record.item_count() == 16


def test_a_step_the_record_lacks_is_empty(record: Path) -> None:
    table = open_record(record).read_step(99)
    assert table.num_rows == 0
    assert table.schema == RECORD_SCHEMA


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda path: None, "no such folder"),
        (lambda path: path.write_text("a file"), "not a folder"),
        (lambda path: (path / "step=1").mkdir(parents=True), "not a reward-service record"),
    ],
)
def test_what_is_not_a_record_is_one_line(
    tmp_path: Path, make: Callable[[Path], object], says: str
) -> None:
    path = tmp_path / "elsewhere"
    make(path)
    with pytest.raises(NotARecord) as raised:
        open_record(path)
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_record_documents_its_columns(record: Path) -> None:
    """Every column says what it holds, in the files themselves."""
    schema = ds.dataset(record, format="parquet", partitioning="hive").schema
    file_fields = [field for field in schema if field.name != "step"]
    assert all(b"doc" in (field.metadata or {}) for field in file_fields)
    assert schema.field("weights").type == pa.struct(
        [("alpha", pa.float64()), ("beta", pa.float64()), ("gamma", pa.float64())]
    )


FLUSHES, FLUSH_ROWS = 20, 10


def test_a_step_read_while_it_is_compacted_is_read_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Readers racing the writer's compaction of a step (its flushes merged into one file,
    then removed) see all of it every time, three compactions over, and log nothing."""
    seen: list[int] = []
    stop = threading.Event()

    def keep_reading(step: int) -> None:
        record = open_record(tmp_path)
        while not stop.is_set():
            seen.append(record.read_step(step).num_rows)

    options = {"compact_after_s": 0, "flush_interval_s": 0.02}
    with (
        caplog.at_level(logging.WARNING, "reward_service.record"),
        RecordWriter(tmp_path, "r", **options) as writer,
    ):
        for step in (0, 2, 4):
            for flush in range(FLUSHES):
                writer.append(step, batch(FLUSH_ROWS, seed=flush))
                wait_until(lambda: writer.status.rows_pending == 0)
            assert len(data_files(step_folder(tmp_path, step))) == FLUSHES
            readers = [threading.Thread(target=keep_reading, args=(step,)) for _ in range(3)]
            for reader in readers:
                reader.start()
            reads = len(seen)
            wait_until(lambda reads=reads: len(seen) > reads + 3)
            writer.append(step + 1, batch(1))  # step is over: the writer compacts it
            wait_until(lambda step=step: len(data_files(step_folder(tmp_path, step))) == 1)
            reads = len(seen)
            wait_until(lambda reads=reads: len(seen) > reads + 3)
            stop.set()
            for reader in readers:
                reader.join()
            stop.clear()
            assert set(seen) == {FLUSHES * FLUSH_ROWS}, sorted(set(seen))
            seen.clear()
    assert caplog.messages == []


def test_rows_read_by_position_are_those_the_whole_read_gives(tmp_path: Path) -> None:
    """Across files (a step not yet compacted) and in any order asked for."""
    with RecordWriter(tmp_path, "r", compact_after_s=3600, flush_interval_s=0.02) as writer:
        for flush in range(3):
            writer.append(0, batch(40, seed=flush))
            wait_until(lambda: writer.status.rows_pending == 0)
        assert len(data_files(step_folder(tmp_path, 0))) == 3
        record = open_record(tmp_path)
        whole = record.read(0, lambda files: files.read(positions=True))
        chosen = whole.take([119, 0, 57, 41, 80, 3])
        rows = record.read(0, lambda files: files.rows_at(chosen))
    expected = chosen.drop_columns(["_file", "_row"]).to_pylist()
    assert rows == expected
    assert [row["response"] for row in rows] == [
        batch(40, seed=position // 40).items[position % 40].response
        for position in (119, 0, 57, 41, 80, 3)
    ]

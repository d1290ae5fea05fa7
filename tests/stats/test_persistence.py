"""Statistics survive restarts: read back from the file (and its checkpoint) at start-up."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import psutil
import pytest

from reward_service.bench.local_server import ServiceProcess
from reward_service.scoring import MultiSignalMathReward
from reward_service.stats import ScoredItem, StatsRecorder, read_jsonl
from reward_service.stats.answers import canonical
from reward_service.stats.checkpoint import checkpoint_path, write_checkpoint
from tests.conftest import make_response, stats_counts
from tests.stats.test_answers import SUMS

REWARD = MultiSignalMathReward()
ANSWERS = ["12.8", "13", "\\frac{64}{5}", "12"]


def _record(
    recorder: StatsRecorder,
    step: int | None,
    answers: list[str] = ANSWERS,
    now: float | None = None,
) -> None:
    responses = [make_response(answer) for answer in answers]
    items = [
        ScoredItem(response, "12.8", group=f"g{k % 2}") for k, response in enumerate(responses)
    ]
    results = [REWARD.score(response, "12.8") for response in responses]
    recorder.record(items, results, step, 2.0, now=now)


def _whole_file(path: Path, keep: int) -> list[dict]:
    """What a full read of the file gives for the last ``keep`` steps."""
    return [stats.to_dict() for stats in read_jsonl(path)[-keep:]]


# --- in process -------------------------------------------------------------------------------


def test_a_new_recorder_on_the_file_has_the_same_steps(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(max_steps=3, jsonl_path=path)
    for step in (1, 1, 2, 5, 4, 5, 7):  # late batches (4, then 5 again) merge into their step
        _record(first, step, ANSWERS[: step % 4 + 1])
    again = StatsRecorder(max_steps=3, jsonl_path=path)
    assert [s["step"] for s in again.step_counts()] == [4, 5, 7]
    assert again.step_counts() == first.step_counts() == _whole_file(path, 3)


def test_untagged_batches_are_numbered_after_the_reloaded_ones(tmp_path: Path) -> None:
    """The quiet-gap policy goes on from the file's last batch, its step and its time."""
    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(jsonl_path=path, untagged_gap_s=10)
    for step, now in ((None, 0.0), (None, 20.0), (40, 21.0), (12, 22.0)):
        _record(first, step, now=now)
    again = StatsRecorder(jsonl_path=path, untagged_gap_s=10)
    _record(again, None, now=25.0)  # 3 s after the file's last batch (step 12): joins it
    _record(again, None, now=40.0)  # after a quiet gap: one past the highest step, 40
    assert [(s["step"], s["batches"]) for s in again.step_counts()] == [
        (0, 1),
        (1, 1),
        (12, 2),
        (40, 1),
        (41, 1),
    ]
    last = StatsRecorder(jsonl_path=path, untagged_gap_s=10)
    _record(last, None, now=45.0)  # within the gap of the reloaded step 41
    assert [s["step"] for s in last.step_counts()] == [0, 1, 12, 40, 41]
    assert last.step_counts()[-1]["batches"] == 2


def test_the_checkpoint_and_the_lines_after_it_equal_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(max_steps=4, jsonl_path=path, checkpoint_every_s=0)
    for step in range(8):
        _record(first, step)  # every batch is checkpointed (interval 0)
    first.close()  # the last checkpoint written
    covered = orjson.loads(checkpoint_path(path).read_bytes().splitlines()[0])["covers"]
    assert covered == path.stat().st_size
    later = StatsRecorder(max_steps=4, jsonl_path=path, checkpoint_every_s=3600)
    far_later = time.time() + 3600  # the untagged batch comes after a quiet gap
    for step, now in ((6, None), (8, None), (None, far_later)):  # replayed at the next start
        _record(later, step, now=now)
    again = StatsRecorder(max_steps=4, jsonl_path=path)
    assert again.step_counts() == later.step_counts() == _whole_file(path, 4)
    assert [s["step"] for s in again.step_counts()] == [6, 7, 8, 9]


def test_a_checkpoint_is_written_off_the_request_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording never waits for a checkpoint (megabytes for a long run) to be written."""
    from reward_service.stats import persistence

    written = threading.Event()
    release = threading.Event()

    def slow_write(path: Path, covers: int, lines: list[bytes]) -> None:
        assert release.wait(timeout=60)
        written.set()

    monkeypatch.setattr(persistence, "write_checkpoint", slow_write)
    first = StatsRecorder(jsonl_path=tmp_path / "stats.jsonl", checkpoint_every_s=0)
    for step in range(3):
        _record(first, step)  # due every batch; the first write is still blocked
    assert not written.is_set()
    release.set()
    first.close()  # waits for it, then writes the last one
    assert written.is_set()


def test_the_checkpoint_is_used_not_the_whole_file(tmp_path: Path) -> None:
    """Lines before the checkpoint are not read again: garbling them changes nothing."""
    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(jsonl_path=path, checkpoint_every_s=0)
    for step in range(3):
        _record(first, step)
    first.close()
    size = path.stat().st_size
    with path.open("r+b") as file:  # the same length, but no longer statistics
        file.write(b"x" * (size - 200))
    assert StatsRecorder(jsonl_path=path).step_counts() == first.step_counts()


def test_a_checkpoint_of_another_file_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(jsonl_path=path, checkpoint_every_s=0)
    for step in range(3):
        _record(first, step)
    first.close()
    path.unlink()  # the file replaced by another run's, the checkpoint left behind
    other = StatsRecorder(jsonl_path=path, checkpoint_every_s=3600)
    _record(other, 9, ["1"])
    with caplog.at_level(logging.WARNING, "reward_service.stats"):
        again = StatsRecorder(jsonl_path=path)
    assert [s["step"] for s in again.step_counts()] == [9]
    assert "ignoring the checkpoint" in caplog.text


@pytest.mark.parametrize("checkpointed", [True, False], ids=["checkpoint", "file"])
def test_answer_keys_cut_without_a_digest_load_as_they_are(
    tmp_path: Path, checkpointed: bool
) -> None:
    """A file written before long answers' keys had a digest holds them cut (79 characters
    and an ellipsis); they load and are shown as they are, beside the keys of new batches."""
    path = tmp_path / "stats.jsonl"
    counts = StatsRecorder()
    _record(counts, 0, [SUMS[0]] * 4)
    (old,) = counts.step_counts()
    cut = SUMS[0][:79] + "…"
    old["wrong_answers"] = {cut: 4}
    path.write_bytes(orjson.dumps(old) + b"\n")
    if checkpointed:
        write_checkpoint(path, path.stat().st_size, [orjson.dumps(old)])
    recorder = StatsRecorder(jsonl_path=path)
    assert recorder.step_counts()[0]["wrong_answers"] == {cut: 4}
    _record(recorder, 1, [SUMS[0]] * 4)
    labels = {answer["key"] for answer in recorder.snapshot()["answers"]}
    assert labels == {cut, canonical(SUMS[0])}
    assert StatsRecorder(jsonl_path=path).step_counts() == recorder.step_counts()


def test_a_torn_last_line_is_skipped_named_and_sealed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(jsonl_path=path)
    _record(first, 1)
    _record(first, 2)
    with path.open("ab") as file:  # killed mid-write
        file.write(b'{"step": 3, "time": 17')
    with caplog.at_level(logging.WARNING, "reward_service.stats"):
        again = StatsRecorder(jsonl_path=path)
    assert "last line cut off mid-write" in caplog.text and '{"step": 3' in caplog.text
    assert again.step_counts() == first.step_counts()
    _record(again, 3)  # appended on a fresh line
    bad: list[str] = []
    assert [s.step for s in read_jsonl(path, bad.append)] == [1, 2, 3]
    assert len(bad) == 1 and f"{path}:3: skipped" in bad[0]


def test_a_whole_last_line_that_lost_its_newline_counts(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    _record(StatsRecorder(jsonl_path=path), 1)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    again = StatsRecorder(jsonl_path=path)
    _record(again, 2)
    assert [s["step"] for s in again.step_counts()] == [1, 2]
    assert [s.step for s in read_jsonl(path)] == [1, 2]


def test_reading_back_streams_the_file_in_chunks(tmp_path: Path, monkeypatch) -> None:
    """Lines that straddle read chunks are read whole."""
    from reward_service.stats import jsonl

    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(jsonl_path=path)
    for step in range(5):
        _record(first, step)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 97)
    assert StatsRecorder(jsonl_path=path).step_counts() == first.step_counts()


def test_a_long_file_without_checkpoint_is_read_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ready at once; scoring goes on meanwhile; in the end the steps equal the file's."""
    from reward_service.stats import jsonl, persistence

    path = tmp_path / "stats.jsonl"
    first = StatsRecorder(max_steps=5, jsonl_path=path, checkpoint_every_s=3600)
    for step in (0, 1, 2, 3, 4, 5, 6, 6, 7):
        _record(first, step)
    monkeypatch.setattr(persistence, "REPLAY_AT_START_BYTES", 0)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 64)  # slow enough to overlap with the batches
    again = StatsRecorder(max_steps=5, jsonl_path=path, checkpoint_every_s=0)
    far_later = time.time() + 3600  # the untagged batch comes after a quiet gap
    for step, now in ((7, None), (None, far_later), (2, None)):
        _record(
            again, step, now=now
        )  # numbered after the file's last batch, even before it is read
    assert again.wait_reloaded(timeout_s=60)
    assert [s["step"] for s in again.step_counts()] == [4, 5, 6, 7, 8]
    assert again.step_counts() == _whole_file(path, 5)
    _record(again, 8)  # checkpointed now that the file is read: a restart has it all
    again.close()
    assert StatsRecorder(max_steps=5, jsonl_path=path).step_counts() == _whole_file(path, 5)


# --- over HTTP, the server process killed -------------------------------------------------------


def _descendants(service: ServiceProcess) -> list[psutil.Process]:
    assert service.process is not None
    return psutil.Process(service.process.pid).children(recursive=True)


def _post(url: str, step: int | None, answers: list[str]) -> None:
    items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
    body = {"items": items} if step is None else {"items": items, "step": step}
    httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()


def test_kill_9_then_restart_on_the_same_file_shows_the_same_steps(tmp_path: Path) -> None:
    path = tmp_path / "stats" / "stats.jsonl"
    env = {
        "REWARD_SERVICE_WORKERS": "1",
        "REWARD_SERVICE_STATS_FILE": str(path),
        "REWARD_SERVICE_STATS_STEP_GAP_S": "0.001",  # each untagged request is a step of its own
    }
    service = ServiceProcess(env=env)
    leftovers: list[psutil.Process] = []
    try:
        service.start()
        for step, answers in ((1, ANSWERS), (1, ANSWERS[:2]), (2, ANSWERS[1:]), (None, ["13"])):
            _post(service.url, step, answers)
        before = stats_counts(service.url)
        leftovers = _descendants(service)
        assert service.stop(signal.SIGKILL) == -signal.SIGKILL
        service.start()
        after = stats_counts(service.url)
        assert after["steps"] == [1, 2, 3] and after["series"]["items"] == [6, 3, 1]
        assert after == before
        _post(service.url, None, ["12.8"])  # numbered after the reloaded steps
        assert stats_counts(service.url)["steps"] == [1, 2, 3, 4]
    finally:
        service.stop()
        for process in leftovers:  # the killed server's pool, if anything of it is left
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    assert "statistics: 3 steps (1 to 3) back from" in service.output


@pytest.fixture
def umask_0() -> Iterator[None]:
    """No umask: a file is as open as the code that creates it asks."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.usefixtures("umask_0")
def test_the_file_and_its_checkpoint_are_the_owners_alone(tmp_path: Path) -> None:
    """They hold answers and data sources (``/stats`` needs the token): 0600 when the
    service creates them, whatever the umask, and an existing one is tightened at start."""
    path = tmp_path / "stats.jsonl"
    env = {"REWARD_SERVICE_WORKERS": "1", "REWARD_SERVICE_STATS_FILE": str(path)}
    with ServiceProcess(env=env) as service:
        _post(service.url, 1, ANSWERS)
    assert (_mode(path), _mode(checkpoint_path(path))) == ("0o600", "0o600")
    for written in (path, checkpoint_path(path)):
        written.chmod(0o644)  # as an earlier version left them
    with ServiceProcess(env=env):
        assert (_mode(path), _mode(checkpoint_path(path))) == ("0o600", "0o600")

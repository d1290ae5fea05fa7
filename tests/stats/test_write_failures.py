"""The statistics file under failures: a full disk, a checkpoint that cannot be written, a
batch that cannot be serialised, a step number or token count past any run (refused at the
door)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import orjson
import pytest

from reward_service.api.schemas import MAX_RESPONSE_TOKENS, MAX_STEP
from reward_service.bench.local_server import ServiceProcess
from reward_service.scoring import MultiSignalMathReward
from reward_service.stats import ScoredItem, StatsRecorder, read_jsonl
from reward_service.stats.checkpoint import checkpoint_path
from tests.conftest import make_response
from tests.record.helpers import fill
from tests.service_process import metric

REWARD = MultiSignalMathReward()
HUGE = 2**63 - 1


def _record(recorder: StatsRecorder, step: int, tokens: int | None = None) -> None:
    responses = [make_response("12.8")] * 3
    items = [ScoredItem(r, "12.8", response_tokens=tokens) for r in responses]
    recorder.record(items, [REWARD.score(r, "12.8") for r in responses], step, 1.0)


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("step", MAX_STEP, 200),
        ("step", MAX_STEP + 1, 422),
        ("step", HUGE, 422),
        ("response_tokens", MAX_RESPONSE_TOKENS, 200),
        ("response_tokens", MAX_RESPONSE_TOKENS + 1, 422),
        ("response_tokens", HUGE, 422),
    ],
)
def test_steps_and_token_counts_are_bounded(
    client: httpx.Client, field: str, value: int, status: int
) -> None:
    item = {"response": make_response(), "ground_truth": "12.8"}
    body = {"items": [item], "step": 7}
    (body if field == "step" else item)[field] = value
    response = client.post("/score", json=body)
    assert response.status_code == status, response.text
    if status == 422:
        assert "less than or equal to" in response.text and field in response.text


def test_a_batch_that_cannot_be_serialised_costs_only_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Token sums past 64 bits (orjson's integers): that batch's line is lost, logged in one
    line; later batches, checkpoints and the clean stop go on."""
    path = tmp_path / "stats.jsonl"
    failures: list[int] = []
    recorder = StatsRecorder(
        jsonl_path=path, checkpoint_every_s=0, on_write_failure=lambda: failures.append(1)
    )
    _record(recorder, 1, tokens=10)
    with caplog.at_level(logging.ERROR, logger="reward_service"):
        _record(recorder, 2, tokens=HUGE)  # three of them: the sum overflows
        _record(recorder, 3, tokens=10)
        _record(recorder, 4, tokens=10)
        recorder.close()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert all(record.exc_info is None for record in errors)  # one line each, no traceback
    assert any("step 2 cannot be written" in record.getMessage() for record in errors)
    assert failures
    assert [batch.step for batch in read_jsonl(path)] == [1, 3, 4]
    assert [step["step"] for step in StatsRecorder(jsonl_path=path).step_counts()] == [1, 3, 4]
    assert orjson.loads(recorder.snapshot_json())["steps"] == [1, 2, 3, 4]  # still shown


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from tests.stats.test_write_failures import _record
    from reward_service.stats import StatsRecorder

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    path = Path(sys.argv[1])
    failures = []
    recorder = StatsRecorder(
        jsonl_path=path, checkpoint_every_s=3600, on_write_failure=lambda: failures.append(1)
    )
    _record(recorder, 1)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 100, hard))
    for step in range(2, 7):
        _record(recorder, step)  # the first cut off after 100 bytes: the disk is full
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is back
    _record(recorder, 7)
    _record(recorder, 8)
    print("failures", len(failures))
    """
)


def test_a_full_disk_is_said_once_and_the_next_line_starts_fresh(tmp_path: Path) -> None:
    """A real failing write, no root needed: the file size limit (RLIMIT_FSIZE) cuts a
    line off the way a full disk does, then fails every write. The log says so when it
    begins and when writing works again, not at every batch; each lost batch is counted."""
    path = tmp_path / "stats.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert run.returncode == 0, run.stderr
    log = run.stderr.splitlines()
    assert len(log) == 2, run.stderr
    assert (
        log[0].startswith(f"statistics: cannot append to {path} (") and "File too large" in log[0]
    )
    assert log[1].startswith(f"statistics: appending to {path} again (5 batches lost")
    assert "last line cut off mid-write (100 bytes" in log[1]
    assert run.stdout.split() == ["failures", "5"]
    lines = path.read_bytes().split(b"\n")
    assert len(lines[1]) == 100  # the torn line: all that fitted
    skipped: list[str] = []
    assert [batch.step for batch in read_jsonl(path, skipped.append)] == [1, 7, 8]
    assert len(skipped) == 1 and ":2: skipped" in skipped[0]


def test_a_checkpoint_that_cannot_be_written_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder where the checkpoint is written fails every write of it, for real."""
    path = tmp_path / "stats.jsonl"
    failures: list[int] = []
    recorder = StatsRecorder(
        jsonl_path=path, checkpoint_every_s=3600, on_write_failure=lambda: failures.append(1)
    )
    in_the_way = checkpoint_path(path).with_name(f"{checkpoint_path(path).name}.partial")
    in_the_way.mkdir()
    with caplog.at_level(logging.WARNING, logger="reward_service.stats"):
        for step in range(3):
            _record(recorder, step)
            recorder.close()  # checkpoints every batch recorded: fails
        in_the_way.rmdir()
        _record(recorder, 3)
        recorder.close()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"statistics: cannot write the checkpoint of {path} (")
    assert messages[1] == f"statistics: the checkpoint of {path} is written again (3 tries failed)"
    assert len(failures) == 3
    assert [s["step"] for s in StatsRecorder(jsonl_path=path).step_counts()] == [0, 1, 2, 3]


def test_a_full_disk_fails_no_request_and_is_said_once(small_disk: Path) -> None:
    """A real full disk under a service: /score answers 200 throughout, the batches the file
    misses are counted in /metrics, and the log says so once when the disk fills up and
    once when it has room again."""
    path = small_disk / "stats.jsonl"
    env = {"REWARD_SERVICE_WORKERS": "1", "REWARD_SERVICE_STATS_FILE": str(path)}
    answers = [str(10**70 + k) for k in range(50)]  # a line longer than a page of the disk
    items = [{"response": make_response(answer), "ground_truth": "12.8"} for answer in answers]
    with ServiceProcess(env=env) as service:

        def score(step: int) -> None:
            body = {"items": items, "step": step}
            assert httpx.post(f"{service.url}/score", json=body, timeout=60).status_code == 200

        score(0)
        ballast = fill(small_disk)
        for step in range(1, 5):
            score(step)
        lost = metric(service.url, "reward_stats_failures_total")
        ballast.unlink()
        score(5)
        steps = httpx.get(f"{service.url}/stats", timeout=60).json()["steps"]
    assert lost == 4 and steps == [0, 1, 2, 3, 4, 5]
    assert service.output.count(f"statistics: cannot append to {path}") == 1
    assert service.output.count(f"statistics: appending to {path} again (4 batches lost") == 1
    assert [batch.step for batch in read_jsonl(path)] == [0, 5]

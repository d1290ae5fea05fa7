"""The statistics file under failures: a full disk, a batch that cannot be serialised, a
step number or token count past any run (refused at the door)."""

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
from reward_service.scoring import MultiSignalMathReward
from reward_service.stats import ScoredItem, StatsRecorder, read_jsonl
from tests.conftest import make_response

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
    recorder = StatsRecorder(jsonl_path=path, checkpoint_every_s=3600)
    _record(recorder, 1)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 100, hard))
    _record(recorder, 2)  # cut off after 100 bytes: the disk is full
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is back
    _record(recorder, 3)
    """
)


def test_after_a_failed_write_the_next_line_starts_fresh(tmp_path: Path) -> None:
    """A real failing write, no root needed: the file size limit (RLIMIT_FSIZE) cuts a
    line off the way a full disk does."""
    path = tmp_path / "stats.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert run.returncode == 0, run.stderr
    assert "could not append step 2" in run.stderr
    lines = path.read_bytes().split(b"\n")
    assert len(lines[1]) == 100  # the torn line: all that fitted
    skipped: list[str] = []
    assert [batch.step for batch in read_jsonl(path, skipped.append)] == [1, 3]
    assert len(skipped) == 1 and ":2: skipped" in skipped[0]

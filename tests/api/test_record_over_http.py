"""The record of a real service: every item of every scoring route on disk within about a
second (a ``kill -9`` two seconds after the answers loses none), under the step ``/stats``
shows, and a disk that fails it fails no request."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset
import pytest

from reward_service.bench.local_server import ServiceProcess
from reward_service.scoring import scorer_version
from tests.conftest import make_response
from tests.record.helpers import fill, remount, wait_until
from tests.service_process import ONE_WORKER, metric

COLUMNS = {
    "step",
    "group",
    "data_source",
    "response",
    "ground_truth",
    "pred",
    "verdict",
    "verify",
    "format",
    "reflect",
    "score",
    "status",
    "error",
    "weights",
    "response_tokens",
    "truncated",
    "scorer_version",
    "route",
    "time",
}
"""What the issue asks the record to hold, at least."""
PROMPT = "<|im_start|>user\nFind V.<|im_end|>\n<|im_start|>assistant\n"


def _score_items() -> list[dict[str, Any]]:
    """A tagged batch: every field a trainer sends, one item with weights of its own."""
    answers = ["12.8", "13", "\\frac{64}{5}", "7"]
    items = [
        {
            "response": make_response(answer),
            "ground_truth": "12.8",
            "data_source": "pi1",
            "group": f"g{index % 2}",
            "response_tokens": 40 + index,
            "truncated": index == 3,
        }
        for index, answer in enumerate(answers)
    ]
    items[1]["extra_info"] = {"reward_weights": {"alpha": 2.0, "gamma": 0.5}}
    return items


def _openrlhf_body(answers: list[str]) -> dict[str, list[str]]:
    responses = [make_response(answer) for answer in answers]
    return {
        "query": [PROMPT + response for response in responses],
        "prompts": [PROMPT] * len(responses),
        "labels": ["12.8"] * len(responses),
    }


def _rows(root: Path) -> list[dict[str, Any]]:
    """The record read with pyarrow alone, as any user reads it."""
    table = pyarrow.dataset.dataset(root, format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda row: (row["time"], row["batch"], row["item"]))


def test_every_item_of_every_route_survives_a_kill_9_two_seconds_later(tmp_path: Path) -> None:
    root = tmp_path / "record"
    env = {**ONE_WORKER, "REWARD_SERVICE_RECORD_DIR": str(root)}
    service = ServiceProcess(env=env).start()
    try:
        weights = {"alpha": 1.0, "beta": 0.5, "gamma": 0.25}
        body = {"items": _score_items(), "weights": weights, "step": 7}
        scored = httpx.post(f"{service.url}/score", json=body, timeout=60)
        untagged = [
            httpx.post(f"{service.url}/openrlhf/get_reward", json=_openrlhf_body(answers))
            for answers in (["12.8", "13"], ["12.8"])
        ]
        answered = time.monotonic()
        shown = httpx.get(f"{service.url}/stats").json()
        time.sleep(max(0.0, answered + 2.0 - time.monotonic()))  # the guarantee's window
    finally:
        service.stop(signal.SIGKILL)
    assert scored.status_code == 200 and all(r.status_code == 200 for r in untagged)

    rows = _rows(root)
    assert set(rows[0]) >= COLUMNS
    assert len(rows) == 4 + 2 + 1
    assert [row["route"] for row in rows] == ["/score"] * 4 + ["/openrlhf/get_reward"] * 3
    # the steps /stats shows: the tagged one, and the one it gave the untagged batches
    assert dict(zip(shown["steps"], shown["series"]["items"], strict=True)) == {
        step: sum(row["step"] == step for row in rows) for step in {row["step"] for row in rows}
    }
    assert {row["step"] for row in rows[:4]} == {7}
    fields = ("response", "ground_truth", "data_source", "group", "response_tokens", "truncated")
    signals = ("score", "verify", "format", "reflect", "pred", "verdict", "status", "error")
    for row, sent, result in zip(rows[:4], _score_items(), scored.json()["results"], strict=True):
        assert {name: row[name] for name in fields} == {name: sent[name] for name in fields}
        assert {name: row[name] for name in signals} == {name: result[name] for name in signals}
    rewards = [reward for answer in untagged for reward in answer.json()["rewards"]]
    assert [row["score"] for row in rows[4:]] == rewards
    assert [row["weights"] for row in rows[:2]] == [
        weights,
        {**weights, "alpha": 2.0, "gamma": 0.5},
    ]
    assert rows[4]["weights"] == {"alpha": 1.0, "beta": 0.2, "gamma": 0.2}  # the defaults
    assert rows[4]["response"] == make_response("12.8")  # what followed the prompt
    assert {row["scorer_version"] for row in rows} == {scorer_version()}


def test_the_record_is_off_unless_a_folder_is_given(service_url: str) -> None:
    assert httpx.get(f"{service_url}/health").json()["record"] is None
    answer = httpx.get(f"{service_url}/record/steps")
    assert answer.status_code == 404
    assert answer.json()["detail"].startswith("the record is off: set REWARD_SERVICE_RECORD_DIR")


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_a_disk_that_fails_the_record_fails_no_request(small_disk: Path, trouble: str) -> None:
    """/score answers 200 throughout; the lost rows are counted in /metrics and /health
    (which stays 200), said once in the log, and writing resumes when the disk does."""
    root = small_disk / "record"
    env = {**ONE_WORKER, "REWARD_SERVICE_RECORD_DIR": str(root)}
    item = {"response": make_response(), "ground_truth": "12.8"}
    lost_sample = "reward_record_rows_lost_total"
    with ServiceProcess(env=env) as service:

        def score(items: int, step: int) -> None:
            body = {"items": [item] * items, "step": step}
            assert httpx.post(f"{service.url}/score", json=body, timeout=60).status_code == 200

        def record_health() -> dict[str, Any]:
            health = httpx.get(f"{service.url}/health", timeout=30)
            assert health.status_code == 200
            return health.json()["record"]

        score(3, 0)
        wait_until(lambda: record_health()["rows_written"] == 3, timeout_s=10)
        ballast = fill(small_disk) if trouble == "full" else remount(small_disk, "ro")
        for step in (1, 2):
            score(5, step)
        wait_until(lambda: metric(service.url, lost_sample) == 10, timeout_s=10)
        health = record_health()
        reason = "No space left" if trouble == "full" else "Read-only file system"
        assert health["rows_lost"] == 10 and reason in health["failing"]
        if ballast:
            ballast.unlink()
        else:
            remount(small_disk, "rw")
        score(2, 3)
        wait_until(lambda: record_health()["rows_written"] == 5, timeout_s=10)
        assert record_health()["failing"] is None
        assert metric(service.url, lost_sample) == 10
    assert service.output.count("record: cannot write") == 1
    steps = pyarrow.dataset.dataset(root, format="parquet", partitioning="hive").to_table()
    assert sorted(set(steps["step"].to_pylist())) == [0, 3]

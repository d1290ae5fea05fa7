"""The record of a real service: every item of every scoring route on disk within about a
second (a ``kill -9`` two seconds after the answers loses none), under the step ``/stats``
shows, and a disk that fails it fails no request."""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset
import pytest

from reward_service.api.routes.record import READS_AT_ONCE
from reward_service.bench.local_server import ServiceProcess
from reward_service.record import RecordWriter, ScoredBatch
from reward_service.scoring import RewardWeights, scorer_version
from reward_service.stats.step import ScoredItem
from tests.conftest import make_response
from tests.record.helpers import batch, fill, made_up_result, remount, wait_until
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


RESPONSE_CHARS = 200_000
BIG_STEP_ROWS = 400
"""A step of 80 MB of responses (20 flushes of 20 items)."""
PAGE_ROWS = 5


def _long_responses(seed: int, count: int) -> ScoredBatch:
    """``count`` responses of :data:`RESPONSE_CHARS` characters, each its own."""
    rng = random.Random(seed)
    words = ("x", "=", "12.8", "so", "\\frac{64}{5}")
    thinking = " ".join(rng.choice(words) for _ in range(RESPONSE_CHARS // 3))
    items = [
        ScoredItem(f"<think>{seed}-{n} {thinking}"[:RESPONSE_CHARS], "12.8") for n in range(count)
    ]
    results = [made_up_result(rng) for _ in items]
    return ScoredBatch(items, results, RewardWeights(), "/score", scorer_version(), time.time())


def _memory_kib(pid: int) -> dict[str, int]:
    """The process's resident set now (VmRSS) and at its peak (VmHWM), in KiB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines)
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def test_a_page_of_a_big_step_costs_about_the_page_not_the_step(tmp_path: Path) -> None:
    """The service's peak memory (VmHWM, reset once warm) grows by a few pages, not by the
    step, while pages of an 80 MB step are read, one and then four at once, and one
    response whole; and what they used is given back."""
    root = tmp_path / "record"
    with RecordWriter(root, "writer", fsync=False) as writer:
        writer.append(1, batch(20))
        for flush in range(BIG_STEP_ROWS // 20):
            writer.append(7, _long_responses(flush, 20))
            wait_until(lambda: writer.status.rows_pending == 0)
        writer.append(8, batch(1))
    page_kib = PAGE_ROWS * RESPONSE_CHARS // 1024
    env = {**ONE_WORKER, "REWARD_SERVICE_RECORD_DIR": str(root)}
    with ServiceProcess(env=env) as service:

        def page(step: int, offset: int = 0) -> dict[str, Any]:
            params = {"offset": offset, "limit": PAGE_ROWS}
            answer = httpx.get(f"{service.url}/record/steps/{step}", params=params, timeout=60)
            assert answer.status_code == 200, answer.text
            return answer.json()

        for _ in range(3):  # warm: every code path a page takes, on a small step
            first = page(1)["rows"][0]
            path = f"/record/steps/1/items/{first['batch']}/{first['item']}"
            httpx.get(f"{service.url}{path}", timeout=60).raise_for_status()
        pid = service.process.pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak is now what it holds
        before = _memory_kib(pid)["VmRSS"]

        shown = page(7, offset=BIG_STEP_ROWS // 2)
        assert shown["items"] == BIG_STEP_ROWS and len(shown["rows"]) == PAGE_ROWS
        one_page = _memory_kib(pid)["VmHWM"] - before

        readers = [threading.Thread(target=page, args=(7, offset)) for offset in (0, 100, 200, 390)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        row = shown["rows"][0]
        path = f"/record/steps/7/items/{row['batch']}/{row['item']}"
        whole = httpx.get(f"{service.url}{path}", timeout=60).json()
        assert len(whole["response"]) == RESPONSE_CHARS
        all_reads = _memory_kib(pid)["VmHWM"] - before
        kept = _memory_kib(pid)["VmRSS"] - before

    # before pages were read by position: 203 MB for one page, and kept
    assert one_page < 24 * page_kib, (one_page, page_kib)
    assert all_reads < READS_AT_ONCE * 24 * page_kib, (all_reads, page_kib)
    assert kept < 12 * page_kib, (kept, page_kib)
    assert READS_AT_ONCE * 24 * page_kib < BIG_STEP_ROWS * RESPONSE_CHARS // 1024 / 1.5

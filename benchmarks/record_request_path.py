"""What recording costs the request path: the streaming benchmark's rows and whole GRPO steps
against a real ``reward-service serve`` with the record off and on, in the same run.

    python benchmarks/record_request_path.py [--seconds 15] [--rounds 2] [--workers 2]

The service is started afresh for each round, with the record off, then on (a folder under
``--dir``), ``--rounds`` times in turn, so slow drift of a shared machine falls on both
alike. Each round: the three rows of ``reward-service bench``'s streaming table (8 clients;
single items at rate/8, 1-8 items at ``--rate``, 1-8 items back to back), then 4,096-item
steps posted back to back (warm cache), each a tagged step the record keeps as a step of
its own. The table pools the rounds of each setting and gives on/off ratios. Results:
RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from reward_service.bench.local_server import ServiceProcess
from reward_service.bench.streaming import StreamRow, measure_stream
from reward_service.bench.workload import grpo_step
from reward_service.settings import ENV_PREFIX

STEP_ITEMS = 4096
Samples = dict[str, list[float]]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _stream_rows(url: str, pool: list[dict[str, str]], rate: float, seconds: float) -> Samples:
    """The streaming table's rows, as samples: server ms of each request, items/s."""
    rows: dict[str, StreamRow] = {
        f"1-item requests, {rate / 8:g} items/s": measure_stream(
            "", url, pool, (1, 1), rate / 8, seconds
        ),
        f"1-8 item requests, {rate:g} items/s": measure_stream(
            "", url, pool, (1, 8), rate, seconds
        ),
        "1-8 item requests back to back": measure_stream("", url, pool, (1, 8), None, seconds),
    }
    samples: Samples = {}
    for name, row in rows.items():
        samples[f"{name}: server ms"] = row.server_ms
        samples[f"{name}: end-to-end ms"] = row.end_to_end_ms
        samples[f"{name}: items/s"] = [row.items_per_s]
    return samples


def _whole_steps(url: str, steps: int, first_step: int) -> Samples:
    """``steps`` 4,096-item steps posted back to back: seconds per step, end to end."""
    items = [
        {"response": item.response, "ground_truth": item.ground_truth}
        for item in grpo_step(STEP_ITEMS, pathological_share=0.0, seed=3)
    ]
    seconds = []
    with httpx.Client(base_url=url, timeout=300) as client:
        for step in range(first_step, first_step + steps):
            body = orjson.dumps({"items": items, "step": step})
            started = time.perf_counter()
            client.post("/score", content=body, headers={"content-type": "application/json"})
            seconds.append(time.perf_counter() - started)
    return {"4,096-item steps back to back: s per step": seconds}


def _round(record: Path | None, workers: int, rate: float, seconds: float, steps: int) -> Samples:
    env = {f"{ENV_PREFIX}WORKERS": str(workers), f"{ENV_PREFIX}LOG_LEVEL": "warning"}
    env[f"{ENV_PREFIX}MAX_ITEMS"] = str(STEP_ITEMS)
    if record is not None:
        env[f"{ENV_PREFIX}RECORD_DIR"] = str(record)
    pool = [
        {"response": item.response, "ground_truth": item.ground_truth}
        for item in grpo_step(2048, pathological_share=0.0, seed=11)
    ]
    with ServiceProcess(env=env) as service:
        httpx.post(f"{service.url}/score", json={"items": pool[:64]}, timeout=120)  # warm
        samples = _stream_rows(service.url, pool, rate, seconds)
        samples.update(_whole_steps(service.url, steps, first_step=10_000))
        if record is not None:
            health = httpx.get(f"{service.url}/health", timeout=30).json()["record"]
            samples["record: rows lost"] = [health["rows_lost"]]
    return samples


def _summary(name: str, values: list[float]) -> str:
    if name.endswith("items/s") or name.endswith("lost"):
        return f"{statistics.mean(values):,.0f}"
    if name.endswith("s per step"):
        return f"{statistics.median(values):.2f}"
    return f"{statistics.median(values):.1f} / {_percentile(values, 0.99):.1f}"


def _ratio(name: str, off: list[float], on: list[float]) -> str:
    if name.endswith("lost"):
        return ""
    pick = statistics.mean if name.endswith("items/s") else statistics.median
    return f"{pick(on) / pick(off):.2f}"


def main(folder: Path, rounds: int, workers: int, rate: float, seconds: float, steps: int) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    pooled: dict[str, Samples] = {"off": {}, "on": {}}
    for number in range(rounds):
        for setting in ("off", "on"):
            record = folder / f"round-{number}" if setting == "on" else None
            for name, values in _round(record, workers, rate, seconds, steps).items():
                pooled[setting].setdefault(name, []).extend(values)
    table = Table(
        title=f"The record off and on: {rounds} rounds each, {workers} workers "
        "(ms: median / p99; s per step: median)",
        title_justify="left",
    )
    for column in ("", "record off", "record on", "on / off"):
        table.add_column(column, justify="left" if not column else "right")
    for name, on in pooled["on"].items():
        off = pooled["off"].get(name)
        table.add_row(
            name,
            _summary(name, off) if off else "",
            _summary(name, on),
            _ratio(name, off, on) if off else "",
        )
    Console(width=140).print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/record-request-path"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=400.0, help="items/s of the paced rows")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per streaming row")
    parser.add_argument("--steps", type=int, default=8, help="4,096-item steps per round")
    arguments = parser.parse_args()
    main(
        arguments.dir,
        arguments.rounds,
        arguments.workers,
        arguments.rate,
        arguments.seconds,
        arguments.steps,
    )

"""Benchmark: the service end to end over HTTP against verl's naive per-item loop.

Both sides run on this machine, one after the other, on the same synthetic steps
(:mod:`reward_service.bench.workload`); the service runs as its own process, as in training.
The naive loop is what verl's default reward manager does: ``compute_score`` for each
response, in the trainer's process. It is measured once per workload, after a warm-up, on a
sample of the step holding the step's share of pathological answers, and reported as items
per second; the clean workload's loop is also the streaming table's baseline. Service rows
use as many workers as this machine has CPUs.
"""

from __future__ import annotations

import math
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from reward_service.bench.local_server import ServiceProcess
from reward_service.bench.workload import PATHOLOGICAL_ANSWERS, WorkloadItem, grpo_step
from reward_service.scoring import MultiSignalMathReward
from reward_service.settings import ENV_PREFIX, ServiceSettings


@dataclass(frozen=True)
class Measurement:
    """One row of the benchmark table.

    Attributes:
        name: what was measured.
        items: items per batch.
        latencies_s: seconds per batch (the naive loop: the seconds for its sample).
        baseline: the row this one's speedup is measured against; None for a baseline.
        per_item_ms: a naive loop's time for each item.
    """

    name: str
    items: int
    latencies_s: list[float]
    baseline: Measurement | None = None
    per_item_ms: tuple[float, ...] = ()

    @property
    def items_per_s(self) -> float:
        return self.items / self.p50_s

    @property
    def p50_s(self) -> float:
        return statistics.median(self.latencies_s)

    @property
    def p99_s(self) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _pathological(item: WorkloadItem) -> bool:
    return any(answer in item.response for answer in PATHOLOGICAL_ANSWERS)


def _stratified_sample(step: list[WorkloadItem], size: int) -> list[WorkloadItem]:
    """``size`` items with the step's share of pathological ones (at least one if any)."""
    bad = [item for item in step if _pathological(item)]
    good = [item for item in step if item not in bad]
    bad_count = min(len(bad), math.ceil(size * len(bad) / len(step)))
    rng = random.Random(0)
    return rng.sample(bad, bad_count) + rng.sample(good, min(len(good), size - bad_count))


WARM_UP_ITEMS = 16
"""Scored untimed first, so the loop is not charged for loading sympy's parsers."""


def measure_naive(
    name: str, step: list[WorkloadItem], sample: int, timeout_s: float
) -> Measurement:
    """verl's default loop: score a sample one by one in this process's main thread."""
    reward = MultiSignalMathReward(verify_timeout_s=timeout_s)
    chosen = _stratified_sample(step, sample)
    clean = [item for item in step if item not in chosen and not _pathological(item)]
    for item in clean[:WARM_UP_ITEMS]:
        reward.score(item.response, item.ground_truth)
    per_item = []
    for item in chosen:
        started = time.perf_counter()
        reward.score(item.response, item.ground_truth)
        per_item.append((time.perf_counter() - started) * 1000)
    return Measurement(
        f"{name}: naive loop, {len(chosen)}-item sample",
        len(chosen),
        [sum(per_item) / 1000],
        per_item_ms=tuple(per_item),
    )


def _post_step(client: httpx.Client, step: list[WorkloadItem]) -> float:
    """Encode, send, score and decode one step; returns seconds."""
    started = time.perf_counter()
    items = [{"response": item.response, "ground_truth": item.ground_truth} for item in step]
    response = client.post(
        "/score",
        content=orjson.dumps({"items": items}),
        headers={"content-type": "application/json"},
    )
    response.raise_for_status()
    results = orjson.loads(response.content)["results"]
    if len(results) != len(step):
        raise RuntimeError(f"{len(results)} results for {len(step)} items")
    return time.perf_counter() - started


def measure_service(
    name: str, steps: list[list[WorkloadItem]], workers: int, cache: bool, baseline: Measurement
) -> Measurement:
    """Post each step to a fresh ``reward-service serve`` process; with the cache on, each
    step is posted once untimed first."""
    env = {
        f"{ENV_PREFIX}WORKERS": str(workers),
        f"{ENV_PREFIX}CACHE_SIZE": "200000" if cache else "0",
        f"{ENV_PREFIX}LOG_LEVEL": "warning",
    }
    latencies = []
    with (
        ServiceProcess(env=env) as service,
        httpx.Client(base_url=service.url, timeout=600) as client,
    ):
        for step in steps:
            if cache:
                _post_step(client, step)
            latencies.append(_post_step(client, step))
    mode = f"{workers} workers, {'warm' if cache else 'cold'} cache"
    return Measurement(f"{name}: service over HTTP, {mode}", len(steps[0]), latencies, baseline)


def run_benchmark(items: int, repeats: int, naive_sample: int) -> list[Measurement]:
    """Every row of the table: for a clean step and one with 1% pathological answers, the
    naive baseline, then the service (one worker per CPU) with a cold and a warm cache."""
    cpus = len(os.sched_getaffinity(0))
    timeout_s = ServiceSettings().item_timeout_s
    rows = []
    for name, share in (("clean", 0.0), ("1% pathological", 0.01)):
        steps = [grpo_step(items, pathological_share=share, seed=s) for s in range(1, repeats + 1)]
        naive = measure_naive(name, steps[0], naive_sample, timeout_s)
        rows += [
            naive,
            measure_service(name, steps, cpus, cache=False, baseline=naive),
            measure_service(name, steps, cpus, cache=True, baseline=naive),
        ]
    return rows


def print_table(rows: list[Measurement], console: Console) -> None:
    """Print the measurements, each service row with its speedup over its naive loop."""
    machine = platform.processor() or platform.machine()
    table = Table(title=f"reward scoring on {os.cpu_count()} CPUs ({machine})")
    for column in ("workload and mode", "batch", "items/s", "p50 s", "p99 s", "speedup"):
        table.add_column(column, justify="left" if column.startswith("workload") else "right")
    for row in rows:
        speedup = f"{row.items_per_s / row.baseline.items_per_s:.1f}x" if row.baseline else "1.0x"
        table.add_row(
            row.name,
            str(row.items),
            f"{row.items_per_s:,.0f}",
            f"{row.p50_s:.3f}" if row.baseline else "-",
            f"{row.p99_s:.3f}" if row.baseline else "-",
            speedup,
        )
    console.print(table)
    for row in rows:
        if row.baseline is None:
            step_items = rows[1].items
            console.print(
                f"{row.name}: extrapolated to a {step_items}-item step, "
                f"{step_items / row.items_per_s:.1f} s"
            )

"""Benchmark: the traffic verl 0.9 really sends, many small requests from 8 reward workers.

verl scores each sample as soon as it is generated, through ``reward.num_workers=8``
reward workers, each with its own HTTP client. Here 8 client threads send requests of 1-8
items (or of exactly one), either at a controlled arrival rate (Poisson, like samples
leaving a rollout) or back to back (the most the service sustains). Each row reports
requests/s, items/s and the latency the client saw (end to end) and the service measured
(``elapsed_ms``), beside verl's naive in-process loop measured in the same run: the clean
workload's naive loop of the whole-step table, so both tables have one baseline.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from reward_service.bench.local_server import ServiceProcess
from reward_service.bench.whole_step import Measurement, measure_naive
from reward_service.bench.workload import grpo_step
from reward_service.settings import ENV_PREFIX, ServiceSettings

CLIENTS = 8
"""verl's default ``reward.num_workers``."""


@dataclass(frozen=True)
class StreamRow:
    """One row: a traffic pattern and what it achieved."""

    name: str
    requests: int
    items: int
    seconds: float
    end_to_end_ms: list[float]
    server_ms: list[float]

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def _client_loop(
    url: str,
    pool: list[dict[str, str]],
    sizes: tuple[int, int],
    gap_s: float | None,
    deadline: float,
    seed: int,
    out: list[tuple[int, float, float]],
) -> None:
    """Send requests until ``deadline``; ``gap_s`` None means back to back, else the mean
    of exponential gaps between this client's requests (a Poisson stream)."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline:
            if gap_s is not None:
                time.sleep(rng.expovariate(1 / gap_s))
            items = rng.sample(pool, rng.randint(*sizes))
            started = time.perf_counter()
            response = http.post(
                "/score",
                content=orjson.dumps({"items": items}),
                headers={"content-type": "application/json"},
            )
            response.raise_for_status()
            elapsed_ms = (time.perf_counter() - started) * 1000
            out.append((len(items), elapsed_ms, orjson.loads(response.content)["elapsed_ms"]))


def measure_stream(
    name: str,
    url: str,
    pool: list[dict[str, str]],
    sizes: tuple[int, int],
    items_per_s: float | None,
    seconds: float,
) -> StreamRow:
    """``CLIENTS`` clients for ``seconds``, at ``items_per_s`` in all (None: back to back)."""
    mean_size = (sizes[0] + sizes[1]) / 2
    gap_s = None if items_per_s is None else CLIENTS * mean_size / items_per_s
    deadline = time.monotonic() + seconds
    outputs: list[list[tuple[int, float, float]]] = [[] for _ in range(CLIENTS)]
    threads = [
        threading.Thread(target=_client_loop, args=(url, pool, sizes, gap_s, deadline, i, out))
        for i, out in enumerate(outputs)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    done = [record for out in outputs for record in out]
    return StreamRow(
        name,
        requests=len(done),
        items=sum(size for size, _, _ in done),
        seconds=elapsed,
        end_to_end_ms=[e2e for _, e2e, _ in done],
        server_ms=[server for _, _, server in done],
    )


def naive_row(naive: Measurement) -> StreamRow:
    """The whole-step table's naive loop as a row of this table (latency per item)."""
    latencies = list(naive.per_item_ms)
    return StreamRow(
        f"{naive.name} (one by one)",
        naive.items,
        naive.items,
        sum(latencies) / 1000,
        latencies,
        latencies,
    )


def run_streaming_benchmark(
    workers: int, seconds: float, rate: float, naive: Measurement | None = None
) -> list[StreamRow]:
    """The naive loop (``naive``, else measured here as the whole-step table does), then the
    service under: single items at ``rate``/8, 1-8 items at ``rate``, and 1-8 items back to
    back, each for ``seconds``, on a warm pool."""
    pool = [
        {"response": item.response, "ground_truth": item.ground_truth}
        for item in grpo_step(2048, pathological_share=0.0, seed=11)
    ]
    if naive is None:
        timeout_s = ServiceSettings().item_timeout_s
        naive = measure_naive("clean", grpo_step(4096, pathological_share=0.0), 256, timeout_s)
    rows = [naive_row(naive)]
    env = {f"{ENV_PREFIX}WORKERS": str(workers), f"{ENV_PREFIX}LOG_LEVEL": "warning"}
    with ServiceProcess(env=env) as service:
        httpx.post(f"{service.url}/score", json={"items": pool[:64]}, timeout=120)  # warm
        rows += [
            measure_stream(
                f"1-item requests, {rate / 8:g} items/s offered",
                service.url,
                pool,
                (1, 1),
                rate / 8,
                seconds,
            ),
            measure_stream(
                f"1-8 item requests, {rate:g} items/s offered",
                service.url,
                pool,
                (1, 8),
                rate,
                seconds,
            ),
            measure_stream(
                "1-8 item requests back to back", service.url, pool, (1, 8), None, seconds
            ),
        ]
    return rows


def print_stream_table(rows: list[StreamRow], console: Console) -> None:
    """The streaming rows, each with items/s against the naive loop's."""
    naive = rows[0]
    table = Table(title=f"streaming traffic from {CLIENTS} clients (verl's reward workers)")
    columns = ("traffic", "requests/s", "items/s", "vs naive", "e2e p50 ms", "e2e p99 ms")
    for column in (*columns, "server p50 ms", "server p99 ms"):
        table.add_column(column, justify="left" if column == "traffic" else "right")
    for row in rows:
        table.add_row(
            row.name,
            f"{row.requests / row.seconds:,.0f}",
            f"{row.items_per_s:,.0f}",
            f"{row.items_per_s / naive.items_per_s:.1f}x",
            f"{statistics.median(row.end_to_end_ms):.1f}",
            f"{_percentile(row.end_to_end_ms, 0.99):.1f}",
            f"{statistics.median(row.server_ms):.1f}",
            f"{_percentile(row.server_ms, 0.99):.1f}",
        )
    console.print(table)

"""Fair turns under slow batches (not a test-suite test): the latency of one-item requests
beside 0, 1, 2 and 4 clients that each keep a batch of slow items in flight, against a
real ``reward-service serve`` on 127.0.0.1 with default settings (2 workers, 3 s per item).

    python benchmarks/fairness.py [--seconds 30] [--kind cpu|hang] [--baseline CHECKOUT]

A slow item is a distinct answer that runs into its CPU limit (``cpu``: ``(x+1)^{2p}``
against ``(x^2+2x+1)^{p}``, p of 300 and more) or hangs in C code until its worker is
killed at the wall limit (``hang``: ``9^{9^{9^{9^{p}}}}``), so a batch of 32 holds the
workers for minutes. Every half second a probe sends one new one-item request (its own
distinct, quick verification: never a cache hit) and times it, in wall time and in the
CPU time the workers used meanwhile (per worker): on a machine shared with other jobs the
wall time follows the share of CPU the workers get, the CPU time does not. With
``--baseline``, the same runs go against that checkout's code (``PYTHONPATH``), side by
side in one table. Results: RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import sys
import threading
import time

import httpx
import psutil

from reward_service.bench.local_server import ServiceProcess

SERVE = (sys.executable, "-P", "-m", "reward_service.cli", "serve")
"""``reward-service serve`` that imports its code from PYTHONPATH, never from the current
directory (``-P``), so a baseline checkout really runs its own code."""

SLOW_BATCH_ITEMS = 32
WORKERS = 2
_powers = itertools.count(300)
_numerators = itertools.count(1)


def slow_item(kind: str) -> dict[str, str]:
    """A distinct slow answer: ``cpu`` runs into its CPU limit (a timeout, the worker
    lives on), ``hang`` hangs in C code until the worker is killed at its wall limit."""
    power = next(_powers)
    if kind == "hang":
        return {"response": f"\\boxed{{9^{{9^{{9^{{9^{{{power}}}}}}}}}}}", "ground_truth": "12.8"}
    return {
        "response": f"<think>x</think> \\boxed{{(x+1)^{{{2 * power}}}}}",
        "ground_truth": f"(x^2+2x+1)^{{{power}}}",
    }


def probe_item() -> dict[str, str]:
    numerator = next(_numerators)
    return {
        "response": f"\\boxed{{\\frac{{{numerator}}}{{8}}}}",
        "ground_truth": str(numerator / 8),
    }


def keep_a_slow_batch_in_flight(url: str, kind: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=600) as http:
        while not stop.is_set():
            batch = [slow_item(kind) for _ in range(SLOW_BATCH_ITEMS)]
            http.post("/score", json={"items": batch})


def worker_cpu_s(service_pid: int) -> float:
    """CPU seconds used so far by the scoring processes: the live ones, and the ones the
    fork server has reaped (killed at their wall limit)."""
    total = 0.0
    for child in psutil.Process(service_pid).children():
        if "forkserver" in " ".join(child.cmdline()):
            times = child.cpu_times()
            total += times.children_user + times.children_system
            for worker in child.children():
                with contextlib.suppress(psutil.Error):
                    total += sum(worker.cpu_times()[:2])
    return total


def one_item_latencies(
    service: ServiceProcess, slow_batches: int, kind: str, seconds: float
) -> list[tuple[float, float]]:
    """(wall seconds, worker CPU seconds per worker) of each one-item request."""
    url, pid = service.url, service.process.pid  # type: ignore[union-attr]
    stop = threading.Event()
    slow = [
        threading.Thread(target=keep_a_slow_batch_in_flight, args=(url, kind, stop), daemon=True)
        for _ in range(slow_batches)
    ]
    for thread in slow:
        thread.start()
    time.sleep(2.0 if slow_batches else 0.0)  # their chunks are queued by now
    latencies = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=600) as http:
        while time.monotonic() < deadline:
            started, cpu = time.perf_counter(), worker_cpu_s(pid)
            http.post("/score", json=probe_item()).raise_for_status()
            waited_cpu = (worker_cpu_s(pid) - cpu) / WORKERS
            latencies.append((time.perf_counter() - started, waited_cpu))
            time.sleep(0.5)
    stop.set()
    return latencies


def measure(
    code: str | None, slow_batches: int, kind: str, seconds: float
) -> list[tuple[float, float]]:
    """Latencies on a fresh service (``code``: a checkout whose code to run instead)."""
    env = {"REWARD_SERVICE_WORKERS": str(WORKERS), "REWARD_SERVICE_LOG_LEVEL": "warning"}
    if code is not None:
        env["PYTHONPATH"] = code
    # the service is stopped (SIGTERM) with slow batches in flight: they are cut off
    grace = {"REWARD_SERVICE_SHUTDOWN_GRACE_S": "0"}
    with ServiceProcess(env={**env, **grace}, command=SERVE) as service:
        return one_item_latencies(service, slow_batches, kind, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--baseline", help="a checkout to measure side by side (PYTHONPATH)")
    parser.add_argument("--kind", choices=["cpu", "hang"], default="cpu", help="slow items")
    args = parser.parse_args()
    versions = {"this code": os.environ.get("PYTHONPATH")}
    if args.baseline:
        versions["baseline"] = args.baseline
    print(
        "| slow batches beside | code | one-item requests | wall p50 / max (s) | "
        "worker CPU meanwhile, p50 / max (s per worker) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for slow_batches in (0, 1, 2, 4):
        for name, code in versions.items():
            walls, cpus = zip(*measure(code, slow_batches, args.kind, args.seconds), strict=True)
            print(
                f"| {slow_batches} | {name} | {len(walls)} | "
                f"{statistics.median(walls):.2f} / {max(walls):.2f} | "
                f"{statistics.median(cpus):.2f} / {max(cpus):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

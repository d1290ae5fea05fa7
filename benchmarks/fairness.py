"""Fair turns under slow batches (not a test-suite test): the latency of one-item requests
beside 0, 1, 2 and 4 clients that each keep a batch of slow items in flight, against a
real ``reward-service serve`` on 127.0.0.1 with default settings (2 workers, 3 s per item).

    python benchmarks/fairness.py [--seconds 30] [--baseline /path/to/older/checkout]

A slow item is a distinct answer that runs into its CPU limit (``(x+1)^{2p}`` against
``(x^2+2x+1)^{p}``, p of 300 and more), so a batch of 32 holds the workers for about
3 s x 32 / 2 = 48 s. Every half second a probe sends one new one-item request (its own
distinct, quick verification: never a cache hit) and times it. With ``--baseline``, the
same runs go against that checkout's code (``PYTHONPATH``), side by side in one table.
Results: RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import threading
import time

import httpx

from reward_service.bench.local_server import ServiceProcess

SLOW_BATCH_ITEMS = 32
_powers = itertools.count(300)
_numerators = itertools.count(1)


def slow_item() -> dict[str, str]:
    power = next(_powers)
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


def keep_a_slow_batch_in_flight(url: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=600) as http:
        while not stop.is_set():
            http.post("/score", json={"items": [slow_item() for _ in range(SLOW_BATCH_ITEMS)]})


def one_item_latencies(url: str, slow_batches: int, seconds: float) -> list[float]:
    stop = threading.Event()
    slow = [
        threading.Thread(target=keep_a_slow_batch_in_flight, args=(url, stop), daemon=True)
        for _ in range(slow_batches)
    ]
    for thread in slow:
        thread.start()
    time.sleep(2.0 if slow_batches else 0.0)  # their chunks are queued by now
    latencies = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=600) as http:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            http.post("/score", json=probe_item()).raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.5)
    stop.set()
    return latencies


def measure(code: str | None, slow_batches: int, seconds: float) -> list[float]:
    """Latencies on a fresh service (``code``: a checkout whose code to run instead)."""
    env = {"REWARD_SERVICE_WORKERS": "2", "REWARD_SERVICE_LOG_LEVEL": "warning"}
    if code is not None:
        env["PYTHONPATH"] = code
    # the service is stopped (SIGTERM) with slow batches in flight: they are cut off
    with ServiceProcess(env={**env, "REWARD_SERVICE_SHUTDOWN_GRACE_S": "0"}) as service:
        return one_item_latencies(service.url, slow_batches, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--baseline", help="a checkout to measure side by side (PYTHONPATH)")
    args = parser.parse_args()
    versions = {"this code": os.environ.get("PYTHONPATH")}
    if args.baseline:
        versions["baseline"] = args.baseline
    print("| slow batches beside | code | one-item requests | p50 (s) | max (s) |")
    print("| --- | --- | --- | --- | --- |")
    for slow_batches in (0, 1, 2, 4):
        for name, code in versions.items():
            latencies = measure(code, slow_batches, args.seconds)
            print(
                f"| {slow_batches} | {name} | {len(latencies)} | "
                f"{statistics.median(latencies):.2f} | {max(latencies):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Which flush window should the verl manager's micro-batcher use? Measured, not guessed.

    python -m benchmarks.flush_window [--seconds 15] [--rates 25,400] [--windows 0,2,5,20,50]

(``-m``, from the repository root: the training recipe's ``trainer/`` is not installed.)

8 threads stand for verl's 8 reward workers, each with its own event loop, MicroBatcher and
RewardClient, exactly as ``trainer/http_reward_manager.py`` builds them. Samples arrive at
each worker as a Poisson stream (the total rate split 8 ways); every sample is submitted to
the batcher and awaited. For each flush window and rate it prints the per-sample latency
(submit to result) and the items per request, against a real ``reward-service serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import threading
import time

from reward_service.bench.local_server import ServiceProcess
from reward_service.bench.workload import grpo_step
from reward_service.client import RewardClient
from trainer.micro_batcher import MicroBatcher

WORKERS = 8


async def _worker(
    url: str, pool: list[dict], flush_ms: float, rate: float, seconds: float, seed: int, out: list
) -> None:
    rng = random.Random(seed)
    async with RewardClient(url) as client:
        requests = 0

        async def send(items: list[dict]) -> list[dict]:
            nonlocal requests
            requests += 1
            return await client.score(items)

        batcher = MicroBatcher(send, max_items=512, flush_ms=flush_ms)

        async def one(item: dict) -> None:
            started = time.perf_counter()
            await batcher.submit(item)
            out.append((time.perf_counter() - started) * 1000)

        pending = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.expovariate(rate))
            pending.append(asyncio.ensure_future(one(rng.choice(pool))))
        await asyncio.gather(*pending)
        out.append(("requests", requests))


def measure(url: str, pool: list[dict], flush_ms: float, rate: float, seconds: float) -> tuple:
    outputs: list[list] = [[] for _ in range(WORKERS)]
    threads = [
        threading.Thread(
            target=asyncio.run,
            args=(_worker(url, pool, flush_ms, rate / WORKERS, seconds, seed, out),),
        )
        for seed, out in enumerate(outputs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [v for out in outputs for v in out if not isinstance(v, tuple)]
    requests = sum(v[1] for out in outputs for v in out if isinstance(v, tuple))
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(latencies), p99, len(latencies) / max(1, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rates", default="25,400", help="samples/s over all workers")
    parser.add_argument("--windows", default="0,2,5,20,50", help="flush windows in ms")
    args = parser.parse_args()
    pool = [
        {"response": i.response, "ground_truth": i.ground_truth}
        for i in grpo_step(2048, pathological_share=0.0, seed=3)
    ]
    print("| samples/s | flush ms | latency p50 ms | latency p99 ms | items per request |")
    print("| --- | --- | --- | --- | --- |")
    with ServiceProcess(env={"REWARD_SERVICE_LOG_LEVEL": "warning"}) as service:
        for rate in (float(r) for r in args.rates.split(",")):
            for window in (float(w) for w in args.windows.split(",")):
                p50, p99, per_request = measure(service.url, pool, window, rate, args.seconds)
                print(f"| {rate:g} | {window:g} | {p50:.1f} | {p99:.1f} | {per_request:.2f} |")


if __name__ == "__main__":
    main()

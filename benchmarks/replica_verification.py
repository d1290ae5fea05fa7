"""How much verification the replicas of a Ray Serve deployment repeat, and what sharing
verdicts between them saves, under verl's streaming traffic.

Each replica keeps its own verdict cache, so an answer seen by N replicas can be verified N
times. This deploys the app with 1, 2 and 4 replicas (one scoring process each) on a local
Ray instance, sends the same requests to each deployment through Ray's proxy (8 clients,
requests of 1-8 items back to back, as verl's reward workers send them: every item of
``--steps`` fresh GRPO steps of 1,024 items, twice, shuffled), and reads every replica's
metrics from ``/metrics/replicas``: distinct answers verified and the workers' CPU seconds
spent on it. One replica verifies each distinct answer once: its count is the work to be
done; the rest, with more replicas, is repeated work.

    python benchmarks/replica_verification.py --steps 4
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from reward_service.bench.local_server import free_port
from reward_service.bench.streaming import CLIENTS
from reward_service.bench.workload import grpo_step

ROOT = Path(__file__).parents[1]


def _totals(url: str) -> dict[str, float]:
    """Verifications and worker CPU seconds, summed over every replica."""
    names = {
        "reward_cache_misses_total": "verified",
        "reward_item_verify_seconds_sum": "cpu_s",
        "reward_cache_hits_total": "cache_hits",
    }
    totals = dict.fromkeys(names.values(), 0.0)
    replicas = set()
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics/replicas").text):
        for sample in family.samples:
            if sample.name in names:
                totals[names[sample.name]] += sample.value
                replicas.add(sample.labels["replica"])
    totals["replicas"] = len(replicas)
    return totals


def requests_of(steps: int, seed: int = 0) -> list[list[dict[str, str]]]:
    """Every item of ``steps`` GRPO steps, twice, shuffled, in requests of 1-8 items."""
    items = [
        {"response": item.response, "ground_truth": item.ground_truth}
        for step in range(steps)
        for item in grpo_step(1024, pathological_share=0.0, seed=step)
    ] * 2
    rng = random.Random(seed)
    rng.shuffle(items)
    requests = []
    while items:
        size = rng.randint(1, 8)
        requests.append(items[:size])
        items = items[size:]
    return requests


def send(url: str, requests: list[list[dict[str, str]]]) -> tuple[float, list[float]]:
    """``requests`` from CLIENTS clients, back to back; seconds and each request's latency."""
    latencies: list[float] = []

    def client(share: list[list[dict[str, str]]]) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for items in share:
                started = time.perf_counter()
                http.post("/score", json={"items": items}).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

    threads = [
        threading.Thread(target=client, args=(requests[i::CLIENTS],)) for i in range(CLIENTS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def run(replicas: int, share: bool, requests: list[list[dict[str, str]]]) -> dict:
    """One fresh deployment of ``replicas`` replicas under the streaming traffic."""
    import ray
    from ray import serve

    from reward_service.replicas.keeper import KEEPER_NAME, KEEPER_NAMESPACE, METRICS_EVERY_S
    from reward_service.replicas.serve import build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(replicas=replicas, workers_per_replica=1, share_verdicts=share))
    url = f"http://127.0.0.1:{port}"
    try:
        while len(httpx.get(f"{url}/metrics/replicas").text.split("replica=")) < 2:
            time.sleep(0.5)
        before = _totals(url)
        seconds, latencies = send(url, requests)
        time.sleep(2 * METRICS_EVERY_S)  # every replica's last metrics reach the keeper
        after = _totals(url)
    finally:
        serve.shutdown()
        ray.kill(ray.get_actor(KEEPER_NAME, namespace=KEEPER_NAMESPACE))
    return {
        "replicas": replicas,
        "share": share,
        "reporting": after["replicas"],
        "verified": after["verified"] - before["verified"],
        "cpu_s": after["cpu_s"] - before["cpu_s"],
        "items_per_s": sum(map(len, requests)) / seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": sorted(latencies)[int(0.99 * (len(latencies) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--share", choices=("off", "on", "both"), default="both")
    args = parser.parse_args()
    import ray

    os.environ["REWARD_SERVICE_LOG_LEVEL"] = "warning"
    ray.init(
        num_cpus=5,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    shares = {"off": [False], "on": [True], "both": [False, True]}[args.share]
    requests = requests_of(args.steps)
    rows = []
    for share in shares:
        for replicas in (1, 2, 4):
            rows.append(run(replicas, share, requests))
            print(rows[-1], flush=True)
    ray.shutdown()
    print(
        f"\n| replicas | verdicts shared | verified | repeated | worker CPU s | repeated CPU "
        f"| items/s | e2e p50 ms | e2e p99 ms |  ({CLIENTS} clients, 1-8 items, back to back)"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        alone = next(r for r in rows if r["replicas"] == 1 and r["share"] == row["share"])
        repeated = 1 - alone["verified"] / row["verified"] if row["verified"] else 0.0
        repeated_cpu = 1 - alone["cpu_s"] / row["cpu_s"] if row["cpu_s"] else 0.0
        print(
            f"| {row['replicas']} | {'yes' if row['share'] else 'no'} | {row['verified']:,.0f} "
            f"| {repeated:.0%} | {row['cpu_s']:.1f} | {repeated_cpu:.0%} | "
            f"{row['items_per_s']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()

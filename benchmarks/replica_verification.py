"""How much verification the replicas of a Ray Serve deployment repeat, and what sharing
verdicts between them saves, under verl's streaming traffic.

Each replica keeps its own verdict cache, so an answer seen by N replicas can be verified N
times. This deploys the app with 1, 2 and 4 replicas (one scoring process each) on a local
Ray instance, sends the same traffic to each deployment through Ray's proxy (8 clients,
requests of 1-8 items back to back, as verl's reward workers send them, drawn from
``--steps`` fresh GRPO steps of 1,024 items), and reads every replica's metrics from
``/metrics/replicas``: distinct answers verified and the workers' CPU seconds spent on it.
One replica verifies each distinct answer once: its count is the work to be done; the
rest, with more replicas, is repeated work.

    python benchmarks/replica_verification.py --seconds 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from reward_service.bench.local_server import free_port
from reward_service.bench.streaming import CLIENTS, measure_stream
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


def run(replicas: int, share: bool, pool: list[dict[str, str]], seconds: float) -> dict:
    """One fresh deployment of ``replicas`` replicas under the streaming traffic."""
    import ray
    from ray import serve

    from deploy.ray_serve_app import build_app
    from reward_service.stats.shared import KEEPER_NAME, KEEPER_NAMESPACE, METRICS_EVERY_S

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(replicas=replicas, workers_per_replica=1, share_verdicts=share))
    url = f"http://127.0.0.1:{port}"
    try:
        while len(httpx.get(f"{url}/metrics/replicas").text.split("replica=")) < 2:
            time.sleep(0.5)
        before = _totals(url)
        row = measure_stream(f"{replicas} replicas", url, pool, (1, 8), None, seconds)
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
        "items_per_s": row.items_per_s,
        "p50_ms": statistics.median(row.end_to_end_ms),
        "p99_ms": sorted(row.end_to_end_ms)[int(0.99 * (len(row.end_to_end_ms) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
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
    rows = []
    for share in shares:
        for replicas in (1, 2, 4):
            pool = [
                {"response": item.response, "ground_truth": item.ground_truth}
                for seed in range(args.steps)
                for item in grpo_step(1024, pathological_share=0.0, seed=100 * len(rows) + seed)
            ]
            rows.append(run(replicas, share, pool, args.seconds))
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

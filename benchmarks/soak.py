"""Soak test (not a test-suite test): minutes of mixed traffic with faults, against a real
``reward-service serve`` on 127.0.0.1.

    python benchmarks/soak.py [--minutes 10] [--clients 32] [--workers 2] [--kill-every 1 10]

32 clients send requests of 1-8 items (verl's streaming reward workers) and of 32-256
items (whole-batch trainers), 1% of the items pathological. A fairness probe keeps a
batch of slow items running and times 1-item requests beside it. All along, a killer
sends random rounds of SIGKILL 1-10 s apart (``--kill-every``): one worker, every worker,
the fork server, or the fork server and the workers in either order up to 0.3 s apart; a
watcher asks /health every second. It prints items sent vs scored, mismatches against
in-process scoring, answers by code, item errors, kill rounds, pool replacements, /health
answers, server and worker RSS at start and end, and the 1-item latency while a
pathological batch runs. Results: RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import psutil

from reward_service.bench.local_server import ServiceProcess
from reward_service.bench.workload import grpo_step
from reward_service.scoring import compute_score

SIGNALS = ("score", "verify", "format", "reflect", "pred", "status")
MAX_ATTEMPTS = 100


@dataclass
class Tally:
    """What the clients saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    items_sent: int = 0
    items_scored: int = 0
    items_lost: int = 0
    compared: int = 0
    mismatches: int = 0
    codes: Counter[int | str] = field(default_factory=Counter)
    item_errors: Counter[str] = field(default_factory=Counter)
    probe_ms: list[float] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    health: Counter[int | str] = field(default_factory=Counter)


def pathological(rng: random.Random) -> dict[str, str]:
    """A distinct slow or hanging answer each time (so no cache can answer it)."""
    power = rng.randrange(300, 400)
    if rng.random() < 0.5:
        return {
            "response": f"<think>x</think> \\boxed{{(x+1)^{{{2 * power}}}}}",
            "ground_truth": f"(x^2+2x+1)^{{{power}}}",
        }
    return {"response": f"\\boxed{{9^{{9^{{9^{{9^{{{power}}}}}}}}}}}", "ground_truth": "12.8"}


def post_until_scored(
    http: httpx.Client, items: list[dict[str, str]], tally: Tally
) -> list[dict] | None:
    """POST, honouring 503 + Retry-After and connection errors; None if never scored."""
    for _ in range(MAX_ATTEMPTS):
        try:
            response = http.post("/score", json={"items": items})
        except httpx.TransportError as exc:
            with tally.lock:
                tally.codes[type(exc).__name__] += 1
            time.sleep(1)
            continue
        with tally.lock:
            tally.codes[response.status_code] += 1
        if response.status_code == 200:
            return response.json()["results"]
        time.sleep(float(response.headers.get("retry-after", 1)))
    return None


def client(url: str, seed: int, pool: list, expected: dict, deadline: float, tally: Tally) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=300) as http:
        while time.monotonic() < deadline:
            size = rng.randint(1, 8) if rng.random() < 0.5 else rng.randint(32, 256)
            items = [
                pathological(rng) if rng.random() < 0.01 else rng.choice(pool) for _ in range(size)
            ]
            results = post_until_scored(http, items, tally)
            with tally.lock:
                tally.items_sent += size
                if results is None:
                    tally.items_lost += size
                    continue
                tally.items_scored += len(results)
                for sent, result in zip(items, results, strict=True):
                    if result["status"] == "error":
                        tally.item_errors[result["error"][:60]] += 1
                    want = expected.get(sent["response"])
                    if want is None or result["status"] != "ok" or want["status"] != "ok":
                        continue
                    tally.compared += 1
                    tally.mismatches += any(result[key] != want[key] for key in SIGNALS)


def fairness_probe(url: str, deadline: float, tally: Tally) -> None:
    """Keeps a batch of 16 slow distinct items in flight and times 1-item requests."""
    rng = random.Random(-1)
    single = {"items": [{"response": "<think>a</think> \\boxed{12.8}", "ground_truth": "12.8"}]}
    with httpx.Client(base_url=url, timeout=300) as http:
        while time.monotonic() < deadline:
            batch = [pathological(rng) for _ in range(16)]
            slow = threading.Thread(target=post_until_scored, args=(http, batch, Tally()))
            slow.start()
            time.sleep(0.5)
            while slow.is_alive() and time.monotonic() < deadline:
                started = time.perf_counter()
                if http.post("/score", json=single).status_code == 200:
                    with tally.lock:
                        tally.probe_ms.append((time.perf_counter() - started) * 1000)
                time.sleep(0.2)
            slow.join()


def rss_mb(service: ServiceProcess) -> tuple[float, float]:
    """Resident memory of the server process and of its scoring processes together."""
    server = psutil.Process(service.process.pid)  # type: ignore[union-attr]
    workers = sum(child.memory_info().rss for child in server.children(recursive=True))
    return server.memory_info().rss / 2**20, workers / 2**20


def _pool_processes(service: ServiceProcess) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """The live fork servers of the service and their children (the workers)."""
    servers, workers = [], []
    for child in psutil.Process(service.process.pid).children():  # type: ignore[union-attr]
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "forkserver" in " ".join(child.cmdline()):
                servers.append(child)
                workers += [w for w in child.children() if w.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            continue
    return servers, workers


def _kill(processes: list[psutil.Process]) -> int:
    killed = 0
    for process in processes:
        try:
            process.send_signal(signal.SIGKILL)
            killed += 1
        except psutil.Error:
            continue
    return killed


def killer(
    service: ServiceProcess, apart: tuple[float, float], deadline: float, tally: Tally
) -> None:
    """Random kill rounds ``apart`` seconds apart (uniformly) until ``deadline``."""
    rng = random.Random(17)
    while time.monotonic() + apart[1] < deadline:
        time.sleep(rng.uniform(*apart))
        servers, workers = _pool_processes(service)
        kind = rng.choice(["one worker", "every worker", "fork server", "fork server and workers"])
        if kind == "one worker":
            killed = _kill(workers[:1])
        elif kind == "every worker":
            killed = _kill(workers)
        elif kind == "fork server":
            killed = _kill(servers)
        else:
            first, then = (servers, workers) if rng.random() < 0.5 else (workers, servers)
            killed = _kill(first)
            time.sleep(rng.uniform(0, 0.3))
            killed += _kill(then)
        with tally.lock:
            tally.kills[kind] += 1
            tally.kills["processes killed"] += killed


def health_watcher(url: str, deadline: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        while time.monotonic() < deadline:
            try:
                code: int | str = http.get("/health").status_code
            except httpx.TransportError as exc:
                code = type(exc).__name__
            with tally.lock:
                tally.health[code] += 1
            time.sleep(1.0)


def wait_until_scoring(url: str) -> float:
    """Seconds until a new answer is verified (the last kill may have just happened)."""
    started = time.monotonic()
    body = {"response": "\\boxed{\\frac{987654321}{8}}", "ground_truth": "123456790.125"}
    while True:
        try:
            if httpx.post(f"{url}/score", json=body, timeout=60).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)


def _counts(counter: Counter) -> str:
    return ", ".join(f"{key}: {n}" for key, n in sorted(counter.items(), key=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--kill-every", type=float, nargs=2, default=[1.0, 10.0], metavar=("MIN_S", "MAX_S")
    )
    args = parser.parse_args()

    pool = [
        {"response": i.response, "ground_truth": i.ground_truth}
        for i in grpo_step(2000, 200, 0.0, seed=7)
    ]
    print(f"scoring {len(pool)} items in-process for the comparison ...", flush=True)
    expected = {
        item["response"]: compute_score("soak", item["response"], item["ground_truth"])
        for item in pool
    }

    env = {"REWARD_SERVICE_WORKERS": str(args.workers), "REWARD_SERVICE_LOG_LEVEL": "warning"}
    with ServiceProcess(env=env) as service:
        httpx.post(f"{service.url}/score", json={"items": pool[:64]}, timeout=120)  # warm
        start_rss = rss_mb(service)
        tally = Tally()
        duration = args.minutes * 60
        deadline = time.monotonic() + duration
        threads = [
            threading.Thread(
                target=client, args=(service.url, seed, pool, expected, deadline, tally)
            )
            for seed in range(args.clients)
        ]
        threads.append(threading.Thread(target=fairness_probe, args=(service.url, deadline, tally)))
        apart = tuple(args.kill_every)
        threads.append(threading.Thread(target=killer, args=(service, apart, deadline, tally)))
        threads.append(threading.Thread(target=health_watcher, args=(service.url, deadline, tally)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        recovered_in = wait_until_scoring(service.url)
        end_rss = rss_mb(service)
        restarts = [
            line
            for line in httpx.get(f"{service.url}/metrics").text.splitlines()
            if line.startswith("reward_worker_restarts_total")
        ]
    replaced = service.output.count("scoring pool replaced")

    probe = sorted(tally.probe_ms)
    p99 = probe[min(len(probe) - 1, int(len(probe) * 0.99))] if probe else float("nan")
    p50 = statistics.median(probe) if probe else float("nan")
    rows = [
        ("duration", f"{args.minutes:g} min, {args.clients} clients, {args.workers} workers"),
        ("kill rounds apart (s)", f"{args.kill_every[0]:g}-{args.kill_every[1]:g}"),
        ("kill rounds", ", ".join(f"{kind}: {n}" for kind, n in sorted(tally.kills.items()))),
        ("pool replacements", str(replaced)),
        ("/health answers (every second)", _counts(tally.health)),
        (
            "items sent / scored / lost",
            f"{tally.items_sent} / {tally.items_scored} / {tally.items_lost}",
        ),
        ("results compared with in-process / mismatched", f"{tally.compared} / {tally.mismatches}"),
        ("answers by code", _counts(tally.codes)),
        ("item errors", _counts(tally.item_errors) or "none"),
        ("scoring again after the last kill, within (s)", f"{recovered_in:.1f}"),
        ("server RSS start -> end (MB)", f"{start_rss[0]:.0f} -> {end_rss[0]:.0f}"),
        ("scoring processes RSS start -> end (MB)", f"{start_rss[1]:.0f} -> {end_rss[1]:.0f}"),
        (
            "1-item latency beside a pathological batch, p50 / p99 (ms)",
            f"{p50:.0f} / {p99:.0f} ({len(probe)} requests)",
        ),
        ("worker restarts", restarts[0].split()[-1] if restarts else "0"),
    ]
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

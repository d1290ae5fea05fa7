"""What one request costs the server (not a test-suite test): peak memory, time, the size
of the answer, and how long /health waited meanwhile, for hostile and ordinary bodies,
against a real ``reward-service serve`` on 127.0.0.1 (default settings, 1 worker).

    python benchmarks/request_cost.py [--baseline /path/to/older/checkout]

Peak memory is the server process's resident high-water mark (``VmHWM``, reset before
each body), minus its level before. /health is asked every 20 ms while the body is sent
and answered. With ``--baseline``, the same bodies go to that checkout's code
(``PYTHONPATH``), side by side in one table. Results: RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from reward_service.bench.local_server import ServiceProcess
from reward_service.bench.workload import grpo_step

SERVE = (sys.executable, "-P", "-m", "reward_service.cli", "serve")
"""``reward-service serve`` that imports its code from PYTHONPATH, never from the current
directory (``-P``), so a baseline checkout really runs its own code."""


def _empty_items(count: int) -> bytes:
    return b'{"items":[' + b",".join([b"{}"] * count) + b"]}"


def _unknown_fields() -> bytes:
    item = {"response": 1, "ground_truth": 2, **{f"x{k}": k for k in range(1000)}}
    return orjson.dumps({"items": [item] * 100})


def _step() -> bytes:
    step = grpo_step(4096, 200, pathological_share=0.0)
    items = [{"response": i.response, "ground_truth": i.ground_truth} for i in step]
    return orjson.dumps({"items": items})


def _tiny_values() -> bytes:
    item = {"response": "\\boxed{1}", "ground_truth": "1", "extra_info": {"n": [0] * 10_000_000}}
    return orjson.dumps(item)


BODIES: dict[str, Callable[[], bytes]] = {
    "300,000 empty items": lambda: _empty_items(300_000),
    "16,384 empty items": lambda: _empty_items(16_384),
    "100 items of 1,000 unknown fields": _unknown_fields,
    "a GRPO step (4,096 items)": _step,
    "10 M zeros in extra_info": _tiny_values,
}


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def cost(service: ServiceProcess, body: bytes) -> tuple[int, int, int, float, float]:
    """(status, answer bytes, peak memory growth, seconds, longest /health wait)."""
    pid = service.process.pid  # type: ignore[union-attr]
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _peak_rss(pid)
    waits: list[float] = []
    done = threading.Event()

    def watch_health() -> None:
        with httpx.Client(base_url=service.url, timeout=120) as http:
            while not done.is_set():
                started = time.perf_counter()
                http.get("/health")
                waits.append(time.perf_counter() - started)
                time.sleep(0.02)

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    started = time.perf_counter()
    headers = {"content-type": "application/json"}
    response = httpx.post(f"{service.url}/score", content=body, headers=headers, timeout=600)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    grew = _peak_rss(pid) - before
    return response.status_code, len(response.content), grew, seconds, max(waits, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a checkout to measure side by side (PYTHONPATH)")
    args = parser.parse_args()
    versions = {"this code": os.environ.get("PYTHONPATH")}
    if args.baseline:
        versions["baseline"] = args.baseline
    print(
        "| body | size | code | answer | answer bytes | peak memory growth | x body | "
        "seconds | longest /health wait (s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, build in BODIES.items():
        body = build()
        for version, code in versions.items():
            env = {"REWARD_SERVICE_WORKERS": "1", "REWARD_SERVICE_LOG_LEVEL": "warning"}
            if code is not None:
                env["PYTHONPATH"] = code
            with ServiceProcess(env=env, command=SERVE) as service:
                status, size, grew, seconds, waited = cost(service, body)
            print(
                f"| {name} | {len(body) / 1e6:.2f} MB | {version} | {status} | {size:,} | "
                f"{grew / 1e6:.0f} MB | {grew / len(body):.1f} | {seconds:.2f} | {waited:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

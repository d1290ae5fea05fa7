"""What one request costs the server (not a test-suite test), against a real
``reward-service serve`` on 127.0.0.1, in two parts:

    python benchmarks/request_cost.py [--part hot|bodies|all|where] [--baseline /older/checkout]

``hot``: the request path as verl's streaming reward workers use it. The server process's
CPU time per request (``/proc``: user + system, all its threads) over sequential requests
of each shape, beside a bare FastAPI + pydantic route (:data:`bare_app`, served by uvicorn
the same way) measured in the same run, rounds interleaved; then 8 clients sending 1-item
requests back to back (p50 latency), and a cold 4,096-item step against verl's naive
per-item loop. Both servers log every request (uvicorn's access log, as users run them),
and the service records every item when its code can (``REWARD_SERVICE_RECORD_DIR``).
Each figure is checked against issue 27's goals: PASS or FAIL.

``bodies``: peak memory, time, the size of the answer and how long /health waited
meanwhile, for hostile and ordinary bodies (default settings, 1 worker). Peak memory is the
server process's resident high-water mark (``VmHWM``, reset before each body), minus its
level before; /health is asked every 20 ms while the body is sent and answered.

``where`` (not in ``all``): where the time goes. A sampling profile (py-spy, which must be
on PATH: ``pip install py-spy``) of each server under sequential cached 1-item requests,
its samples put in buckets by what they run, each bucket in milliseconds of the server's
CPU per request measured meanwhile, the bare route beside it; then a cold step's CPU split
between the server and its pool, and, in this process, between the analysis of its
responses and the verification of its distinct pairs: what bounds it.

With ``--baseline``, the same measurements run on that checkout's code (``PYTHONPATH``),
side by side. Results: RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import psutil
from fastapi import FastAPI
from pydantic import BaseModel

from reward_service.bench.local_server import ServiceProcess, free_port
from reward_service.bench.streaming import measure_stream
from reward_service.bench.whole_step import measure_naive
from reward_service.bench.workload import WorkloadItem, grpo_step
from reward_service.scoring import MultiSignalMathReward
from reward_service.settings import ServiceSettings

# --- the hot path -------------------------------------------------------------------------


class BareItem(BaseModel):
    """One item, as the bare route validates it."""

    response: str
    ground_truth: str


class BareBatch(BaseModel):
    """A batch, as the bare route validates it."""

    items: list[BareItem]


bare_app = FastAPI()
"""The baseline: a FastAPI route that validates the same body with pydantic and answers a
score per item, doing nothing else."""


@bare_app.get("/health")
async def bare_health() -> dict[str, str]:
    return {"status": "ok"}


@bare_app.post("/score")
async def bare_score(batch: BareBatch) -> dict[str, list[dict[str, float]]]:
    return {"results": [{"score": 1.0} for _ in batch.items]}


BARE_SERVE = (sys.executable, "-P", "-m", "uvicorn", "benchmarks.request_cost:bare_app")
GOALS = {"cpu_ratio": 2.2, "cpu_ratio_goal": 1.35, "clients_p50_ms": 8.0, "cold_speedup": 20.0}
"""Issue 27: server CPU per cached 1-item request at most 2.2x the bare route's (the goal
1.35x), 8 back-to-back 1-item clients at most 8 ms p50, a cold step at least 20x the naive
loop."""
ROUNDS = 3
WARM_S = 2.0
"""Requests sent before measuring, at least: long enough for the record's first write (its
thread imports what it needs once)."""
JSON = {"content-type": "application/json"}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (every thread of it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _item(answer: str, n: int = 0) -> dict[str, str]:
    """A response of the trained format; ``n`` makes its text its own (as a model's are),
    while the (answer, label) pair, what the verdict cache keeps, stays the same."""
    response = (
        f"<think>Sample {n}: P = kAV^3, so k = 1/256 and V^3 = 2048, so V = 12.8.</think> "
        f"\\boxed{{{answer}}} <reflection>Substituting back gives P = 32. "
        "The answer is correct.</reflection>"
    )
    return {"response": response, "ground_truth": "12.8"}


Body = Callable[[int], bytes]
"""The body of a shape's n-th request."""


def _shapes() -> dict[str, tuple[str, Body]]:
    """Request shapes: their route and their n-th body. "Cached": the verdict of the
    (answer, label) pair is in the service's cache; every response's text is new."""

    def openrlhf(n: int) -> bytes:
        query = _item("12.8", n)["response"]
        return orjson.dumps({"query": [query], "prompts": [""], "labels": ["12.8"]})

    return {
        "1 item, cached": ("/score", lambda n: orjson.dumps({"items": [_item("12.8", n)]})),
        "8 items, cached": (
            "/score",
            lambda n: orjson.dumps({"items": [_item("12.8", 8 * n + k) for k in range(8)]}),
        ),
        "1 item, new answer": ("/score", lambda n: orjson.dumps({"items": [_item(f"{n}.5", n)]})),
        "1 query, OpenRLHF": ("/openrlhf/get_reward", openrlhf),
    }


def cpu_per_request(server: ServiceProcess, route: str, body: Body, n: int) -> float:
    """Milliseconds of the server's CPU per request over ``n`` sequential requests (after a
    warm-up), the server started for it and stopped after."""
    with server, httpx.Client(base_url=server.url, timeout=120) as client:
        pid = server.process.pid  # type: ignore[union-attr]
        warm_until, k = time.monotonic() + WARM_S, 0
        while k < 50 or time.monotonic() < warm_until:  # caches, once-only imports
            k += 1
            client.post(route, content=body(-k), headers=JSON).raise_for_status()
        before = _cpu_seconds(pid)
        for k in range(n):
            client.post(route, content=body(k), headers=JSON).raise_for_status()
        return (_cpu_seconds(pid) - before) / n * 1000


def _service(code: str | None, record_dir: str) -> ServiceProcess:
    """``reward-service serve`` as users run it: default settings (a worker per CPU, the
    access log), every item recorded where the code can record."""
    env = {"REWARD_SERVICE_WORKERS": str(len(os.sched_getaffinity(0)))}
    if "record_dir" in ServiceSettings.model_fields:
        env["REWARD_SERVICE_RECORD_DIR"] = record_dir
    if code is not None:
        env["PYTHONPATH"] = code
    return ServiceProcess(env=env, command=SERVE)


def _bare() -> ServiceProcess:
    """The bare route under uvicorn, its access log on as the service's is."""
    port = free_port()
    return ServiceProcess(port=port, command=(*BARE_SERVE, "--port", str(port)))


def cpu_table(versions: dict[str, str | None], requests: int) -> float:
    """Server CPU per request of each shape beside the bare route (the same body, or the
    cached 1-item one for OpenRLHF's); returns this code's cached 1-item ratio."""
    print("| request shape | code | server CPU per request (ms) | bare route (ms) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    shapes = _shapes()
    cached_ratio = math.inf
    for shape, (route, body) in shapes.items():
        bare_body = body if route == "/score" else shapes["1 item, cached"][1]
        for version, code in versions.items():
            ours, bare = [], []
            for _ in range(ROUNDS):  # interleaved: both see the same machine
                with tempfile.TemporaryDirectory() as record:
                    ours.append(cpu_per_request(_service(code, record), route, body, requests))
                bare.append(cpu_per_request(_bare(), "/score", bare_body, requests))
            ours_ms, bare_ms = statistics.median(ours), statistics.median(bare)
            if (shape, version) == ("1 item, cached", "this code"):
                cached_ratio = ours_ms / bare_ms
            print(
                f"| {shape} | {version} | {ours_ms:.3f} | {bare_ms:.3f} | "
                f"{ours_ms / bare_ms:.2f}x |",
                flush=True,
            )
    return cached_ratio


def clients_table(versions: dict[str, str | None], seconds: float) -> float:
    """8 clients sending cached 1-item requests back to back, ROUNDS rounds with the versions
    interleaved; the medians of the rounds. Returns this code's p50 ms."""
    print("| 8 clients, 1 item each, back to back | requests/s | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- |")
    pool = [_item("12.8", n) for n in range(1000)]
    rounds: dict[str, list[tuple[float, float, float]]] = {version: [] for version in versions}
    for _ in range(ROUNDS):
        for version, code in versions.items():
            with tempfile.TemporaryDirectory() as record, _service(code, record) as service:
                measure_stream("warm-up", service.url, pool, (1, 1), None, 1.0)
                row = measure_stream(version, service.url, pool, (1, 1), None, seconds)
            ordered = sorted(row.end_to_end_ms)
            rounds[version].append(
                (
                    row.requests / row.seconds,
                    statistics.median(ordered),
                    ordered[round(0.99 * (len(ordered) - 1))],
                )
            )
    for version, measured in rounds.items():
        rate, p50, p99 = (statistics.median(column) for column in zip(*measured, strict=True))
        print(f"| {version} | {rate:.0f} | {p50:.1f} | {p99:.1f} |", flush=True)
    return statistics.median(p50 for _, p50, _ in rounds["this code"])


def _cold_step() -> tuple[list[WorkloadItem], bytes]:
    """The cold step's items and its /score body."""
    step = grpo_step(4096, 200, pathological_share=0.0, seed=1)
    items = [{"response": item.response, "ground_truth": item.ground_truth} for item in step]
    return step, orjson.dumps({"items": items})


def _naive_seconds(step: list[WorkloadItem], sample: int) -> float:
    """verl's naive loop over ``step``, extrapolated from a stratified sample."""
    naive = measure_naive("cold step", step, sample, ServiceSettings().item_timeout_s)
    return len(step) / naive.items_per_s


def _post(url: str, body: bytes) -> float:
    started = time.perf_counter()
    httpx.post(f"{url}/score", content=body, headers=JSON, timeout=600).raise_for_status()
    return time.perf_counter() - started


def cold_step_table(versions: dict[str, str | None], naive_sample: int) -> float:
    """A cold 4,096-item step (a fresh service, its cache empty) against verl's naive loop
    in the same run, ROUNDS rounds with the versions interleaved; returns this code's
    speedup."""
    step, body = _cold_step()
    naive_s = _naive_seconds(step, naive_sample)
    print("| cold 4,096-item step | seconds | naive loop (s, from its sample) | speedup |")
    print("| --- | --- | --- | --- |")
    times: dict[str, list[float]] = {version: [] for version in versions}
    for _ in range(ROUNDS):
        for version, code in versions.items():
            with tempfile.TemporaryDirectory() as record, _service(code, record) as service:
                times[version].append(_post(service.url, body))
    for version, measured in times.items():
        seconds = statistics.median(measured)
        print(
            f"| {version} | {seconds:.2f} | {naive_s:.1f} | {naive_s / seconds:.1f}x |", flush=True
        )
    return naive_s / statistics.median(times["this code"])


def _verdict(name: str, value: float, goal: float, at_least: bool = False) -> None:
    passed = value >= goal if at_least else value <= goal
    bound = f"{'>=' if at_least else '<='} {goal:g}"
    print(f"{'PASS' if passed else 'FAIL'}: {name}: {value:.2f} ({bound})")


def hot_path(versions: dict[str, str | None], requests: int, seconds: float) -> None:
    """The hot-path tables, then each figure against its goal."""
    ratio = cpu_table(versions, requests)
    print()
    p50 = clients_table(versions, seconds)
    print()
    speedup = cold_step_table(versions, naive_sample=256)
    print()
    _verdict("server CPU per cached 1-item request / bare route", ratio, GOALS["cpu_ratio"])
    _verdict("the same against the goal", ratio, GOALS["cpu_ratio_goal"])
    _verdict("8 back-to-back 1-item clients, p50 ms", p50, GOALS["clients_p50_ms"])
    _verdict("cold 4,096-item step / naive loop", speedup, GOALS["cold_speedup"], at_least=True)


# --- hostile and ordinary bodies -----------------------------------------------------------

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


def bodies(versions: dict[str, str | None]) -> None:
    """The table of hostile and ordinary bodies."""
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


# --- where the time goes ---------------------------------------------------------------------

BUCKETS: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    # (bucket, whether its marks name the sample's innermost frame (else any frame), marks)
    ("event loop: epoll, and C code under run_until_complete", True, ("Runner.run ",)),
    ("socket writes (transport.write)", True, ("RequestResponseCycle.send (",)),
    ("hand-offs to threads (to_thread, futures)", False, ("thread.py", "Condition.", "to_thread")),
    ("the record (its writer thread, queueing)", False, ("RecordWriter", "record/", "pyarrow")),
    ("statistics", False, ("StatsRecorder", "stats/")),
    ("access log", False, ("logging/", "log_redaction")),
    ("dependency solving", False, ("solve_dependencies", "api/deps.py")),
    ("body: read, decode, validate", False, ("api/body.py", "model_validate", "admission")),
    ("scoring: analysis, verdict cache", False, ("scoring/", "engine/")),
    ("metrics", False, ("prometheus_client", "ServiceMetrics")),
    ("HTTP parsing, middleware, routing", False, ("uvicorn/", "starlette/", "fastapi/")),
)


def _bucket(stack: str) -> str:
    innermost = stack.rsplit(";", 1)[-1]
    for name, at_leaf, marks in BUCKETS:
        if any((innermost.startswith(m) if at_leaf else m in stack) for m in marks):
            return name
    return "other"


def _py_spy(py_spy: str, pid: int, samples: Path, *options: str) -> subprocess.Popen[bytes]:
    """py-spy recording process ``pid``'s busy threads into ``samples`` (raw stacks) until
    it is sent SIGINT."""
    command = [py_spy, "record", "--nonblocking", "--format", "raw", *options]
    return subprocess.Popen(
        [*command, "--output", str(samples), "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stopped(
    spy: subprocess.Popen[bytes], samples: Path, bucket: Callable[[str], str]
) -> Counter[str]:
    """Stop py-spy, then count its samples by ``bucket`` of their stacks."""
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    counts: Counter[str] = Counter()
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        counts[bucket(stack)] += int(count)
    return counts


def profile(server: ServiceProcess, requests: int, py_spy: str) -> dict[str, float]:
    """Milliseconds of the server's CPU per cached 1-item request, by bucket (py-spy's
    samples of the server's busy threads, shared out over the CPU measured meanwhile)."""
    route, body = _shapes()["1 item, cached"]
    with server, httpx.Client(base_url=server.url, timeout=120) as client:
        pid = server.process.pid  # type: ignore[union-attr]
        for k in range(300):
            client.post(route, content=body(-k - 1), headers=JSON).raise_for_status()
        with tempfile.TemporaryDirectory() as folder:
            samples = Path(folder, "samples.txt")
            spy = _py_spy(py_spy, pid, samples, "--rate", "400", "--threads")
            for k in range(100):  # while py-spy attaches
                client.post(route, content=body(-k - 1000), headers=JSON).raise_for_status()
            before = _cpu_seconds(pid)
            for k in range(requests):
                client.post(route, content=body(k), headers=JSON).raise_for_status()
            cpu_ms = (_cpu_seconds(pid) - before) / requests * 1000
            counts = _stopped(spy, samples, _bucket)
    total = sum(counts.values()) or 1
    return {name: cpu_ms * n / total for name, n in counts.items()} | {"total": cpu_ms}


def profile_table(versions: dict[str, str | None], requests: int, py_spy: str) -> None:
    """Where a cached 1-item request's server CPU goes, the bare route's beside it."""
    with tempfile.TemporaryDirectory() as record:
        columns = {"bare route": profile(_bare(), requests, py_spy)} | {
            version: profile(_service(code, record), requests, py_spy)
            for version, code in versions.items()
        }
    print(f"| where the server's CPU goes (ms per request) | {' | '.join(columns)} |")
    print(f"| --- |{' --- |' * len(columns)}")
    for name in [bucket[0] for bucket in BUCKETS] + ["other", "total"]:
        cells = " | ".join(f"{column.get(name, 0.0):.3f}" for column in columns.values())
        print(f"| {name} | {cells} |", flush=True)


def _cpu_of(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


COLD_BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pool: verification (math-verify, sympy)", ("_verify_one",)),
    ("pool: analysis (answer, format, reflection)", ("analyze_chunk", "_analyze_each")),
    ("pool: hand-over (pickling, queues, pebble)", ("pebble", "multiprocessing", "pickle")),
    ("server: body (read, decode, validate)", ("api/body.py", "model_validate", "admission")),
    ("server: statistics", ("stats/",)),
    ("server: the record", ("record/", "pyarrow")),
    ("server: batching, combining, the answer", ("engine/", "api/", "starlette/", "fastapi/")),
)
"""Where a cold step's samples go, by the first bucket whose marks its stack holds."""


def _cold_bucket(stack: str) -> str:
    frames = ";".join(f for f in stack.split(";") if not f.startswith("process "))
    return next((name for name, marks in COLD_BUCKETS if any(m in frames for m in marks)), "other")


def _cold_profile(body: bytes, py_spy: str) -> tuple[float, Counter[str]]:
    """One cold step on a fresh service of this code under py-spy (its pool included):
    the step's seconds and its samples by bucket."""
    with tempfile.TemporaryDirectory() as folder, _service(None, folder) as service:
        samples = Path(folder, "samples.txt")
        pid = service.process.pid  # type: ignore[union-attr]
        spy = _py_spy(py_spy, pid, samples, "--rate", "200", "--subprocesses")
        time.sleep(2.0)  # py-spy attaches to the server and its pool (no request is timed)
        seconds = _post(service.url, body)
        counts = _stopped(spy, samples, _cold_bucket)
    return seconds, counts


def cold_step_split(versions: dict[str, str | None], py_spy: str) -> None:
    """A cold step's wall time and CPU, the server's and its pool's (ROUNDS rounds, the
    versions interleaved), where this code's CPU goes (py-spy over the server and its pool),
    then the scoring's own CPU and the naive loop in this process, all in this run: what
    bounds the step on this machine's cores."""
    step, body = _cold_step()
    cores = len(os.sched_getaffinity(0))
    rows: dict[str, list[tuple[float, float, float]]] = {version: [] for version in versions}
    for _ in range(ROUNDS):
        for version, code in versions.items():
            with tempfile.TemporaryDirectory() as record, _service(code, record) as service:
                server = psutil.Process(service.process.pid)  # type: ignore[union-attr]
                before = {p.pid: _cpu_of(p) for p in (server, *server.children(True))}
                seconds = _post(service.url, body)
                used = {
                    p.pid: _cpu_of(p) - before.get(p.pid, 0.0)
                    for p in (server, *server.children(True))
                }
                server_s = used.pop(server.pid)
                rows[version].append((seconds, server_s, sum(used.values())))
    print(
        "| cold 4,096-item step | seconds | server CPU (s) | pool CPU (s) | all CPU / cores (s) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for version, measured in rows.items():
        for seconds, server_s, pool_s in measured:
            print(
                f"| {version} | {seconds:.2f} | {server_s:.2f} | {pool_s:.2f} | "
                f"{(server_s + pool_s) / cores:.2f} |",
                flush=True,
            )
    profiled_s, counts = _cold_profile(body, py_spy)
    total = sum(counts.values()) or 1
    print(f"\n| where this code's cold step goes (py-spy, a {profiled_s:.2f} s step) | share |")
    print("| --- | --- |")
    for name in [bucket[0] for bucket in COLD_BUCKETS] + ["other"]:
        print(f"| {name} | {counts[name] / total:.0%} |")
    reward = MultiSignalMathReward()
    reward.verify("1", "1")  # once-only imports
    started = time.process_time()
    analyses = [reward.analyze(item.response) for item in step]
    analysis_s = time.process_time() - started
    pairs = {
        (a.pred, i.ground_truth) for a, i in zip(analyses, step, strict=True) if a.pred is not None
    }
    started = time.process_time()
    for pred, label in pairs:
        reward.verify(pred, label)
    verify_s = time.process_time() - started
    naive_s = _naive_seconds(step, 256)
    scoring_s = (analysis_s + verify_s) / cores
    server_s = statistics.median(server for _, server, _ in rows["this code"])
    print(
        f"\nIn this process, this code: analysis of the {len(step):,} responses "
        f"{analysis_s:.2f} s CPU ({analysis_s / len(step) * 1000:.3f} ms each), verification "
        f"of the {len(pairs)} distinct pairs {verify_s:.2f} s CPU "
        f"({verify_s / len(pairs) * 1000:.1f} ms each); the naive loop {naive_s:.1f} s.\n"
        f"Bounds on {cores} cores: the scoring alone {scoring_s:.2f} s "
        f"({naive_s / scoring_s:.1f}x the naive loop); with the server's median "
        f"{server_s:.2f} s of CPU, {scoring_s + server_s / cores:.2f} s "
        f"({naive_s / (scoring_s + server_s / cores):.1f}x)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("hot", "bodies", "all", "where"), default="all")
    parser.add_argument("--baseline", help="a checkout to measure side by side (PYTHONPATH)")
    parser.add_argument("--requests", type=int, default=2000, help="per shape and round")
    parser.add_argument("--seconds", type=float, default=15.0, help="of the 8 clients")
    args = parser.parse_args()
    versions = {"this code": os.environ.get("PYTHONPATH")}
    if args.baseline:
        versions["baseline"] = args.baseline
    if args.part in ("hot", "all"):
        hot_path(versions, args.requests, args.seconds)
    if args.part in ("bodies", "all"):
        bodies(versions)
    if args.part == "where":
        py_spy = shutil.which("py-spy")
        if py_spy is None:
            parser.error("--part where needs py-spy on PATH (pip install py-spy)")
        profile_table(versions, args.requests, py_spy)
        print()
        cold_step_split(versions, py_spy)


if __name__ == "__main__":
    main()

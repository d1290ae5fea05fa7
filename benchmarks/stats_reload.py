"""How long a restart takes to read a long run's statistics back, and how much memory.

Writes the statistics file of a run of ``--steps`` GRPO steps of 4,096 items through the
service's own recorder (so the lines and the checkpoint are exactly what a service writes,
each item with its group, token count, truncation and data source as verl sends them),
in two shapes: one batch per step (a trainer posting whole steps), and verl 0.9's streamed
samples (1-8 items a batch, ~910 batches a step). Then, each in a fresh process, it reads
the file back as a restart does (the checkpoint plus the lines after it), without the
checkpoint (a file from before checkpoints: every line is read, in the background past
32 MiB), and as main read the file before (all of it into memory, then merged per step),
and prints a table: when the recorder was ready (the service can start its pool), when
every kept step was back, and the peak memory above the process's own before reading.

    python benchmarks/stats_reload.py --steps 2000 --dir /tmp/stats-bench
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ITEMS_PER_STEP = 4096
SAMPLES_PER_PROMPT = 16
"""GRPO's group size: 256 groups a step."""
KEPT_STEPS = 1000  # REWARD_SERVICE_STATS_STEPS's default


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _peak_mib() -> float:
    """This process's peak memory (not ru_maxrss: Linux carries it over from the parent
    through fork and exec, so a measuring process would report the generator's peak)."""
    return _status_mib("VmHWM")


def _scored_sample(size: int, seed: int) -> list[tuple[str, Any]]:
    from reward_service.bench.workload import grpo_step
    from reward_service.scoring import MultiSignalMathReward

    reward = MultiSignalMathReward()
    sample = grpo_step(size, pathological_share=0.0, seed=seed)
    return [(item.response, reward.score(item.response, item.ground_truth)) for item in sample]


def _items(step: int, first: int, chosen: list[tuple[str, Any]]) -> list[Any]:
    """What verl sends for items ``first``... of ``step``: group (prompt), tokens, source."""
    from reward_service.stats import ScoredItem

    return [
        ScoredItem(
            text, "12.8", "pi1", f"{step}-{(first + k) // SAMPLES_PER_PROMPT}", len(text) // 4
        )
        for k, (text, _) in enumerate(chosen)
    ]


def write_run(path: Path, steps: int, streamed: bool, seed: int = 0) -> dict[str, float]:
    """The file (and checkpoint) a service writes for ``steps`` steps of 4,096 items."""
    from reward_service.stats import StatsRecorder

    scored = _scored_sample(1024, seed)
    rng = random.Random(seed)
    recorder = StatsRecorder(KEPT_STEPS, jsonl_path=path)
    started = time.perf_counter()
    batches = 0
    for step in range(steps):
        left = ITEMS_PER_STEP
        while left:
            size = min(left, rng.randint(1, 8)) if streamed else left
            chosen = rng.sample(scored, size) if streamed else rng.choices(scored, k=size)
            items = _items(step, ITEMS_PER_STEP - left, chosen)
            recorder.record(items, [r for _, r in chosen], step, 3.0)
            left -= size
            batches += 1
    # killed, not stopped: no final checkpoint, the lines since the last one stay to replay
    return {"batches": batches, "seconds": time.perf_counter() - started}


def with_recent_checkpoint(path: Path, batches_since: int) -> Path:
    """A copy of ``path`` as a service leaves it ``batches_since`` batches after its last
    checkpoint (10 s of verl's streamed traffic is ~3,000 batches at the 290 requests/s one
    service sustains on 2 CPUs, RESULTS.md)."""
    from reward_service.stats import StatsRecorder

    copy = path.with_name(f"recent-{path.name}")
    shutil.copyfile(path, copy)
    recorder = StatsRecorder(KEPT_STEPS, jsonl_path=copy)
    recorder.wait_reloaded()
    recorder.close()  # the checkpoint, as of the file's end
    scored = _scored_sample(64, seed=1)
    rng = random.Random(1)
    later = StatsRecorder(KEPT_STEPS, jsonl_path=copy, checkpoint_every_s=float("inf"))
    step = later.step_counts(limit=1)[0]["step"] + 1
    sent = 0
    for _ in range(batches_since):
        chosen = rng.sample(scored, rng.randint(1, 8))
        later.record(_items(step, sent, chosen), [r for _, r in chosen], step, 3.0)
        sent += len(chosen)
    return copy


def _old_read(path: Path) -> list:
    """main's read_jsonl before this change: the whole file in memory, merged per step."""
    from reward_service.stats.step import StepStats, merge_by_step

    return merge_by_step(
        StepStats.from_dict(orjson.loads(line)) for line in path.read_bytes().splitlines()
    )[-KEPT_STEPS:]


def measure(mode: str, path: Path) -> dict[str, float]:
    """One reading, in this (fresh) process: seconds, steps, peak memory over the baseline."""
    from reward_service.stats import StatsRecorder

    base = _rss_mib()
    started = time.perf_counter()
    if mode == "old":
        steps = len(_old_read(path))
        ready = complete = time.perf_counter() - started
        peak = _peak_mib() - base
    else:
        recorder = StatsRecorder(KEPT_STEPS, jsonl_path=path)
        ready = time.perf_counter() - started
        recorder.wait_reloaded()
        complete = time.perf_counter() - started
        peak = _peak_mib() - base
        steps = len(recorder.step_counts())  # after the measurements: it copies them
    return {"ready": ready, "complete": complete, "steps": steps, "peak_mib": peak}


def _measure_in_fresh_process(mode: str, path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.splitlines()[-1])


def _count_lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: source.read(2**24), b""))


def _copy_without_checkpoint(path: Path) -> Path:
    bare = path.with_name(f"bare-{path.name}")
    shutil.copyfile(path, bare)
    return bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--old-steps", type=int, default=200, help="steps read the old way")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/stats-reload-bench"))
    parser.add_argument("--since", type=int, default=3000, help="batches after a checkpoint")
    parser.add_argument("--reuse", action="store_true", help="keep files already written")
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return
    from reward_service.stats.checkpoint import read_checkpoint

    args.dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for shape, streamed in (("one batch a step", False), ("streamed, 1-8 items a batch", True)):
        for steps in sorted({args.steps, args.old_steps}):
            path = args.dir / f"{'streamed' if streamed else 'whole'}-{steps}.jsonl"
            if not (args.reuse and path.exists()):
                for stale in (path, path.with_name(f"{path.name}.steps")):
                    stale.unlink(missing_ok=True)
                write_run(path, steps, streamed)
            lines = _count_lines(path)
            checkpoint = read_checkpoint(path)
            after = path.stat().st_size - (checkpoint.covers if checkpoint else 0)
            mib = path.stat().st_size / 2**20
            file = f"{steps} steps, {lines:,} lines, {mib:,.0f} MiB"
            recent = with_recent_checkpoint(path, args.since)
            modes = [
                (f"restart {args.since:,} batches after a checkpoint", "new", recent),
                ("restart: checkpoint as written + lines after it", "new", path),
            ]
            modes.append(("no checkpoint: every line", "new", _copy_without_checkpoint(path)))
            if steps == args.old_steps or not streamed:
                modes.append(("before: whole file in memory", "old", path))
            for name, mode, source in modes:
                result = _measure_in_fresh_process(mode, source)
                rows.append((shape, file, name, result, after if mode == "new" else None))
            for extra in [*args.dir.glob("bare-*"), *args.dir.glob("recent-*")]:
                extra.unlink()
    print("| shape | file | reading | ready after s | all steps after s | steps | peak MiB |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for shape, file, name, result, after in rows:
        tail = f" ({after / 2**20:.1f} MiB after it)" if "as written" in name else ""
        print(
            f"| {shape} | {file} | {name}{tail} | {result['ready']:.2f} | "
            f"{result['complete']:.2f} | {result['steps']:.0f} | {result['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()

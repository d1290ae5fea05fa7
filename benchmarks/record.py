"""What the record costs: bytes per item and per 4,096-item step, the caller's and the
writer's time, and how long re-scoring a long record takes.

Writes ``--steps`` GRPO steps of 4,096 items, scored by the service's batch scorer and
recorded through ``RecordWriter`` as a service does (each step arriving in 16 batches a
tenth of a second apart, so a step is several flush files, then compacted), for two kinds
of response text of about 1,300 tokens:

- ``pi1``: the synthetic pi1 workload (``reward_service.bench.workload``): every response
  solves one problem in the same few sentences, as a one-example GRPO run's do, so the
  responses compress well against each other (the low end);
- ``independent``: each response's reasoning a different 5,200-character window of
  sympy's source and docstrings (English, code and math, unrelated to its neighbours):
  nothing to share between responses (the high end).

Then re-scores the ``pi1`` record with a fresh scorer and prints both tables.

    python benchmarks/record.py --steps 30 --dir /tmp/record-bench
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from reward_service.bench.workload import PI1_GROUND_TRUTH, grpo_step
from reward_service.engine import BatchItem, BatchScorer, open_batch_scorer
from reward_service.record import RecordWriter, ScoredBatch, open_record
from reward_service.record.files import data_files, step_folder
from reward_service.record.rescore import rescore
from reward_service.record.schema import batch_table
from reward_service.scoring import RewardWeights, scorer_version
from reward_service.settings import ServiceSettings
from reward_service.stats.step import ScoredItem

ITEMS_PER_STEP = 4096
GROUP = 16
BATCHES_PER_STEP = 16
REASONING_CHARS = 5200
"""About 1,300 tokens of reasoning."""
RUN_STEPS = 2000


def _independent_corpus() -> str:
    import sympy

    root = Path(sympy.__file__).parent
    return "".join(path.read_text() for path in sorted(root.rglob("*.py")))


def _responses(kind: str, step: int, corpus: str) -> list[ScoredItem]:
    workload = grpo_step(ITEMS_PER_STEP, seed=step)
    if kind == "pi1":
        texts = [item.response for item in workload]
    else:
        rng = random.Random(step)
        texts = []
        for item in workload:
            start = rng.randrange(len(corpus) - REASONING_CHARS)
            tail = item.response[item.response.find("</think>") :]
            texts.append(f"<think>{corpus[start : start + REASONING_CHARS]}{tail}")
    return [
        ScoredItem(
            text,
            PI1_GROUND_TRUTH,
            data_source="pi1",
            group=f"{step}-{index // GROUP}",
            response_tokens=len(text) // 4,
            truncated=False,
        )
        for index, text in enumerate(texts)
    ]


async def _record_step(
    scorer: BatchScorer, writer: RecordWriter, step: int, items: list[ScoredItem]
) -> list[float]:
    """Score and record one step in batches; the time of each append (the caller's cost)."""
    report = await scorer.score([BatchItem(item.response, item.ground_truth) for item in items])
    size = len(items) // BATCHES_PER_STEP
    appends = []
    for start in range(0, len(items), size):
        batch = ScoredBatch(
            items[start : start + size],
            report.results[start : start + size],
            RewardWeights(),
            "/score",
            scorer_version(),
            time.time(),
        )
        began = time.perf_counter()
        writer.append(step, batch)
        appends.append(time.perf_counter() - began)
        await asyncio.sleep(0.1)
    return appends


async def _write(root: Path, kind: str, steps: int, scorer: BatchScorer) -> dict[str, float]:
    corpus = _independent_corpus() if kind == "independent" else ""
    appends: list[float] = []
    with RecordWriter(root, "bench") as writer:
        for step in range(steps):
            appends += await _record_step(scorer, writer, step, _responses(kind, step, corpus))
    step_bytes = [
        sum(path.stat().st_size for path in data_files(step_folder(root, step)))
        for step in range(steps)
    ]
    sample = _responses(kind, 0, corpus)[:ITEMS_PER_STEP]
    report = await scorer.score([BatchItem(item.response, item.ground_truth) for item in sample])
    began = time.perf_counter()
    table = batch_table(
        ScoredBatch(sample, report.results, RewardWeights(), "/score", "v", 0.0), "r", "b"
    )
    convert = time.perf_counter() - began
    began = time.perf_counter()
    pq.write_table(table, root / ".bench.tmp", compression="zstd")
    encode = time.perf_counter() - began
    (root / ".bench.tmp").unlink()
    return {
        "chars per response": statistics.mean(len(item.response) for item in sample),
        "bytes per item": sum(step_bytes) / (steps * ITEMS_PER_STEP),
        "MB per step": statistics.mean(step_bytes) / 1e6,
        "GB per 2,000 steps": statistics.mean(step_bytes) * RUN_STEPS / 1e9,
        "files per step": statistics.mean(
            len(data_files(step_folder(root, step))) for step in range(steps)
        ),
        "append us (median)": statistics.median(appends) * 1e6,
        "append us (max)": max(appends) * 1e6,
        "rows to Arrow, ms per step (holds the GIL)": convert * 1000,
        "Parquet encoding, ms per step (releases it)": encode * 1000,
    }


async def _rescore(root: Path, workers: int) -> dict[str, float]:
    async with open_batch_scorer(ServiceSettings(workers=workers)) as scorer:
        summary = await rescore(open_record(root), scorer, scorer_version())
    return {
        "steps": len(summary.steps),
        "items": summary.items,
        "changed": summary.changed,
        "seconds": summary.seconds,
        "s per step": summary.seconds / len(summary.steps),
        "h per 2,000 steps": summary.seconds / len(summary.steps) * RUN_STEPS / 3600,
    }


def _table(title: str, columns: Sequence[str], rows: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for column in columns:
        table.add_column(column, justify="right")
    for name in next(iter(rows.values())):
        table.add_row(name, *(f"{rows[column][name]:,.2f}" for column in columns))
    return table


async def main(steps: int, folder: Path, workers: int) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    sizes = {}
    async with open_batch_scorer(ServiceSettings(workers=workers)) as scorer:
        for kind in ("pi1", "independent"):
            sizes[kind] = await _write(folder / kind, kind, steps, scorer)
    console = Console()
    console.print(_table(f"The record of {steps} steps of 4,096 items", list(sizes), sizes))
    rescored = {"pi1": await _rescore(folder / "pi1", workers)}
    console.print(_table(f"Re-scoring it, {workers} workers", list(rescored), rescored))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/record-bench"))
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.steps, arguments.dir, arguments.workers))

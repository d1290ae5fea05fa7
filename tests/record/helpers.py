"""Batches to record, a way to wait for what the writer's thread does, filling a disk."""

from __future__ import annotations

import contextlib
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from reward_service.bench.workload import grpo_step
from reward_service.record import ScoredBatch
from reward_service.scoring import RewardWeights, ScoreResult
from reward_service.stats.step import ScoredItem

T = TypeVar("T")
VERSION = "reward-service test; math-verify test"


def wait_until(observe: Callable[[], T], timeout_s: float = 10.0) -> T:
    """The first truthy value ``observe`` returns, polled until ``timeout_s`` has passed.

    Raises:
        AssertionError: it stayed falsy.
    """
    deadline = time.monotonic() + timeout_s
    while not (value := observe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout_s} s")
        time.sleep(0.02)
    return value


def items(count: int, seed: int = 0) -> list[ScoredItem]:
    """``count`` responses of the synthetic pi1 workload, 8 to a group, none pathological."""
    step = grpo_step(count, pathological_share=0.0, seed=seed)
    return [
        ScoredItem(
            item.response,
            item.ground_truth,
            data_source="pi1",
            group=f"{seed}-{index // 8}",
            response_tokens=len(item.response) // 4,
            truncated=index % 17 == 0,
        )
        for index, item in enumerate(step)
    ]


def made_up_result(rng: random.Random) -> ScoreResult:
    """A plausible result, not scored (the writer does not care)."""
    verify, format_, reflect = rng.randint(0, 1), rng.randint(0, 1), rng.randint(0, 1)
    return ScoreResult(
        score=verify + 0.2 * format_ + 0.2 * reflect,
        verify=verify,
        format=format_,
        reflect=reflect,
        pred=rng.choice(("12.8", "13", None)),
        verdict=rng.choice(("correct", "wrong", None)),
        format_failures=() if format_ else ("reflection_present",),
        status="ok",
        error=None,
    )


def batch(count: int, seed: int = 0) -> ScoredBatch:
    """A batch of ``count`` workload items with made-up results."""
    rng = random.Random(seed)
    return ScoredBatch(
        items(count, seed),
        [made_up_result(rng) for _ in range(count)],
        RewardWeights(),
        "/score",
        VERSION,
        time.time(),
    )


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; remove the returned file to give them back."""
    ballast = disk / "ballast"
    with ballast.open("wb", buffering=0) as sink, contextlib.suppress(OSError):
        while True:
            sink.write(b"\0" * 4096)
    return ballast


def remount(disk: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)

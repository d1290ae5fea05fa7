"""Benchmark a GRPO step (128 prompts x 32 samples) through the service vs the naive loop.

    python benchmarks/bench_service.py [--items 4096] [--repeats 5] [--naive-sample 256]

Same code as ``reward-service bench``; results are recorded in benchmarks/RESULTS.md.
"""

import typer

from reward_service.cli import bench

if __name__ == "__main__":
    typer.run(bench)

"""CPU seconds to verify the distinct (answer, label) pairs of one cold GRPO step, in a fresh
process per side and seed, this checkout against another (not a test-suite test).

    python benchmarks/verify_step_cpu.py --baseline /path/to/older/checkout [--seeds 3]

Each round runs ``reward_service.bench``'s ``grpo_step(4096, pathological_share=0, seed)``,
keeps the distinct (extracted answer, label) pairs and verifies them one after another with
``MultiSignalMathReward`` (no timeout), timing ``time.process_time``. The sides alternate per
seed. Results: RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

_ROUND = """
import logging, sys, time
logging.disable(logging.WARNING)
from reward_service.bench.workload import grpo_step
from reward_service.scoring import MultiSignalMathReward

reward = MultiSignalMathReward(verify_timeout_s=None)
step = grpo_step(4096, pathological_share=0, seed=int(sys.argv[1]))
pairs = sorted({(reward.analyze(i.response).pred, i.ground_truth) for i in step}, key=str)
started = time.process_time()
equal = sum(bool(reward.verify(p, g).equal) for p, g in pairs)
print(len(pairs), equal, time.process_time() - started)
"""


def one_round(checkout: str, seed: int) -> tuple[int, int, float]:
    """(distinct pairs, equal pairs, CPU seconds) of one seed, verified by ``checkout``."""
    env = {**os.environ, "PYTHONPATH": checkout}
    run = subprocess.run(
        [sys.executable, "-c", _ROUND, str(seed)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    pairs, equal, seconds = run.stdout.split()[-3:]
    return int(pairs), int(equal), float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a checkout to measure beside this one")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print("| seed | distinct pairs | equal (old / new) | old CPU (s) | new CPU (s) | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed in range(1, args.seeds + 1):
        old = one_round(args.baseline, seed)
        new = one_round(here, seed)
        print(
            f"| {seed} | {new[0]} | {old[1]} / {new[1]} | {old[2]:.3f} | {new[2]:.3f} "
            f"| {new[2] / old[2]:.2f} |"
        )


if __name__ == "__main__":
    main()

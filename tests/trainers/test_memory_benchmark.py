"""benchmarks/h100_actor_memory.py on verl's fused path, run tiny on the CPU (SMOKE=1).

The GPU measurement itself is for a CUDA machine (benchmarks/MEMORY.md); this checks that the
command MEMORY.md gives runs verl's patched forward and reports every pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "h100_actor_memory.py"


def test_the_fused_path_measures_every_pass() -> None:
    env = {**os.environ, "SMOKE": "1", "FUSED": "1"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["path"] == "fused"
    passes = [f"update_{t}_fused" for t in (8192, 16384, 24576)]
    passes += [f"{kind}_logprob_{t}" for kind in ("actor", "ref") for t in (24576, 49152)]
    for name in passes:
        seconds, peak_gib = result[name]
        assert seconds >= 0 and peak_gib == 0.0  # no CUDA memory on the CPU
    assert not any(key.endswith(("_full", "_chunked")) for key in result)

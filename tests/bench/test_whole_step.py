"""The benchmark script still runs end to end (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import io

from rich.console import Console

from reward_service.bench.whole_step import print_table, run_benchmark


def test_benchmark_produces_its_table() -> None:
    rows = run_benchmark(items=40, repeats=1, naive_sample=8)
    assert len(rows) == 6
    assert [row.baseline is None for row in rows] == [True, False, False, True, False, False]
    assert all(row.items_per_s > 0 for row in rows)
    out = io.StringIO()
    print_table(rows, Console(file=out, width=200))
    assert "speedup" in out.getvalue() and "naive loop" in out.getvalue()

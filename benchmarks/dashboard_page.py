"""The dashboard on a long run: fetch and draw times of ``/dashboard`` in Chromium.

A service is filled with a simulated GRPO run (``reward_service.bench.grpo_run``) of
``--steps`` steps, each ``--prompts`` groups of ``--samples`` responses recorded in batches of
``--batch`` (as verl streams them), then the system's Chromium (headless, 1400 px)
opens the page and the page's own timings are read: the ``/stats`` fetch (request, transfer,
body) and the drawing of every panel, the tables and the summary. Each refresh redraws
only when the statistics changed, so the page is re-drawn ``--refreshes`` times by
recording one more batch before each. Prints a Markdown table for ``benchmarks/RESULTS.md``.

    python benchmarks/dashboard_page.py --steps 2000
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import orjson

from reward_service.app import create_app
from reward_service.bench.browser import CHROMIUM_FLAGS, chromium_path
from reward_service.bench.grpo_run import simulated_item
from reward_service.bench.local_server import serve_in_thread
from reward_service.scoring import MultiSignalMathReward
from reward_service.settings import ServiceSettings
from reward_service.stats import ScoredItem, StatsRecorder

BUCKETS = 20
"""The run's progress is cut into this many stages; each has its own pool of responses."""
POOL = 300


def scored_pools(seed: int = 0) -> list[list[tuple[ScoredItem, object]]]:
    """For each stage of the run, POOL simulated items scored once (the run reuses them)."""
    reward = MultiSignalMathReward(verify_timeout_s=None)
    rng = random.Random(seed)
    pools = []
    for bucket in range(BUCKETS):
        pool = []
        for _ in range(POOL):
            item = simulated_item(rng, bucket / (BUCKETS - 1), "0-0")
            scored = ScoredItem(
                item["response"],
                item["ground_truth"],
                item["data_source"],
                None,
                item["response_tokens"],
                item["truncated"],
            )
            pool.append((scored, reward.score(item["response"], item["ground_truth"])))
        pools.append(pool)
    return pools


def fill(recorder: StatsRecorder, args: argparse.Namespace, pools: list) -> None:
    """Record the run: every step's groups, in batches of ``args.batch``."""
    rng = random.Random(1)
    for step in range(args.steps):
        pool = pools[min(BUCKETS - 1, step * BUCKETS // args.steps)]
        batch: list[tuple[ScoredItem, object]] = []
        for prompt in range(args.prompts):
            for item, result in rng.choices(pool, k=args.samples):
                grouped = ScoredItem(
                    item.response,
                    item.ground_truth,
                    item.data_source,
                    f"{step}-{prompt}",
                    item.response_tokens,
                    item.truncated,
                )
                batch.append((grouped, result))
        for start in range(0, len(batch), args.batch):
            part = batch[start : start + args.batch]
            recorder.record([i for i, _ in part], [r for _, r in part], step, 5.0)


def measure(url: str, refreshes: int, recorder: StatsRecorder, pools: list) -> list[dict]:
    """Open the page, then force ``refreshes`` redraws; the page's timings of each."""
    from playwright.sync_api import sync_playwright

    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        opened = time.perf_counter()
        page.goto(f"{url}/dashboard")
        page.wait_for_function("window.dashboard.refreshes >= 1", timeout=120_000)
        first = page.evaluate("({...window.dashboard.timings})")
        first["to_first_draw_ms"] = (time.perf_counter() - opened) * 1000
        timings.append(first)
        last_step = page.evaluate("window.dashboard.view.steps.at(-1)")
        for refresh in range(refreshes):
            item, result = pools[-1][refresh]
            recorder.record([item], [result], last_step, 5.0)
            page.evaluate("refresh()")
            page.wait_for_function(f"window.dashboard.refreshes >= {refresh + 2}")
            timings.append(page.evaluate("({...window.dashboard.timings})"))
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--refreshes", type=int, default=10)
    args = parser.parse_args()
    pools = scored_pools()
    settings = ServiceSettings(workers=1, stats_steps=args.steps)
    app = create_app(settings)
    with serve_in_thread(app) as url:
        recorder: StatsRecorder = app.state.service.stats
        started = time.perf_counter()
        fill(recorder, args, pools)
        filled_s = time.perf_counter() - started
        body = recorder.snapshot_json()
        view = orjson.loads(body)
        timings = measure(url, args.refreshes, recorder, pools)
    redraws = timings[1:]
    print(
        f"{args.steps} steps x {args.prompts} groups x {args.samples} samples, recorded in "
        f"{filled_s:.0f} s; /stats body {len(body) / 1024:.0f} KiB, "
        f"{len(view['steps'])} steps served, {view['steps_left_out']} left out\n"
    )
    print("| measure | first load | redraws: median | redraws: max |")
    print("| --- | --- | --- | --- |")
    names = (
        ("fetch_ms", "fetch /stats (ms)"),
        ("parse_ms", "parse (ms)"),
        ("render_ms", "draw (ms)"),
    )
    for key, name in names:
        values = [t[key] for t in redraws]
        print(
            f"| {name} | {timings[0][key]:.0f} | {statistics.median(values):.0f} "
            f"| {max(values):.0f} |"
        )
    print(f"| open to first draw (ms) | {timings[0]['to_first_draw_ms']:.0f} | - | - |")


if __name__ == "__main__":
    main()

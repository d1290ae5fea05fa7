"""The dashboard's plots as one PNG, from the statistics JSONL (``stats_file``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from reward_service.stats.jsonl import read_jsonl
from reward_service.stats.step import CALIBRATION_CELLS, SIGNALS, StepStats

FIGURE_SIZE_IN = (14, 9)
DPI = 100


def _share(stats: StepStats, count: float) -> float:
    return count / stats.items if stats.items else 0.0


def write_report(
    stats_path: Path,
    output: Path,
    top_answers: int = 5,
    on_bad_line: Callable[[str], None] = lambda _: None,
) -> Path:
    """Plot signal means, answer share, calibration and timeouts per step into ``output``.

    Lines that are not statistics are skipped and described to ``on_bad_line``.

    Raises:
        ValueError: the file holds no statistics.
        RuntimeError: matplotlib (the ``report`` extra) is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise RuntimeError(
            "the report needs matplotlib: pip install 'reward-service[report]'"
        ) from exc

    steps = read_jsonl(stats_path, on_bad_line)
    if not steps:
        raise ValueError(f"{stats_path} holds no statistics")
    x = [s.step for s in steps]
    figure, axes = plt.subplots(2, 2, figsize=FIGURE_SIZE_IN, dpi=DPI)
    signals, answers, calibration, health = axes.flat

    for signal in SIGNALS:
        signals.plot(x, [_share(s, s.signal_sums[signal]) for s in steps], marker=".", label=signal)
    signals.set(title="Signal means per step", xlabel="step", ylabel="mean")

    totals = sum((s.answers for s in steps), Counter())
    top = [answer for answer, _ in totals.most_common(top_answers)]
    shares = [[_share(s, s.answers.get(a, 0)) for s in steps] for a in top]
    other = [1 - sum(column) for column in zip(*shares, strict=True)] if shares else []
    answers.stackplot(x, *shares, other, labels=[*top, "other"])
    answers.set(title="Answer share (top answers)", xlabel="step", ylabel="share of items")

    bottom = [0.0] * len(steps)
    for cell in CALIBRATION_CELLS:
        heights = [_share(s, s.calibration[cell]) for s in steps]
        calibration.bar(x, heights, bottom=bottom, label=cell.replace("_", " answer, says "))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    calibration.set(title="Reflection calibration", xlabel="step", ylabel="share of items")

    health.bar(x, [s.timeouts for s in steps], label="timeouts")
    health.bar(x, [s.errors for s in steps], bottom=[s.timeouts for s in steps], label="errors")
    top = max([s.timeouts + s.errors for s in steps] + [1])
    health.set(title="Timeouts and errors", xlabel="step", ylabel="items", ylim=(0, top * 1.1))

    for axis in axes.flat:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        axis.legend(fontsize="small", loc="best", framealpha=0.85)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    plt.close(figure)
    return output

"""A re-scoring's summary as the command line prints it: rich tables."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from reward_service.record.rescore import TOP_CHANGES, RescoreSummary


def steps_table(summary: RescoreSummary) -> Table:
    """One row per step: items, changed items, timeouts, items not re-scorable, the mean
    reward before and after."""
    table = Table(title="Re-scored steps", title_justify="left")
    columns = ("step", "items", "changed", "timeouts", "not re-scorable", "mean before")
    for name in (*columns, "mean after"):
        table.add_column(name, justify="right")
    for step in summary.steps:
        table.add_row(
            str(step.step),
            f"{step.items:,}",
            f"{step.changed:,}",
            f"{step.timeouts:,}",
            f"{step.not_rescorable:,}",
            f"{step.mean_before:.4f}",
            f"{step.mean_after:.4f}",
        )
    return table


def changes_table(summary: RescoreSummary, count: int = TOP_CHANGES) -> Table:
    """The most frequent changes: answer, label, signals before and after, items."""
    table = Table(title="Most frequent changes", title_justify="left")
    for name in ("answer", "label", "before", "after"):
        table.add_column(name, overflow="fold")
    table.add_column("items", justify="right")
    for change, items in summary.top_changes(count):
        table.add_row(change.answer, change.label, change.before, change.after, f"{items:,}")
    return table


def totals(summary: RescoreSummary) -> Text:
    """What was compared, in a few lines: counts, versions, time."""
    recorded = ", ".join(
        f"{version} ({items:,})" for version, items in summary.recorded_versions.items()
    )
    return Text(
        f"{summary.items:,} items in {_count(len(summary.steps), 'step')}: "
        f"{summary.changed:,} changed, "
        f"{summary.timeouts:,} timed out before or after (not compared), "
        f"{summary.not_rescorable:,} not re-scorable (left as recorded: the route's own "
        f"verdict, or no response or label), in {summary.seconds:.1f} s\n"
        f"recorded by: {recorded or 'nothing'}\n"
        f"re-scored by: {summary.scorer_version}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def print_summary(summary: RescoreSummary, console: Console | None = None) -> None:
    """Print the steps, the most frequent changes and the totals."""
    parts: list[Table | Text] = [steps_table(summary)]
    if summary.changes:
        parts.append(changes_table(summary))
    parts.append(totals(summary))
    (console or Console()).print(Group(*parts))

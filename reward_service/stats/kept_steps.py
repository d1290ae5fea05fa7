"""The steps a recorder keeps in memory, and the step an untagged batch belongs to."""

from __future__ import annotations

from reward_service.stats.step import StepStats

UNTAGGED_STEP_GAP_S = 10.0
"""A quiet gap this long (no batch at all) ends a step of untagged batches."""


def untagged_step(
    last_step: int | None, last_time: float, highest_step: int, now: float, gap_s: float
) -> int:
    """The step a batch that carries no step belongs to.

    Trainers that do not tag steps (OpenRLHF) score a step as a burst of requests while they
    generate, then train without scoring anything. So an untagged batch belongs to the step
    of the batch recorded just before it when that one came less than ``gap_s`` earlier, and
    starts a new step (one past the highest kept) after a quiet gap. With nothing recorded
    yet it is step 0. An untagged batch among tagged ones joins the step being scored.
    """
    if last_step is None:
        return 0
    if now - last_time < gap_s:
        return last_step
    return highest_step + 1


class KeptSteps:
    """The last ``max_steps`` steps (the lowest step numbers are dropped first), each the
    merge of its batches, and the numbering of batches that carry no step (not
    thread-safe: the recorder holds its lock around it).

    Args:
        max_steps: steps kept.
        untagged_gap_s: the quiet gap that ends a step of untagged batches.
    """

    def __init__(self, max_steps: int, untagged_gap_s: float = UNTAGGED_STEP_GAP_S) -> None:
        self._max_steps = max_steps
        self._untagged_gap_s = untagged_gap_s
        self._steps: dict[int, StepStats] = {}
        self._highest = -1  # the highest step kept, or read from the file's last line
        self._last: tuple[int, float] | None = None  # the last batch's step and time

    def resume_after(self, last: StepStats) -> None:
        """Number untagged batches on from ``last``, the last batch of an earlier run."""
        self._last = (last.step, last.time)
        self._highest = max(self._highest, last.step)

    def add(self, step: int | None, batch: StepStats) -> int:
        """Count a newly scored ``batch`` (scored at ``batch.time``) in ``step``, or in the
        step :func:`untagged_step` gives it; returns that step (``batch.step`` is set)."""
        if step is None:
            last_step, last_time = self._last or (None, 0.0)
            step = untagged_step(
                last_step, last_time, self._highest, batch.time, self._untagged_gap_s
            )
        batch.step = step
        self.keep(batch)
        self._last = (step, batch.time)
        return step

    def keep(self, batch: StepStats) -> None:
        """Merge ``batch`` into its step (kept as it is when the step is new)."""
        self._highest = max(self._highest, batch.step)
        kept = self._steps.get(batch.step)
        if kept is not None:
            kept.merge(batch)
            return
        self._steps[batch.step] = batch
        if len(self._steps) > self._max_steps:
            del self._steps[min(self._steps)]

    def served(self, limit: int | None = None) -> list[StepStats]:
        """The kept steps (the last ``limit``), in step order."""
        steps = [self._steps[step] for step in sorted(self._steps)]
        return steps[-limit:] if limit else steps

    def __len__(self) -> int:
        return len(self._steps)

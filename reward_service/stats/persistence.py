"""A recorder's statistics file: every batch appended, the kept steps checkpointed beside it,
and both read back when the service starts.

Reading back is bounded in time and memory: the checkpoint (:mod:`.checkpoint`), then the
lines appended after it (:mod:`.jsonl`), read in the background past
``REPLAY_AT_START_BYTES``. A checkpoint is written in a thread of its own, never on the
request path. A write that fails (a full disk) is counted, never raised: a side file never
fails scoring. The log says so when the failures begin and when writing works again, not at
every batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from reward_service.stats.checkpoint import checkpoint_path, read_checkpoint, write_checkpoint
from reward_service.stats.jsonl import (
    append_line,
    iter_batches,
    last_batch,
    make_private,
    seal_torn_tail,
    tighten,
)
from reward_service.stats.kept_steps import KeptSteps
from reward_service.stats.step import StepStats

logger = logging.getLogger("reward_service.stats")

CHECKPOINT_EVERY_S = 10.0
"""How often the kept steps are written beside the file: a restart reads at most this long
of appended lines on top of them."""
REPLAY_AT_START_BYTES = 32 * 2**20
"""Lines after the checkpoint read before the service is ready (about 3 s on 2 busy cores);
more (a file from before checkpoints) are read in the background while it scores."""

StepVersion = tuple[int, int, float]
"""What a step's checkpoint line was written from: its (batches, items, time)."""


def _version(stats: StepStats) -> StepVersion:
    return stats.batches, stats.items, stats.time


class _Failures:
    """A write that fails again and again (a full disk fails every one): logged when it
    begins and when it works again, not at each try.

    Args:
        began: the first failure's log line, from its error.
        ended: the line once it works again, from the count of failures meanwhile.
    """

    def __init__(self, began: Callable[[OSError], str], ended: Callable[[int], str]) -> None:
        self._began = began
        self._ended = ended
        self.count = 0

    def failed(self, exc: OSError) -> None:
        """One more try failed with ``exc``."""
        if not self.count:
            logger.error("%s", self._began(exc))
        self.count += 1

    def ended(self, note: str | None = None) -> None:
        """A try worked; ``note``: what else to say in the line that says so."""
        if self.count:
            line = self._ended(self.count)
            logger.warning("%s", f"{line}; {note}" if note else line)
        self.count = 0


class StatsFile:
    """The statistics file of one recorder.

    Args:
        path: the file (created, with its folders, if missing; it and its checkpoint are
            made their owner's alone, :data:`~.jsonl.FILE_MODE`).
        steps: the recorder's kept steps, which :meth:`reload` fills.
        lock: the recorder's lock, held around every change to ``steps``.
        on_write_failure: called when writing the file or its checkpoint fails.
        checkpoint_every_s: how often the kept steps are checkpointed.

    Raises:
        OSError: ``path`` cannot be created.
    """

    def __init__(
        self,
        path: Path,
        steps: KeptSteps,
        lock: threading.Lock,
        on_write_failure: Callable[[], None] = lambda: None,
        checkpoint_every_s: float = CHECKPOINT_EVERY_S,
    ) -> None:
        self.path = path
        self._steps = steps
        self._lock = lock
        self._on_write_failure = on_write_failure
        self._checkpoint_every_s = checkpoint_every_s
        self._checkpointed_at = time.monotonic()
        self._size = 0
        self._lines: dict[int, tuple[StepVersion, bytes]] = {}  # each step's checkpoint line
        self._replaying: threading.Thread | None = None
        self._writing: threading.Thread | None = None  # the checkpoint being written
        self._appends = _Failures(  # while they fail, the last one may have cut a line off
            lambda exc: (
                f"statistics: cannot append to {path} ({exc}); /stats goes on "
                "counting, the file misses the batches until it can"
            ),
            lambda lost: f"statistics: appending to {path} again ({lost} batches lost meanwhile)",
        )
        self._checkpoints = _Failures(
            lambda exc: (
                f"statistics: cannot write the checkpoint of {path} ({exc}); until it "
                "can, a restart reads more of the file"
            ),
            lambda tries: (
                f"statistics: the checkpoint of {path} is written again ({tries} tries failed)"
            ),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        make_private(path)
        tighten(checkpoint_path(path))

    def reload(self) -> None:
        """The kept steps from the file: the checkpoint's, then the lines appended after it
        (in the background when there are more than REPLAY_AT_START_BYTES of them).
        Untagged batches are numbered on from the file's last batch."""
        sealed = seal_torn_tail(self.path)
        if sealed is not None:
            logger.warning(sealed)
        self._size = self.path.stat().st_size
        last = last_batch(self.path)
        if last is not None:
            self._steps.resume_after(last)
        checkpoint = read_checkpoint(self.path)
        start = 0 if checkpoint is None else checkpoint.covers
        for stats in checkpoint.steps if checkpoint is not None else ():
            self._steps.keep(stats)
        if self._size - start <= REPLAY_AT_START_BYTES:
            self._replay(start, self._size)
            return
        logger.warning(
            "statistics: reading %.0f MiB of %s in the background (%s); until it is done, "
            "/stats shows the steps read so far",
            (self._size - start) / 2**20,
            self.path,
            "no checkpoint" if checkpoint is None else "lines after the checkpoint",
        )
        self._replaying = threading.Thread(
            target=self._replay, args=(start, self._size), daemon=True
        )
        self._replaying.start()

    def _replay(self, start: int, end: int) -> None:
        """Merge the batches on bytes [start, end) of the file into the kept steps."""
        started = time.perf_counter()
        batches = 0
        for batch in iter_batches(self.path, start, end, on_bad_line=logger.warning):
            with self._lock:
                self._steps.keep(batch)
            batches += 1
        with self._lock:
            self._replaying = None
            kept = self._steps.served()
        if kept:
            logger.info(
                "statistics: %d steps (%d to %d) back from %s in %.2f s (%d batches read "
                "after %d bytes of checkpoint)",
                len(kept),
                kept[0].step,
                kept[-1].step,
                self.path,
                time.perf_counter() - started,
                batches,
                start,
            )

    def wait_reloaded(self, timeout_s: float | None = None) -> bool:
        """Wait for a background reading of the file; returns whether it is done."""
        replaying = self._replaying
        if replaying is not None:
            replaying.join(timeout_s)
        return self._replaying is None

    def append(self, batch: StepStats) -> None:
        """Append ``batch`` (under the recorder's lock: nothing has merged into it yet), and
        checkpoint when one is due. After a failed write (a full disk) the next one first
        ends the line it may have cut off."""
        try:
            line = orjson.dumps(batch.to_dict())
        except orjson.JSONEncodeError as exc:
            logger.error(
                "statistics of step %d cannot be written to %s (%s); /stats keeps them",
                batch.step,
                self.path,
                exc,
            )
            self._on_write_failure()
            return
        sealed = None
        try:
            if self._appends.count:
                sealed = seal_torn_tail(self.path)
            self._size = append_line(self.path, line)
        except OSError as exc:
            self._appends.failed(exc)
            self._on_write_failure()
            return
        self._appends.ended(sealed)
        if self._checkpoint_due():
            self._checkpoint()

    def _checkpoint_due(self) -> bool:
        """Time for a checkpoint (never while the file is being read back: it would say
        the steps hold lines they do not hold yet)."""
        elapsed = time.monotonic() - self._checkpointed_at
        return self._replaying is None and elapsed >= self._checkpoint_every_s

    def _checkpoint(self) -> None:
        """Serialise the changed steps, then write them beside the file in a thread (a
        checkpoint of a long run is megabytes). One due while the last one is still being
        written is left to the next one."""
        self._checkpointed_at = time.monotonic()
        if self._writing is not None and self._writing.is_alive():
            return
        lines = self._step_lines(self._steps.served())
        self._writing = threading.Thread(
            target=self._write_checkpoint, args=(self._size, lines), daemon=True
        )
        self._writing.start()

    def _step_lines(self, steps: Sequence[StepStats]) -> list[bytes]:
        """The kept steps' lines, serialising only the steps changed since their last line
        (a step that cannot be serialised keeps its last line, or none, and is named in the
        log)."""
        lines = []
        for stats in steps:
            kept = self._lines.get(stats.step)
            if kept is None or kept[0] != _version(stats):
                try:
                    kept = self._lines[stats.step] = (
                        _version(stats),
                        orjson.dumps(stats.to_dict()),
                    )
                except orjson.JSONEncodeError as exc:
                    logger.error(
                        "step %d cannot be checkpointed (%s); it is left out", stats.step, exc
                    )
            if kept is not None:
                lines.append(kept[1])
        for step in self._lines.keys() - {stats.step for stats in steps}:
            del self._lines[step]
        return lines

    def _write_checkpoint(self, covers: int, lines: list[bytes]) -> None:
        try:
            write_checkpoint(self.path, covers, lines)
        except OSError as exc:
            self._checkpoints.failed(exc)
            self._on_write_failure()
            return
        self._checkpoints.ended()

    def close(self) -> None:
        """Checkpoint every batch appended (a clean stop): waits for a checkpoint being
        written, then writes the last one here."""
        if self._writing is not None:
            self._writing.join()
        with self._lock:
            if self._replaying is None:
                self._write_checkpoint(self._size, self._step_lines(self._steps.served()))

"""Alarms: the known ways a GRPO run goes wrong, read from the kept per-step counts.

Each kind is a detector over the judged steps (see below), raised with the step it began,
the numbers behind it and one sentence saying what it means and which panel shows it:

- ``verdict_gaming``: the share of wrong answers whose reflection says "correct" climbs
  while verify holds still (the reflect reward earned by always agreeing);
- ``format_without_answers``: the format reward is learned while verify stays flat;
- ``truncation``: a growing share of responses reaches the length limit;
- ``answer_collapse``: one wrong answer, by value as the answers panel groups them, takes
  over a step of enough items (no answer, timeouts and errors are not answers);
- ``no_learning_signal``: most GRPO groups are all right or all wrong for several steps: a
  ``warning`` when all wrong dominates, ``info`` when all right does (saturation, expected in
  One-Shot RLVR, where training goes on by design);
- ``scoring_failures``: timeouts and errors above a small share of the items for several
  steps.

The alarms are a function of the steps in step order (:func:`derive_alarms`), so they
survive a restart and span replicas exactly as the steps do. :class:`AlarmTracker` takes the
judged steps one at a time, in constant time and memory each; :class:`AlarmMonitor` keeps
one up to date as a run's steps grow and gives what :func:`derive_alarms` gives.

Judged steps: every step but the last, and the last once it holds at least as many items as
the step before it (a trainer sends each step whole, so that is when it is complete); a step
still being scored is not judged, so a half-full step cannot flap an alarm. Windows count
judged steps, whatever their numbers (step numbers may skip).

Episodes: an alarm opens when its detector fires (on ``persist`` steps in a row for the
kinds that say "for several steps"), stays open while the detector holds, with a margin
(:attr:`AlarmSettings.hold_fraction`), and closes after :attr:`AlarmSettings.close_after`
judged steps in a row without it: ``open`` turns false and ``last_step`` (the last step that
showed it) stops moving. A later episode of the same kind is a new entry, and so is a change
of severity (groups that were all right turning all wrong end the ``info`` episode; the
``warning`` one is raised like any other). At most
:data:`ALARMS_KEPT` entries are kept: open ones first, then closed ones, newest first; the
oldest closed ones go first.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from reward_service.stats.answers import SPECIAL_KEYS, display_text
from reward_service.stats.step import StepStats

Severity = Literal["info", "warning"]
KINDS = (
    "verdict_gaming",
    "format_without_answers",
    "truncation",
    "answer_collapse",
    "no_learning_signal",
    "scoring_failures",
)
PANELS = {
    "verdict_gaming": "reflection",
    "format_without_answers": "signals",
    "truncation": "length",
    "answer_collapse": "answers",
    "no_learning_signal": "groups",
    "scoring_failures": "health",
}
"""The id of the dashboard panel that shows each kind (:func:`~.panels.panels`)."""
SEVERITIES: dict[str, tuple[Severity, ...]] = {
    **{kind: ("warning",) for kind in KINDS},
    "no_learning_signal": ("info", "warning"),
}
"""The severities each kind is raised with."""
ALARMS_KEPT = 50


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds and windows of the detectors.

    The defaults were chosen to keep two healthy runs quiet at 128 items a step (16 GRPO
    groups of 8): one that learns steadily (verify from 0.2 to 0.7, the format learned in its
    first tens of steps, responses growing longer) and One-Shot RLVR's pi1, which saturates
    (its groups all right from about step 40, training going on by design); and to raise each
    kind within 5 steps of the onset of its failure, started in the middle of such a run.

    Attributes:
        recent_steps: judged steps pooled into the share that a change is measured on (3: a
            change shows within 5 steps, over three steps' items).
        reference_steps: judged steps before those that a change is measured from (10: long
            enough to average a step's noise out, short enough to follow a learning run).
        close_after: judged steps in a row without the condition that close an alarm (3:
            one quiet step is noise).
        hold_fraction: an open alarm holds while its margin (over the reference, or over 0
            for a threshold) stays above this fraction of the one that raised it (2/3), so a
            measure hovering at a threshold does not open an episode every few steps (pi1's
            all-right share hovers around 0.75 once saturated).
        min_items: fewest items a pooled share is judged on, wrong answers for
            verdict_gaming (100: a share of fewer has a standard error over 5 points).
        min_z: a change is raised only when it is this many standard errors of the
            difference of its two pooled shares (4: about one chance alarm in 30,000 judged
            steps per detector), so that a smaller batch needs a larger change.
        verdict_rise: climb of the share of wrong answers whose reflection says "correct"
            (0.2: a roughly calibrated reflection's share moves a few points as the mix of
            wrong answers changes; always agreeing moves it toward 1).
        verify_steady: verdict_gaming is judged only while verify moves by less than this
            over the same windows (0.15): when verify moves, the wrong answers are other
            answers (a label bug makes right answers wrong, and the reflection believes them;
            in pi1's climb the few wrong answers left are near misses).
        format_rise: rise of the format reward over the responses not cut (0.07: a shape
            learned within a few steps; past its first steps a healthy run improves its
            format by a few points in a hundred steps) ...
        verify_flat: ... while verify rises by less than this (0.1: with 16 prompts a step,
            verify's pooled mean moves by about 0.07 with the prompts drawn; a policy that
            learns the answers with the shape gains more).
        format_warmup_steps: judged steps from the start in which a format learned is not an
            alarm (40): every policy learns the format first and the answers over the run
            (the healthy run learns it within about 30 steps); the failure is a policy
            turning to the shape once the run is under way.
        truncation_share: share of responses cut at the length limit (0.1: as lengths grow,
            which is normal in reasoning RL, healthy runs keep a few percent; verl logs it as
            ``response_length/clip_ratio``, and DAPO masks or shapes the reward of cut
            responses because it is noise) ...
        truncation_rise: ... grown by at least this over the reference (0.05): a steady share
            comes from the limit chosen, not from a change in the policy.
        collapse_share: share of a step's items that one wrong answer holds (0.5: it has
            taken the step over; in pi1's first steps the most frequent wrong value, 12.7,
            holds about a quarter, and a healthy dataset's a few percent).
        collapse_steps: steps in a row for answer_collapse (2: one step can be bad luck).
        collapse_min_items: fewest items of a step whose answer_collapse share is judged
            (32). Of few items one value holds half by chance: where a quarter of the
            samples give it (pi1's 12.7 early on), half of 32 independent samples give it
            in two steps in a row once in about 250,000 pairs of steps, rarer than a change
            at ``min_z`` (of 16 samples once in 1,400, of 8 once in 77); and a step of one
            item is always 100% one value.
        zero_advantage_share: share of a step's GRPO groups whose samples are all right or
            all wrong (0.75). Such a group gives no advantage to the answer, whatever format
            and reflection add (DAPO's dynamic sampling drops these groups and samples
            others); healthy runs keep a third or more of them, more as they learn; at three
            in four, a quarter of the batch is left teaching.
        failure_share: share of a step's items that timed out or failed to score (0.02: a
            healthy scorer fails on pathological answers only, well under 1%; each failed
            item is rewarded 0 whatever its answer).
        persist_steps: steps in a row for the kinds that say "for several steps",
            no_learning_signal and scoring_failures (3).
        min_groups: fewest groups of 2+ samples a step's zero-advantage share is judged on
            (8: a share of fewer moves in steps of an eighth).
    """

    recent_steps: int = 3
    reference_steps: int = 10
    close_after: int = 3
    hold_fraction: float = 2 / 3
    min_items: int = 100
    min_z: float = 4.0
    verdict_rise: float = 0.2
    verify_steady: float = 0.15
    format_rise: float = 0.07
    verify_flat: float = 0.1
    format_warmup_steps: int = 40
    truncation_share: float = 0.1
    truncation_rise: float = 0.05
    collapse_share: float = 0.5
    collapse_steps: int = 2
    collapse_min_items: int = 32
    zero_advantage_share: float = 0.75
    failure_share: float = 0.02
    persist_steps: int = 3
    min_groups: int = 8

    def __post_init__(self) -> None:
        counts = ("recent_steps", "reference_steps", "close_after", "collapse_steps")
        counts += ("collapse_min_items", "persist_steps", "min_items", "min_groups")
        if any(getattr(self, name) < 1 for name in counts):
            raise ValueError(f"{', '.join(counts)} must be >= 1")
        if self.format_warmup_steps < 0 or self.min_z <= 0:
            raise ValueError("format_warmup_steps must be >= 0 and min_z > 0")
        shares = ("hold_fraction", "verdict_rise", "verify_steady", "format_rise")
        shares += ("verify_flat", "truncation_share", "truncation_rise", "collapse_share")
        shares += ("zero_advantage_share", "failure_share")
        if not all(0 < getattr(self, name) <= 1 for name in shares):
            raise ValueError(f"{', '.join(shares)} must be in (0, 1]")


DEFAULT_ALARM_SETTINGS = AlarmSettings()


@dataclass(frozen=True)
class StepSignals:
    """What the detectors read from one step's counts (:meth:`of`).

    Attributes:
        step: the step's number.
        items: its items.
        verify, format: the sums of the two signals.
        wrong: items with a wrong answer (verify 0, timeouts and errors included).
        wrong_says_correct: those whose reflection says "correct".
        truncated, truncation_reported: items cut at the length limit, of those reported.
        failures: items that timed out or failed to score.
        top_wrong: the most frequent wrong answer key (None when no wrong answer was read).
        top_wrong_items: its items.
        groups: GRPO groups of 2+ samples (of those the step keeps).
        all_right, all_wrong: those whose samples are all right, all wrong.
    """

    step: int
    items: int
    verify: float
    format: float
    wrong: int
    wrong_says_correct: int
    truncated: int
    truncation_reported: int
    failures: int
    top_wrong: str | None
    top_wrong_items: int
    groups: int
    all_right: int
    all_wrong: int

    @classmethod
    def of(cls, stats: StepStats) -> StepSignals:
        """The signals of ``stats``."""
        cells = stats.calibration
        answers = [(-n, key) for key, n in stats.wrong_answers.items() if key not in SPECIAL_KEYS]
        minus_items, top = min(answers, default=(0, None))  # most frequent, then first by text
        several = [g for g in stats.groups.groups.values() if g[0] >= 2]
        return cls(
            step=stats.step,
            items=stats.items,
            verify=stats.signal_sums["verify"],
            format=stats.signal_sums["format"],
            wrong=cells["wrong_correct"] + cells["wrong_wrong"] + cells["wrong_none"],
            wrong_says_correct=cells["wrong_correct"],
            truncated=stats.truncation["truncated"],
            truncation_reported=stats.truncation["truncation_reported"],
            failures=stats.timeouts + stats.errors,
            top_wrong=top,
            top_wrong_items=-minus_items,
            groups=len(several),
            all_right=sum(1 for g in several if g[1] == g[0]),
            all_wrong=sum(1 for g in several if g[1] == 0),
        )


@dataclass(frozen=True)
class Alarm:
    """One episode of one kind.

    Attributes:
        kind: one of :data:`KINDS`.
        severity: ``warning`` (act) or ``info`` (expected in some runs; the message says which).
        open: whether it still holds.
        since_step: the step it began.
        last_step: the last step that showed it.
        values: the numbers behind it, at ``last_step``.
        message: what it means and which panel shows it, one sentence.
    """

    kind: str
    severity: Severity
    open: bool
    since_step: int
    last_step: int
    values: dict[str, float | str]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``/stats`` serves it."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "open": self.open,
            "since_step": self.since_step,
            "last_step": self.last_step,
            "values": dict(self.values),
            "message": self.message,
        }


@dataclass(frozen=True)
class _Finding:
    """A detector's reading of one judged step: the condition holds."""

    severity: Severity
    since: int
    values: dict[str, float | str]
    message: str


History = Sequence[StepSignals]
"""The latest judged steps, oldest first, the current one last."""


class _Detector(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def persist(self) -> int: ...

    def observe(self, history: History, raised: bool) -> _Finding | None:
        """The finding at the last step of ``history``; ``raised``: an episode is open."""
        ...


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _rounded(values: dict[str, float | str]) -> dict[str, float | str]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


@dataclass(frozen=True)
class _Pooled:
    """A window's share, the items it is over, and verify over its responses not cut."""

    share: float
    items: int
    verify: float


class _Change:
    """A share that moves away from where it was: the ``recent_steps`` pooled against the
    ``reference_steps`` before them. It is raised when it passes its thresholds by ``min_z``
    standard errors, and holds (with the margin of ``hold_fraction``) against the reference
    it was raised on, so a lasting change stays raised.

    A kind says how a step counts (:meth:`counts`), when a share has moved
    (:meth:`exceeds`), what else must hold (:meth:`guard`) and what it means (:meth:`finding`).
    """

    kind: str
    persist = 1

    def __init__(self, settings: AlarmSettings, warmup: int = 0) -> None:
        self.settings = settings
        self.warmup = warmup
        self.judged = 0
        self.frozen: _Pooled | None = None

    def counts(self, step: StepSignals) -> tuple[float, int]:
        """The part and the whole of one step's share."""
        raise NotImplementedError

    def exceeds(self, share: float, before: float, margin: float) -> bool:
        """Whether ``share`` has moved from ``before`` (``margin``: 1 to raise, less to hold)."""
        raise NotImplementedError

    def guard(self, now: _Pooled, then: _Pooled, raised: bool) -> bool:
        """What else must hold."""
        return True

    def finding(self, now: _Pooled, then: _Pooled, since: int) -> _Finding:
        """The alarm's numbers and sentence."""
        raise NotImplementedError

    def observe(self, history: History, raised: bool) -> _Finding | None:
        """The finding at the last step of ``history``; ``raised``: an episode is open."""
        self.judged += 1
        recent_steps, reference_steps = self.settings.recent_steps, self.settings.reference_steps
        if self.judged <= self.warmup or len(history) < recent_steps + reference_steps:
            return None
        recent = history[-recent_steps:]
        now = self._pool(recent)
        before = self._pool(history[-recent_steps - reference_steps : -recent_steps])
        if now is None or before is None:
            return None
        then = self.frozen if raised and self.frozen is not None else before
        margin = self.settings.hold_fraction if raised else 1.0
        if not self.exceeds(now.share, then.share, margin) or not self.guard(now, then, raised):
            return None
        if not raised and not self._significant(now, before):
            return None
        self.frozen = then
        return self.finding(now, then, self._since(recent, then, margin))

    def _pool(self, steps: History) -> _Pooled | None:
        part = whole = 0
        for step in steps:
            step_part, step_whole = self.counts(step)
            part, whole = part + step_part, whole + step_whole
        finished = sum(step.items - step.truncated for step in steps)
        if whole < self.settings.min_items or not finished:
            return None
        return _Pooled(part / whole, whole, sum(step.verify for step in steps) / finished)

    def _significant(self, now: _Pooled, before: _Pooled) -> bool:
        """The share rose by ``min_z`` standard errors of the difference of two shares."""
        items = now.items + before.items
        pooled = (now.share * now.items + before.share * before.items) / items
        error = math.sqrt(pooled * (1 - pooled) * (1 / now.items + 1 / before.items))
        return now.share - before.share >= self.settings.min_z * error

    def _since(self, recent: History, then: _Pooled, margin: float) -> int:
        """The first step of ``recent`` whose own share has moved, else the last."""
        for step in recent:
            part, whole = self.counts(step)
            if whole and self.exceeds(part / whole, then.share, margin):
                return step.step
        return recent[-1].step


class _VerdictGaming(_Change):
    """The share of wrong answers whose reflection says "correct" climbs, verify steady."""

    kind = "verdict_gaming"

    def counts(self, step: StepSignals) -> tuple[float, int]:
        return step.wrong_says_correct, step.wrong

    def exceeds(self, share: float, before: float, margin: float) -> bool:
        return share - before >= self.settings.verdict_rise * margin

    def guard(self, now: _Pooled, then: _Pooled, raised: bool) -> bool:
        return raised or abs(now.verify - then.verify) <= self.settings.verify_steady

    def finding(self, now: _Pooled, then: _Pooled, since: int) -> _Finding:
        values = {
            "says_correct_on_wrong": now.share,
            "before": then.share,
            "verify": now.verify,
            "verify_before": then.verify,
        }
        message = (
            f'The reflection says "correct" on {_pct(now.share)} of wrong answers, up from '
            f"{_pct(then.share)}, while verify holds at {_pct(now.verify)}: the reflect reward "
            "is being earned by always agreeing (Reflection panel: says correct beside verify)."
        )
        return _Finding("warning", since, _rounded(values), message)


class _FormatWithoutAnswers(_Change):
    """The format reward rises while verify stays flat, past the first steps; both over the
    responses not cut (a cut response has neither; the truncation alarm tells of it)."""

    kind = "format_without_answers"

    def __init__(self, settings: AlarmSettings) -> None:
        super().__init__(settings, warmup=settings.format_warmup_steps)

    def counts(self, step: StepSignals) -> tuple[float, int]:
        return step.format, step.items - step.truncated

    def exceeds(self, share: float, before: float, margin: float) -> bool:
        return share - before >= self.settings.format_rise * margin

    def guard(self, now: _Pooled, then: _Pooled, raised: bool) -> bool:
        return now.verify - then.verify <= self.settings.verify_flat

    def finding(self, now: _Pooled, then: _Pooled, since: int) -> _Finding:
        values = {
            "format": now.share,
            "format_before": then.share,
            "verify": now.verify,
            "verify_before": then.verify,
        }
        message = (
            f"The format reward rose to {_pct(now.share)} from {_pct(then.share)} while "
            f"verify stayed at {_pct(now.verify)}: the policy is being paid for the shape, not "
            "for answers (Reward signals panel: format beside verify)."
        )
        return _Finding("warning", since, _rounded(values), message)


class _Truncation(_Change):
    """A share of responses cut at the length limit over its threshold, and grown."""

    kind = "truncation"

    def counts(self, step: StepSignals) -> tuple[float, int]:
        return step.truncated, step.truncation_reported

    def exceeds(self, share: float, before: float, margin: float) -> bool:
        settings = self.settings
        level, rise = settings.truncation_share * margin, settings.truncation_rise * margin
        return share >= level and share - before >= rise

    def finding(self, now: _Pooled, then: _Pooled, since: int) -> _Finding:
        message = (
            f"{_pct(now.share)} of responses reach the length limit, up from "
            f"{_pct(then.share)}: the reward of a cut response is noise (Response length and "
            "truncation panel)."
        )
        values = {"truncated": now.share, "before": then.share}
        return _Finding("warning", since, _rounded(values), message)


class _Level:
    """A share of one step over a threshold (held above ``hold_fraction`` of it).

    A kind says what the share is (:meth:`share`, None when the step cannot tell), its
    threshold and persistence, and what it means (:meth:`finding`).
    """

    kind: str

    def __init__(self, settings: AlarmSettings) -> None:
        self.settings = settings

    @property
    def persist(self) -> int:
        return self.settings.persist_steps

    @property
    def threshold(self) -> float:
        raise NotImplementedError

    def share(self, step: StepSignals) -> float | None:
        raise NotImplementedError

    def finding(self, step: StepSignals, share: float) -> _Finding:
        raise NotImplementedError

    def observe(self, history: History, raised: bool) -> _Finding | None:
        """The finding at the last step of ``history``; ``raised``: an episode is open."""
        step = history[-1]
        share = self.share(step)
        margin = self.settings.hold_fraction if raised else 1.0
        if share is None or share < self.threshold * margin:
            return None
        return self.finding(step, share)


class _AnswerCollapse(_Level):
    """One wrong answer holds most of the step's items (of a step of enough items)."""

    kind = "answer_collapse"

    @property
    def persist(self) -> int:
        return self.settings.collapse_steps

    @property
    def threshold(self) -> float:
        return self.settings.collapse_share

    def share(self, step: StepSignals) -> float | None:
        if step.top_wrong is None or step.items < self.settings.collapse_min_items:
            return None
        return step.top_wrong_items / step.items

    def finding(self, step: StepSignals, share: float) -> _Finding:
        answer = step.top_wrong or ""  # a share is only read where there is one
        message = (
            f"One wrong answer, {display_text(answer, 40)}, is {_pct(share)} of the step's "
            "responses: the policy is collapsing onto a wrong value (Answers panel)."
        )
        values = {"answer": answer, "share": share, "verify": step.verify / step.items}
        return _Finding("warning", step.step, _rounded(values), message)


class _NoLearningSignal(_Level):
    """Most groups all right or all wrong: no advantage on the answer."""

    kind = "no_learning_signal"

    @property
    def threshold(self) -> float:
        return self.settings.zero_advantage_share

    def share(self, step: StepSignals) -> float | None:
        if step.groups < self.settings.min_groups:
            return None
        return (step.all_right + step.all_wrong) / step.groups

    def finding(self, step: StepSignals, share: float) -> _Finding:
        right, wrong = step.all_right / step.groups, step.all_wrong / step.groups
        values = {"zero_advantage": share, "all_right": right, "all_wrong": wrong}
        if step.all_right >= step.all_wrong:
            message = (
                f"{_pct(right)} of GRPO groups have every sample right (zero advantage): "
                "expected in One-Shot RLVR after saturation, where training goes on by design, "
                "elsewhere the prompts are too easy (Learning signal panel: mean@k)."
            )
            return _Finding("info", step.step, _rounded(values), message)
        message = (
            f"{_pct(share)} of GRPO groups have zero advantage, {_pct(wrong)} with every sample "
            "wrong: those prompts teach nothing, too hard or mislabelled (Learning signal "
            "panel: pass@k)."
        )
        return _Finding("warning", step.step, _rounded(values), message)


class _ScoringFailures(_Level):
    """Timeouts and errors above a small share of the step's items."""

    kind = "scoring_failures"

    @property
    def threshold(self) -> float:
        return self.settings.failure_share

    def share(self, step: StepSignals) -> float | None:
        return step.failures / step.items if step.items else None

    def finding(self, step: StepSignals, share: float) -> _Finding:
        message = (
            f"{_pct(share)} of the step's items timed out or failed to score, rewarded 0 "
            "whatever their answer (Timeouts and errors panel, and the table of failed items)."
        )
        values = {"failed": share, "failures": step.failures}
        return _Finding("warning", step.step, _rounded(values), message)


def _detectors(settings: AlarmSettings) -> list[_Detector]:
    return [
        _VerdictGaming(settings),
        _FormatWithoutAnswers(settings),
        _Truncation(settings),
        _AnswerCollapse(settings),
        _NoLearningSignal(settings),
        _ScoringFailures(settings),
    ]


@dataclass
class _Episode:
    """A kind's state between steps: the open alarm, or the streak that may raise one."""

    alarm: Alarm | None = None
    quiet: int = 0
    streak: int = 0
    streak_since: int = 0


class AlarmTracker:
    """The alarms of judged steps fed in step order, in constant time and memory per step.

    Feeding the same steps to a new tracker gives the same alarms (the tracker holds
    nothing but what the steps determine).
    """

    def __init__(self, settings: AlarmSettings = DEFAULT_ALARM_SETTINGS) -> None:
        self.settings = settings
        self._detectors = _detectors(settings)
        self._history: deque[StepSignals] = deque(
            maxlen=settings.recent_steps + settings.reference_steps
        )
        self._episodes = {detector.kind: _Episode() for detector in self._detectors}
        self._closed: deque[Alarm] = deque(maxlen=ALARMS_KEPT)

    def feed(self, signals: StepSignals) -> None:
        """Judge one more step (later than every step fed before)."""
        self._history.append(signals)
        history = tuple(self._history)
        for detector in self._detectors:
            episode = self._episodes[detector.kind]
            finding = detector.observe(history, raised=episode.alarm is not None)
            if finding is None:
                self._quiet(episode)
            else:
                self._found(detector, episode, finding, signals.step)

    def _quiet(self, episode: _Episode) -> None:
        episode.streak = 0
        if episode.alarm is None:
            return
        episode.quiet += 1
        if episode.quiet >= self.settings.close_after:
            self._close(episode)

    def _close(self, episode: _Episode) -> None:
        if episode.alarm is not None:
            self._closed.append(replace(episode.alarm, open=False))
        episode.alarm = None

    def _found(self, detector: _Detector, episode: _Episode, finding: _Finding, step: int) -> None:
        if episode.alarm is not None and episode.alarm.severity != finding.severity:
            self._close(episode)
        if episode.alarm is not None:
            episode.quiet = 0
            episode.alarm = replace(
                episode.alarm, last_step=step, values=finding.values, message=finding.message
            )
            return
        if episode.streak == 0:
            episode.streak_since = finding.since
        episode.streak += 1
        if episode.streak >= detector.persist:
            episode.alarm = Alarm(
                detector.kind,
                finding.severity,
                True,
                episode.streak_since,
                step,
                finding.values,
                finding.message,
            )
            episode.streak = episode.quiet = 0

    def alarms(self) -> list[Alarm]:
        """Open alarms (warnings first, then oldest first), then closed ones, newest first;
        at most ALARMS_KEPT."""
        opened = [e.alarm for e in self._episodes.values() if e.alarm is not None]
        opened.sort(key=lambda a: (a.severity != "warning", a.since_step, KINDS.index(a.kind)))
        closed = sorted(self._closed, key=lambda a: (-a.last_step, -a.since_step))
        return (opened + closed)[:ALARMS_KEPT]


def judged_steps(steps: Sequence[StepStats]) -> Sequence[StepStats]:
    """``steps`` (in step order) without the last one while it is still being scored: it is
    judged once it holds at least as many items as the step before it."""
    if len(steps) >= 2 and steps[-1].items >= steps[-2].items:
        return steps
    return steps[:-1]


def derive_alarms(
    steps: Sequence[StepStats], settings: AlarmSettings = DEFAULT_ALARM_SETTINGS
) -> list[Alarm]:
    """The alarms of ``steps`` (in step order), computed from scratch."""
    tracker = AlarmTracker(settings)
    for stats in judged_steps(steps):
        tracker.feed(StepSignals.of(stats))
    return tracker.alarms()


_Version = tuple[int, int, int, float]
"""A step's number and its (batches, items, time): a step that changed has another."""


def _version(stats: StepStats) -> _Version:
    return (stats.step, stats.batches, stats.items, stats.time)


class AlarmMonitor:
    """:func:`derive_alarms` kept up to date as a run's steps grow, feeding only new steps.

    Every step but the last is fed once; the last, when judged, is fed to a copy, since more
    of its items may come. A change to a step already fed (a late batch of an earlier step,
    steps dropped or reloaded) rebuilds the tracker from the steps.
    """

    def __init__(self, settings: AlarmSettings = DEFAULT_ALARM_SETTINGS) -> None:
        self.settings = settings
        self._tracker = AlarmTracker(settings)
        self._fed: list[_Version] = []

    def update(self, steps: Sequence[StepStats]) -> list[Alarm]:
        """The alarms of ``steps`` (in step order): what :func:`derive_alarms` gives."""
        settled = steps[:-1]
        if [_version(s) for s in settled[: len(self._fed)]] != self._fed:
            self._tracker = AlarmTracker(self.settings)
            self._fed = []
        for stats in settled[len(self._fed) :]:
            self._tracker.feed(StepSignals.of(stats))
            self._fed.append(_version(stats))
        if len(judged_steps(steps)) == len(settled):
            return self._tracker.alarms()
        provisional = copy.deepcopy(self._tracker)
        provisional.feed(StepSignals.of(steps[-1]))
        return provisional.alarms()

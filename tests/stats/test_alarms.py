"""Alarms: quiet on healthy runs, each failure raised as its own kind, closed on recovery.

The runs (``simulated_runs``) are scored in-process by the real scorer and counted per batch
as the service counts them; the answers' verification is shared between equal answers, as
the service's batch scorer shares it.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import orjson
import pytest

from reward_service.scoring import MultiSignalMathReward, ScoreResult
from reward_service.stats.alarms import (
    ALARMS_KEPT,
    DEFAULT_ALARM_SETTINGS,
    KINDS,
    PANELS,
    Alarm,
    AlarmMonitor,
    AlarmSettings,
    AlarmTracker,
    StepSignals,
    derive_alarms,
    judged_steps,
)
from reward_service.stats.panels import panels
from reward_service.stats.step import ScoredItem, StepStats, merge_by_step
from tests.conftest import make_response
from tests.stats import simulated_runs
from tests.stats.simulated_runs import FAILING, HEALTHY, Run, recovering
from tests.stats.test_answers import SUMS

REWARD = MultiSignalMathReward(verify_timeout_s=1)
_analyze = functools.lru_cache(maxsize=None)(REWARD.analyze)
_verify = functools.lru_cache(maxsize=None)(REWARD.verify)


def score(item: dict) -> ScoreResult:
    """``REWARD.score``, its three steps with the slow ones shared between equal inputs."""
    analysis = _analyze(item["response"])
    return REWARD.combine(analysis, _verify(analysis.pred, item["ground_truth"]))


def batches(run: Run, step: int) -> list[StepStats]:
    """The counts of each request of one step, as the service records them."""
    counted = []
    for request in simulated_runs.requests(run, range(step, step + 1)):
        items = [
            ScoredItem(
                item["response"],
                item["ground_truth"],
                group=item["group"],
                response_tokens=item["response_tokens"],
                truncated=item["truncated"],
            )
            for item in request["items"]
        ]
        results = [score(item) for item in request["items"]]
        counted.append(StepStats.of_batch(step, items, results, 1.0, float(step)))
    return counted


_COUNTED: dict[tuple, list[StepStats]] = {}


def step_batches(run: Run, step: int) -> list[StepStats]:
    """:func:`batches`, shared by runs whose steps are the same (a failing run's healthy
    steps before its onset are its healthy run's)."""
    key = (run.healthy, run.seed, run.prompts, run.samples, run.batch_size, step)
    key += (run.policy(step),)
    if key not in _COUNTED:
        _COUNTED[key] = batches(run, step)
    return _COUNTED[key]


@functools.cache
def steps_of(run: Run) -> tuple[StepStats, ...]:
    """The run's steps, merged from its batches."""
    return tuple(merge_by_step(b for step in range(run.steps) for b in step_batches(run, step)))


def warnings(alarms: list[Alarm]) -> set[str]:
    return {alarm.kind for alarm in alarms if alarm.severity == "warning"}


def of_kind(alarms: list[Alarm], kind: str) -> list[Alarm]:
    return [alarm for alarm in alarms if alarm.kind == kind]


def ids(runs: tuple[Run, ...]) -> list[str]:
    return [run.name for run in runs]


@pytest.mark.parametrize("run", HEALTHY, ids=ids(HEALTHY))
def test_healthy_runs_raise_no_warning(run: Run) -> None:
    assert warnings(derive_alarms(steps_of(run))) == set()


def test_a_saturated_run_is_told_that_no_learning_signal_is_expected() -> None:
    saturating = next(run for run in HEALTHY if run.name == "saturating")
    [alarm] = derive_alarms(steps_of(saturating))
    assert (alarm.kind, alarm.severity, alarm.open) == ("no_learning_signal", "info", True)
    assert "expected in One-Shot RLVR after saturation" in alarm.message
    assert alarm.values["all_right"] >= alarm.values["all_wrong"]


@pytest.mark.parametrize("run", FAILING, ids=ids(FAILING))
def test_each_failure_raises_its_own_kind_within_5_steps_of_its_onset(run: Run) -> None:
    """Held-out runs included: the defaults were not chosen on them."""
    assert run.onset is not None
    steps = steps_of(run)
    assert of_kind(derive_alarms(steps[: run.onset]), run.kind) == []
    [alarm] = of_kind(derive_alarms(steps[: run.onset + 6]), run.kind)
    assert alarm.severity == "warning" and alarm.open
    assert run.onset <= alarm.since_step <= alarm.last_step <= run.onset + 5
    assert warnings(derive_alarms(steps)) == {run.kind}


@pytest.mark.parametrize("run", FAILING, ids=ids(FAILING))
def test_an_alarm_says_what_it_means_and_where_to_look(run: Run) -> None:
    [alarm] = of_kind(derive_alarms(steps_of(run)), run.kind)
    title = next(p.title for p in panels([], [], "tokens") if p.id == PANELS[run.kind])
    assert title.split(":")[0].split(" (")[0] in alarm.message
    assert alarm.message.count(". ") == 0 and alarm.message.endswith(".")
    assert alarm.values and orjson.loads(orjson.dumps(alarm.to_dict())) == alarm.to_dict()


TUNED = tuple(recovering(run) for run in FAILING if not run.held_out)


@pytest.mark.parametrize("run", TUNED, ids=ids(TUNED))
def test_a_run_that_recovers_closes_the_alarm(run: Run) -> None:
    assert run.end is not None
    steps = steps_of(run)
    [alarm] = of_kind(derive_alarms(steps[: run.end + 10]), run.kind)
    assert not alarm.open
    assert alarm.last_step < run.end + DEFAULT_ALARM_SETTINGS.recent_steps
    assert of_kind(derive_alarms(steps), run.kind) == [alarm]
    assert warnings(derive_alarms(steps)) == {run.kind}


def test_the_kinds_each_have_a_panel() -> None:
    assert set(PANELS) == set(KINDS)
    assert set(PANELS.values()) <= {panel.id for panel in panels([], [], "tokens")}


def test_an_alarm_serves_exactly_its_fields() -> None:
    alarm = Alarm("truncation", "warning", True, 3, 7, {"truncated": 0.4}, "Cut.")
    assert alarm.to_dict() == {
        "kind": "truncation",
        "severity": "warning",
        "open": True,
        "since_step": 3,
        "last_step": 7,
        "values": {"truncated": 0.4},
        "message": "Cut.",
    }


def test_severity_says_which_way_the_groups_went() -> None:
    too_hard = next(run for run in FAILING if run.name == "no_learning_signal")
    [alarm] = of_kind(derive_alarms(steps_of(too_hard)), "no_learning_signal")
    assert alarm.severity == "warning" and alarm.values["all_wrong"] > alarm.values["all_right"]
    assert "every sample wrong" in alarm.message


def signals(step: int, failures: int = 0, items: int = 128) -> StepSignals:
    """A step with nothing wrong but ``failures`` scoring failures."""
    return StepSignals(
        step=step,
        items=items,
        verify=items / 2,
        format=items * 0.9,
        wrong=items // 2,
        wrong_says_correct=items // 8,
        truncated=0,
        truncation_reported=items,
        failures=failures,
        top_wrong="7",
        top_wrong_items=4,
        groups=16,
        all_right=2,
        all_wrong=2,
    )


def flapping(episodes: int) -> list[StepSignals]:
    """``episodes`` episodes of scoring failures, each 4 steps on and 4 off, then one left
    open."""
    pattern = [20] * 4 + [0] * 4
    failures = pattern * episodes + [20] * 4
    return [signals(step, n) for step, n in enumerate(failures)]


def tracked(steps: list[StepSignals], settings: AlarmSettings = DEFAULT_ALARM_SETTINGS) -> list:
    tracker = AlarmTracker(settings)
    for step in steps:
        tracker.feed(step)
    return tracker.alarms()


def test_one_entry_per_episode() -> None:
    alarms = tracked(flapping(5))
    assert [(a.since_step, a.last_step, a.open) for a in alarms] == [
        (40, 43, True),
        *((8 * k, 8 * k + 3, False) for k in reversed(range(5))),
    ]


def test_at_most_50_alarms_open_first_the_oldest_closed_dropped() -> None:
    alarms = tracked(flapping(ALARMS_KEPT + 10))
    assert len(alarms) == ALARMS_KEPT
    assert alarms[0].open and not any(a.open for a in alarms[1:])
    closed_since = [a.since_step for a in alarms[1:]]
    assert closed_since == sorted(closed_since, reverse=True)
    assert closed_since[-1] == 8 * (ALARMS_KEPT + 10 - (ALARMS_KEPT - 1))


def test_a_change_of_severity_is_a_new_episode() -> None:
    saturated = [replace(signals(step), all_right=15, all_wrong=0) for step in range(10)]
    hopeless = [replace(signals(step), all_right=0, all_wrong=15) for step in range(10, 20)]
    alarms = tracked(saturated + hopeless)
    assert [(a.severity, a.open, a.since_step, a.last_step) for a in alarms] == [
        ("warning", True, 10, 19),
        ("info", False, 0, 9),
    ]


def test_step_numbers_may_skip() -> None:
    steps = flapping(3)
    skipping = [replace(s, step=10 * s.step) for s in steps]
    renumbered = [
        replace(a, since_step=a.since_step // 10, last_step=a.last_step // 10)
        for a in tracked(skipping)
    ]
    assert renumbered == tracked(steps)


RUN = recovering(next(run for run in FAILING if run.name == "verdict_gaming"))


def test_rebuilt_from_scratch_equals_fed_as_the_batches_came() -> None:
    """The monitor, updated after every batch (a step half-scored included), gives what
    deriving from scratch gives; so do the steps reloaded from their records."""
    monitor = AlarmMonitor()
    merged: list[StepStats] = []
    for update, batch in enumerate(b for step in range(RUN.steps) for b in step_batches(RUN, step)):
        if merged and merged[-1].step == batch.step:
            merged[-1].merge(batch)
        else:
            merged.append(StepStats.from_dict(batch.to_dict()))
        alarms = monitor.update(merged)
        if update % 17 == 0:
            assert alarms == derive_alarms(merged)
    assert monitor.update(merged) == derive_alarms(merged) == derive_alarms(steps_of(RUN))
    assert of_kind(derive_alarms(merged), "verdict_gaming")


def test_steps_reloaded_from_their_records_give_the_same_alarms() -> None:
    steps = steps_of(RUN)
    records = orjson.loads(orjson.dumps([s.to_dict() for s in steps]))
    reloaded = [StepStats.from_dict(record) for record in records]
    assert derive_alarms(reloaded) == derive_alarms(steps)


def test_a_late_batch_of_an_earlier_step_rebuilds_the_monitor() -> None:
    steps = list(steps_of(RUN))
    monitor = AlarmMonitor()
    monitor.update(steps)
    late = StepStats.from_dict(steps[120].to_dict())
    late.merge(step_batches(RUN, 120)[0])
    steps[120] = late
    assert monitor.update(steps) == derive_alarms(steps)


def test_a_step_still_being_scored_is_not_judged() -> None:
    run = next(run for run in FAILING if run.name == "scoring_failures")
    steps = list(steps_of(run)[: run.onset + 2])
    first_batch = step_batches(run, run.onset + 2)[0]
    assert judged_steps([*steps, first_batch]) == steps
    assert of_kind(derive_alarms([*steps, first_batch]), "scoring_failures") == []
    whole = steps_of(run)[run.onset + 2]
    assert judged_steps([*steps, whole])[-1] is whole
    assert of_kind(derive_alarms([*steps, whole]), "scoring_failures")


def test_the_helper_scores_as_the_scorer_does() -> None:
    items = simulated_runs.step_items(FAILING[0], 0)[:20]
    for item in items:
        assert score(item) == REWARD.score(item["response"], item["ground_truth"])


@pytest.mark.parametrize(
    "change",
    [
        {"recent_steps": 0},
        {"persist_steps": 0},
        {"hold_fraction": 0.0},
        {"collapse_share": 1.5},
        {"format_warmup_steps": -1},
        {"min_z": 0.0},
    ],
)
def test_unsafe_settings_are_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        AlarmSettings(**change)


def test_settings_change_what_is_raised() -> None:
    lenient = AlarmSettings(failure_share=0.5)
    assert of_kind(tracked(flapping(1)), "scoring_failures")
    assert of_kind(tracked(flapping(1), lenient), "scoring_failures") == []


def answered(step: int, answers: list[str]) -> StepStats:
    """A step of one request whose responses give ``answers`` (label 12.8)."""
    responses = [make_response(answer) for answer in answers]
    items = [ScoredItem(response, "12.8") for response in responses]
    results = [score({"response": r, "ground_truth": "12.8"}) for r in responses]
    return StepStats.of_batch(step, items, results, 1.0, float(step))


def test_a_step_of_too_few_items_raises_no_collapse() -> None:
    """Each of three one-item steps is 100% its own wrong answer: nothing collapsed."""
    steps = [answered(step, [answer]) for step, answer in enumerate(["6", "7", "8"])]
    assert of_kind(derive_alarms(steps), "answer_collapse") == []


def test_a_collapse_is_judged_from_the_fewest_items_on() -> None:
    fewest = DEFAULT_ALARM_SETTINGS.collapse_min_items
    enough = [answered(step, ["13"] * fewest) for step in range(3)]
    [alarm] = of_kind(derive_alarms(enough), "answer_collapse")
    assert (alarm.values["answer"], alarm.values["share"]) == ("13", 1.0)
    fewer = [answered(step, ["13"] * (fewest - 1)) for step in range(3)]
    assert of_kind(derive_alarms(fewer), "answer_collapse") == []


def test_long_answers_that_differ_are_no_collapse() -> None:
    """Eight values, 89 characters each and alike but for their last digit, five times each:
    the most frequent holds an eighth of the step."""
    steps = [answered(step, SUMS * 5) for step in range(3)]
    assert StepSignals.of(steps[0]).top_wrong_items == 5
    assert of_kind(derive_alarms(steps), "answer_collapse") == []

"""Alarms over real HTTP: simulated GRPO runs (``simulated_runs``) posted to a live service
as verl's reward manager posts them, the alarms read back from ``/stats`` and ``/metrics``.

The two healthy runs are posted whole, 200 steps each, in requests of 48 items (a step's
groups split over three requests, sent at once). A failure pattern starts in the middle of
a healthy run, whose steps before its onset are exactly the healthy run's: so each failing
run's service starts on the healthy run's statistics file cut at the onset (steps scored
over HTTP by the healthy run's service, read back as after a restart), and the failing
steps are posted from four clients at once in micro-batches of 1 to 8 items, as verl's
reward workers send them.
"""

from __future__ import annotations

import contextlib
import random
import signal
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import ServiceProcess, serve_in_thread
from reward_service.settings import ServiceSettings
from reward_service.stats.alarms import DEFAULT_ALARM_SETTINGS, KINDS, SEVERITIES
from tests.conftest import make_response
from tests.service_process import metric
from tests.stats import simulated_runs
from tests.stats.simulated_runs import FAILING, HEALTHY, Run, recovering
from tests.stats.test_answers import SUMS

CLIENTS = 4
WITHIN_STEPS = 5
"""An alarm is raised within this many steps of its failure's onset."""


def _settings(stats_file: Path) -> ServiceSettings:
    return ServiceSettings(workers=1, item_timeout_s=1.0, stats_file=stats_file)


def _micro_batches(items: list[dict], step: int, rng: random.Random) -> list[dict]:
    bodies, start = [], 0
    while start < len(items):
        size = rng.randint(1, 8)
        bodies.append({"step": step, "items": items[start : start + size]})
        start += size
    return bodies


def _send_steps(url: str, steps: Iterable[list[dict]]) -> None:
    """Each step's requests from CLIENTS clients at once, a step sent whole before the next."""
    with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(CLIENTS) as pool:
        for bodies in steps:
            for response in pool.map(lambda body: client.post("/score", json=body), bodies):
                response.raise_for_status()


def _post_as_verl(url: str, run: Run, steps: range) -> None:
    """``steps`` of ``run`` in micro-batches of 1 to 8 items."""
    rng = random.Random(f"{run.name}/{steps.start}")
    _send_steps(
        url, (_micro_batches(simulated_runs.step_items(run, step), step, rng) for step in steps)
    )


def _post_steps(url: str, run: Run, steps: range | None = None) -> None:
    """``steps`` of ``run`` (all by default) in requests of ``run.batch_size`` items."""
    steps = range(run.steps) if steps is None else steps
    _send_steps(url, (list(simulated_runs.requests(run, range(s, s + 1))) for s in steps))


def _alarms(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/stats", timeout=60)
    response.raise_for_status()
    return response.json()["alarms"]


def _warnings(alarms: list[dict[str, Any]]) -> set[str]:
    return {alarm["kind"] for alarm in alarms if alarm["severity"] == "warning"}


def _of_kind(alarms: list[dict[str, Any]], kind: str | None) -> list[dict[str, Any]]:
    return [alarm for alarm in alarms if alarm["kind"] == kind]


def _gauge(url: str, kind: str, severity: str) -> float:
    return metric(url, f'reward_alarm{{kind="{kind}",severity="{severity}"}}')


@pytest.fixture(scope="module")
def healthy_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list, set]]:
    """Each healthy run posted whole: its statistics file, its alarms and the gauges at 1."""
    done = {}
    for run in HEALTHY:
        path = tmp_path_factory.mktemp(run.name) / "stats.jsonl"
        with serve_in_thread(create_app(_settings(path))) as url:
            _post_steps(url, run)
            raised = {
                (kind, severity)
                for kind in KINDS
                for severity in SEVERITIES[kind]
                if _gauge(url, kind, severity) == 1.0
            }
            done[run.name] = (path, _alarms(url), raised)
    return done


@pytest.mark.parametrize("run", HEALTHY, ids=[run.name for run in HEALTHY])
def test_healthy_runs_raise_no_warning(run: Run, healthy_runs: dict) -> None:
    """The saturating run (One-Shot RLVR's pi1) is told its groups carry no signal, as
    information: expected there."""
    _, alarms, raised = healthy_runs[run.name]
    assert _warnings(alarms) == set()
    if run.name == "saturating":
        [alarm] = alarms
        assert (alarm["kind"], alarm["severity"], alarm["open"]) == (
            "no_learning_signal",
            "info",
            True,
        )
        assert raised == {("no_learning_signal", "info")}
    else:
        assert alarms == [] and raised == set()


def _cut_at(healthy: Path, onset: int, path: Path) -> Path:
    """The healthy run's statistics file up to its step ``onset`` (not included)."""
    lines = healthy.read_bytes().splitlines()
    path.write_bytes(b"".join(line + b"\n" for line in lines if orjson.loads(line)["step"] < onset))
    return path


@pytest.mark.parametrize("run", FAILING, ids=[run.name for run in FAILING])
def test_each_failure_raises_its_own_kind_within_5_steps(
    run: Run, healthy_runs: dict, tmp_path: Path
) -> None:
    """Held-out patterns included: the defaults were not chosen on them."""
    assert run.onset is not None
    healthy, _, _ = healthy_runs[run.healthy.__name__]
    prefix = _cut_at(healthy, run.onset, tmp_path / "stats.jsonl")
    with serve_in_thread(create_app(_settings(prefix))) as url:
        before = _alarms(url)
        _post_as_verl(url, run, range(run.onset, run.onset + WITHIN_STEPS + 1))
        after = _alarms(url)
        gauge = _gauge(url, run.kind, "warning")
    assert _warnings(before) == set()
    [alarm] = _of_kind(after, run.kind)
    assert alarm["severity"] == "warning" and alarm["open"]
    assert run.onset <= alarm["since_step"] <= alarm["last_step"] <= run.onset + WITHIN_STEPS
    assert _warnings(after) == {run.kind}
    assert gauge == 1.0


_FAILURE = next(run for run in FAILING if run.name == "scoring_failures")
assert _FAILURE.onset is not None
RECOVERING = replace(recovering(_FAILURE), end=_FAILURE.onset + 2 * WITHIN_STEPS)
"""Its failure stops 10 steps after its onset (``recovering`` runs of the in-process tests
fail for 30): the healthy policy resumes."""


def _descendants(service: ServiceProcess) -> list[psutil.Process]:
    assert service.process is not None
    return psutil.Process(service.process.pid).children(recursive=True)


def test_an_alarm_survives_a_crash_and_closes_when_the_run_recovers(
    healthy_runs: dict, tmp_path: Path
) -> None:
    """``reward-service serve`` killed (-9) while the alarm is open comes back with the same
    alarms; once the healthy policy is back the alarm closes: ``open`` false, its
    ``last_step`` stops moving as the run goes on, and the gauge is back to 0."""
    assert RECOVERING.onset is not None and RECOVERING.end is not None
    healthy, _, _ = healthy_runs[RECOVERING.healthy.__name__]
    prefix = _cut_at(healthy, RECOVERING.onset, tmp_path / "stats.jsonl")
    settings = DEFAULT_ALARM_SETTINGS
    raised_by = RECOVERING.onset + WITHIN_STEPS + 1
    close_by = RECOVERING.end + settings.recent_steps + settings.close_after
    env = {
        "REWARD_SERVICE_WORKERS": "1",
        "REWARD_SERVICE_ITEM_TIMEOUT_S": "1",
        "REWARD_SERVICE_STATS_FILE": str(prefix),
    }
    service = ServiceProcess(env=env)
    leftovers: list[psutil.Process] = []
    try:
        service.start()
        _post_as_verl(service.url, RECOVERING, range(RECOVERING.onset, raised_by))
        before_crash = _alarms(service.url)
        leftovers = _descendants(service)
        assert service.stop(signal.SIGKILL) == -signal.SIGKILL
        service.start()
        after_restart = _alarms(service.url)
        _post_steps(service.url, RECOVERING, range(raised_by, close_by))
        [closed] = _of_kind(_alarms(service.url), RECOVERING.kind)
        _post_steps(service.url, RECOVERING, range(close_by, close_by + 3))
        [later] = _of_kind(_alarms(service.url), RECOVERING.kind)
        gauge = _gauge(service.url, RECOVERING.kind, "warning")
    finally:
        service.stop()
        for process in leftovers:  # the killed server's pool, if anything of it is left
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    assert [alarm["open"] for alarm in _of_kind(before_crash, RECOVERING.kind)] == [True]
    assert after_restart == before_crash
    assert not closed["open"] and closed["since_step"] <= RECOVERING.onset + WITHIN_STEPS
    assert RECOVERING.end - 1 <= closed["last_step"] < RECOVERING.end + settings.recent_steps
    assert later == closed and gauge == 0.0


def _answered(step: int, answers: list[str]) -> dict[str, Any]:
    items = [{"response": make_response(answer), "ground_truth": "12.8"} for answer in answers]
    return {"step": step, "items": items}


@pytest.mark.parametrize(
    ("answers", "values"),
    [([SUMS * 5] * 3, SUMS), ([["6"], ["7"], ["8"]], ["6", "7", "8"])],
    ids=["long answers that differ", "one-item steps"],
)
def test_no_collapse_is_raised_where_no_value_took_over(
    answers: list[list[str]], values: list[str], tmp_path: Path
) -> None:
    """Eight values of 89 characters alike but for their last digit, five times each, in
    three 40-item steps; and three steps of one item, each another wrong value."""
    with serve_in_thread(create_app(_settings(tmp_path / "stats.jsonl"))) as url:
        _send_steps(
            url, ([_answered(step, step_answers)] for step, step_answers in enumerate(answers))
        )
        view = httpx.get(f"{url}/stats", timeout=60).json()
        gauge = _gauge(url, "answer_collapse", "warning")
    assert _of_kind(view["alarms"], "answer_collapse") == [] and gauge == 0.0
    shown = [answer["label"] for answer in view["answers"] if not answer["right"]]
    assert len(set(shown)) == len(values)  # the Answers panel: a series for each value

"""No sequence of kills wedges the service: a randomised loop of SIGKILLs to the scoring
processes and the fork server (alone, together, in either order, a fraction of a second
apart) over a real ``reward-service serve`` on 127.0.0.1, while clients score. After the
last kill the service answers /health and scores again, every answer it gave was right
(or a 503 to retry), and no process it started outlives it."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

import httpx
import psutil

from reward_service.bench.local_server import ServiceProcess
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.service_process import fork_servers, scoring_workers

STORMS, ROUNDS, STORM_S, CALM_S = 2, 100, 30.0, 10.0
"""Kills come in storms of ROUNDS rounds 0-0.05 s apart (at most STORM_S long: about 12 s
on a loaded machine), each followed by a calm of up to CALM_S in which the service must
come back and score."""
RECOVERY_S = 60.0
"""How long the service may take to score again once the kills stop (a new pool starts
its fork server and workers, which import sympy: seconds, more on a loaded machine)."""


@dataclass
class Seen:
    """What the clients and the killer saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    scored: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    codes: list[int | str] = field(default_factory=list)
    kills: int = 0
    rounds: int = 0
    pids: set[int] = field(default_factory=set)


def _items(rng: random.Random) -> list[dict[str, str]]:
    """1-6 items that each need a real verification, some of them slow (0.1-0.4 s)."""
    items = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.3:
            power = rng.randint(30, 60)
            answer, label = f"(x+1)^{{{2 * power}}}", f"(x^2+2x+1)^{{{power}}}"
        else:
            numerator = rng.randint(1, 10**6)
            answer, label = f"\\frac{{{numerator}}}{{8}}", str(numerator / 8)
            if rng.random() < 0.3:
                label += "1"  # not equal
        items.append({"response": make_response(answer), "ground_truth": label})
    return items


def _client(url: str, seed: int, stop: threading.Event, seen: Seen) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=120) as http:
        while not stop.is_set():
            items = _items(rng)
            while True:  # a client retries 503 and dropped connections, as every client does
                try:
                    response = http.post("/score", json={"items": items})
                    code: int | str = response.status_code
                except httpx.TransportError as exc:
                    code = type(exc).__name__
                with seen.lock:
                    seen.codes.append(code)
                if code == 200:
                    break
                assert code == 503 or isinstance(code, str), response.text
                time.sleep(0.2)
            with seen.lock:
                for item, result in zip(items, response.json()["results"], strict=True):
                    key = (item["response"], item["ground_truth"])
                    seen.scored.setdefault(key, []).append(result)


def _kill(pids: list[int], seen: Seen) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        with seen.lock:
            seen.kills += 1


def _kill_round(pid: int, rng: random.Random, seen: Seen) -> None:
    """Some workers, all of them, the fork server, or the fork server and the workers in
    either order up to 0.3 s apart."""
    workers, servers = scoring_workers(pid), fork_servers(pid)
    with seen.lock:
        seen.pids.update(workers + servers)
        seen.rounds += 1
    kind = rng.choice(["one worker", "workers", "fork server", "both"])
    if kind == "one worker" and workers:
        _kill([rng.choice(workers)], seen)
    elif kind == "workers":
        _kill(workers, seen)
    elif kind == "fork server":
        _kill(servers, seen)
    else:
        first, then = (servers, workers) if rng.random() < 0.5 else (workers, servers)
        _kill(first, seen)
        time.sleep(rng.uniform(0, 0.3))
        _kill(then, seen)


def _killer(pid: int, seed: int, seen: Seen) -> None:
    """Storms of kill rounds 0-0.05 s apart (they hit pools that are still starting), each
    followed by a calm in which the service comes back and scores under load."""
    rng = random.Random(seed)
    for _ in range(STORMS):
        until = time.monotonic() + STORM_S
        for _ in range(ROUNDS):
            if time.monotonic() > until:
                break
            _kill_round(pid, rng, seen)
            time.sleep(rng.uniform(0, 0.05))
        with seen.lock:
            scored_before = seen.codes.count(200)
        calm_until = time.monotonic() + CALM_S
        while time.monotonic() < calm_until:  # a calm ends early once it has scored
            with seen.lock:
                if seen.codes.count(200) > scored_before + 2:
                    break
            time.sleep(0.1)


def test_no_kill_sequence_wedges_the_service() -> None:
    seen, stop = Seen(), threading.Event()
    env = {"REWARD_SERVICE_WORKERS": "2", "REWARD_SERVICE_LOG_LEVEL": "warning"}
    service = ServiceProcess(env=env).start()
    try:
        pid = service.process.pid  # type: ignore[union-attr]
        clients = [
            threading.Thread(target=_client, args=(service.url, seed, stop, seen))
            for seed in range(3)
        ]
        for client in clients:
            client.start()
        _killer(pid, seed=17, seen=seen)
        stop.set()
        scored_during_kills = seen.codes.count(200)
        started = time.monotonic()
        for client in clients:  # each finishes the request it was retrying
            client.join(timeout=RECOVERY_S)
        assert not any(client.is_alive() for client in clients), "a request never got scored"
        service.wait_healthy(RECOVERY_S - (time.monotonic() - started))
        # healthy means a verification runs now: a new answer, never cached
        fresh = {"response": make_response("\\frac{987654321}{8}"), "ground_truth": "123456790.125"}
        after = httpx.post(f"{service.url}/score", json=fresh, timeout=30)
        workers_after = scoring_workers(pid)
    finally:
        stop.set()
        service.stop()
    assert after.status_code == 200 and after.json()["results"][0]["verify"] == 1
    assert len(workers_after) == 2
    assert seen.rounds == STORMS * ROUNDS and seen.kills >= STORMS * 10, (seen.rounds, seen.kills)
    assert service.output.count("scoring pool replaced") >= STORMS  # the kills broke it
    assert scored_during_kills >= STORMS  # and it scored again in every calm
    assert "Exception in callback" not in service.output
    # every answer was right: in-process scoring agrees, or the item's process died twice
    # from a kill (SIGKILL, -9) while the pool stood; a lost fork server is a 503, never this
    for (response, label), results in seen.scored.items():
        expected = compute_score("kill-loop", response, label)
        for result in results:
            if result["status"] == "error":
                assert "process died (exit code -9)" in result["error"], result
            else:
                assert result == expected
    _, alive = psutil.wait_procs(_still_there(seen.pids), timeout=10)
    assert alive == []  # no orphan: every process it started has gone with it


def _still_there(pids: set[int]) -> list[psutil.Process]:
    processes = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            processes.append(psutil.Process(pid))
    return processes

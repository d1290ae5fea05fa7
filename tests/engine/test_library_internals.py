"""The private internals of multiprocessing and pebble that the pool relies on: each test
names the fact that a new version of either library broke."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pebble
import pytest

from reward_service.engine.library_internals import (
    FORK_SERVER_LOST,
    forkserver_pid,
    is_pool_failure,
    raised_in_task,
)
from tests.pool_faults import raise_value_error


@pytest.fixture
def pool() -> Iterator[pebble.ProcessPool]:
    context = multiprocessing.get_context("forkserver")
    process_pool = pebble.ProcessPool(max_workers=1, context=context)
    yield process_pool
    process_pool.stop()
    process_pool.join()


def test_the_fork_servers_pid_is_where_multiprocessing_keeps_it(
    pool: pebble.ProcessPool,
) -> None:
    pool.schedule(sorted, args=([2, 1],)).result(timeout=60)  # starts the fork server
    pid = forkserver_pid()
    assert pid is not None, "multiprocessing.forkserver._forkserver._forkserver_pid is gone"
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"forkserver" in command, "the pid multiprocessing keeps is not its fork server"


def test_an_error_of_the_task_carries_the_workers_traceback(pool: pebble.ProcessPool) -> None:
    with pytest.raises(ValueError) as raised:
        pool.schedule(raise_value_error, args=(["a"],)).result(timeout=60)
    assert raised_in_task(raised.value), "pebble no longer attaches 'traceback' to task errors"
    assert "raise_value_error" in raised.value.traceback  # type: ignore[attr-defined]
    assert not is_pool_failure(raised.value, pool)


LOSE_THE_FORK_SERVER = """
import multiprocessing, os, signal, time
import pebble
from reward_service.engine.library_internals import forkserver_pid, is_pool_failure
from reward_service.engine.worker import init_worker
from tests.pool_faults import wait_for_kill

pool = pebble.ProcessPool(  # the service's workers: each dies with its fork server
    max_workers=1,
    initializer=init_worker,
    initargs=(512, 1.0, 1000),
    context=multiprocessing.get_context("forkserver"),
)
pool.schedule(sorted, args=([2, 1],)).result(timeout=60)
future = pool.schedule(wait_for_kill, args=(["a"],))
deadline = time.monotonic() + 60
while not future.running() and time.monotonic() < deadline:  # a worker has taken it
    time.sleep(0.01)
os.kill(forkserver_pid(), signal.SIGKILL)
try:
    future.result(timeout=120)
except Exception as lost:
    print(type(lost).__name__, getattr(lost, "exitcode", None), is_pool_failure(lost, pool))
pool.stop()
pool.join()
"""


def test_a_worker_lost_with_its_fork_server_reads_as_the_pools_failure() -> None:
    """In a process of its own: this one's fork server serves the other tests' pools."""
    run = subprocess.run(
        [sys.executable, "-c", LOSE_THE_FORK_SERVER],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert run.returncode == 0, run.stderr
    kind, exit_code, pool_failure = run.stdout.split()
    assert (kind, exit_code) == ("ProcessExpired", str(FORK_SERVER_LOST)), (
        f"a worker of a dead fork server now reads as {kind} with exit code {exit_code}"
    )
    assert pool_failure == "True"


def test_a_stopped_pool_refuses_work_with_a_bare_runtime_error(
    pool: pebble.ProcessPool,
) -> None:
    pool.stop()
    pool.join()
    with pytest.raises(RuntimeError) as refused:
        pool.schedule(sorted, args=([1],))
    assert type(refused.value) is RuntimeError and not raised_in_task(refused.value)
    assert is_pool_failure(refused.value, pool)

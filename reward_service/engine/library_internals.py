"""What the pool takes from the private internals of multiprocessing and pebble, in one place.

Neither library has a public way to ask these things. Each is pinned by
``tests/engine/test_library_internals.py``, which fails loudly, naming the fact, when a new
version of either library changes it.

- :func:`forkserver_pid`: the process id of multiprocessing's fork server
  (``multiprocessing.forkserver._forkserver._forkserver_pid``).
- :data:`FORK_SERVER_LOST`: the exit code a worker reads as once its fork server, which
  reports it, is gone.
- :func:`is_pool_failure`: how pebble says that the pool, not the task, broke: a bare
  ``RuntimeError`` of its own (an exception raised in a task carries the worker's text in a
  ``traceback`` attribute that pebble sets), or a worker lost with its fork server.
"""

from __future__ import annotations

import multiprocessing.forkserver
from concurrent.futures.process import BrokenProcessPool

import pebble

FORK_SERVER_LOST = 255
"""A worker's exit code as read when its fork server, which reports it, is gone."""


def forkserver_pid() -> int | None:
    """The fork server's process id, or None when this process has not started one."""
    return multiprocessing.forkserver._forkserver._forkserver_pid


def raised_in_task(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by the task's own code in a worker (pebble attaches the
    worker's traceback text to it)."""
    return hasattr(exc, "traceback")


def is_pool_failure(exc: BaseException, pool: pebble.ProcessPool) -> bool:
    """Whether ``exc`` says the pool is broken, rather than that this task failed (a task's
    own errors come from its worker, see :func:`raised_in_task`; its death is
    ``ProcessExpired`` with the worker's exit code; its hard limit ``TimeoutError``)."""
    if isinstance(exc, BrokenProcessPool) or not pool.active:
        return True
    if isinstance(exc, pebble.ProcessExpired):
        return exc.exitcode == FORK_SERVER_LOST
    return type(exc) is RuntimeError and not raised_in_task(exc)

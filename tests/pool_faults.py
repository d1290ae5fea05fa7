"""Worker functions that misbehave on purpose, for the pool's fault tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence


def echo_unless_told(items: Sequence[str]) -> list[str]:
    """Echo items; 'hang' blocks in a way no signal interrupts, 'crash' segfaults, 'hog'
    allocates far past the worker's memory limit."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    for item in items:
        if item == "hang":
            time.sleep(3600)
        elif item == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif item == "hog":
            bytearray(8 * 1024**3)
    return list(items)


def raise_value_error(items: Sequence[str]) -> list[str]:
    """Fail in the task's own code."""
    raise ValueError(f"refused {len(items)} items")


def wait_for_kill(items: Sequence[str]) -> list[str]:
    """Hold the worker until something kills it (or its fork server)."""
    time.sleep(3600)
    return list(items)

"""Verdicts shared by the replicas of a Ray Serve deployment: one Ray actor, the board.

Each replica's :class:`~reward_service.engine.batch.BatchScorer` caches its own verdicts, so an
answer that reaches N replicas (a GRPO group's samples spread by Ray's proxy) is verified
up to N times (benchmarks/RESULTS.md measures it). With a :class:`SharedVerdicts`, a
replica asks the board for the verdicts its own cache lacks before verifying them, and
posts every verdict it computes. The board keeps them as a replica does: final verdicts in
a bounded LRU, timeouts for ``TIMEOUT_TTL_S``.

The board is a cache, nothing more: an unreachable or slow board costs verifications,
never a result. It belongs to the replica that started it (it goes with the deployment);
Ray restarts it (empty) when its process dies, and a replica starts another when its owner
is gone. Its name carries the scorer version and the
settings that shape a verdict, so replicas of different versions never share verdicts.

Ray is imported when a board is needed, never by importing this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache, TTLCache

from reward_service.engine import TIMEOUT_TTL_S, TIMEOUTS_KEPT
from reward_service.scoring import VerifyOutcome

if TYPE_CHECKING:
    from reward_service.settings import ServiceSettings

logger = logging.getLogger("reward_service")

BOARD_NAMESPACE = "reward_service"
LOOKUP_TIMEOUT_S = 1.0
"""Longest wait for the board's answer; past it the replica verifies for itself."""
WARN_EVERY_S = 60.0


class VerdictBoard:
    """The board's state (``ray.remote`` makes it the actor).

    Args:
        size: final verdicts kept (``REWARD_SERVICE_CACHE_SIZE``).
    """

    def __init__(self, size: int) -> None:
        self._final: LRUCache[bytes, VerifyOutcome] = LRUCache(maxsize=size)
        self._timeouts: TTLCache[bytes, VerifyOutcome] = TTLCache(
            maxsize=TIMEOUTS_KEPT, ttl=TIMEOUT_TTL_S
        )

    def lookup(self, digests: list[bytes]) -> dict[bytes, VerifyOutcome]:
        """The verdicts known for ``digests``."""
        found = {}
        for digest in digests:
            outcome = self._final.get(digest) or self._timeouts.get(digest)
            if outcome is not None:
                found[digest] = outcome
        return found

    def post(self, outcomes: dict[bytes, VerifyOutcome]) -> None:
        """Keep final verdicts and timeouts (an error is never kept)."""
        for digest, outcome in outcomes.items():
            if outcome.status == "ok":
                self._final[digest] = outcome
            elif outcome.status == "timeout":
                self._timeouts[digest] = outcome


def board_name(settings: ServiceSettings, scorer_version: str) -> str:
    """The board of replicas that give the same verdict to the same pair."""
    shaping = f"{scorer_version}|{settings.item_timeout_s}|{settings.max_answer_chars}"
    return f"reward_service_verdicts_{hashlib.blake2b(shaping.encode(), digest_size=8).hexdigest()}"


class SharedVerdicts:
    """A replica's access to the board (see :class:`~reward_service.engine.batch.BatchScorer`).

    Args:
        name: the board's name, see :func:`board_name`.
        size: final verdicts the board keeps.
    """

    def __init__(self, name: str, size: int) -> None:
        self._name = name
        self._size = size
        self._board: Any = None
        self._warned_at = -WARN_EVERY_S

    def _handle(self) -> Any:
        import ray

        if self._board is None:
            self._board = (
                ray.remote(VerdictBoard)
                .options(name=self._name, namespace=BOARD_NAMESPACE, get_if_exists=True, num_cpus=0)
                .remote(self._size)
            )
        return self._board

    def connect(self) -> SharedVerdicts:
        """Start (or find) the board now; blocks until it answers."""
        import ray

        ray.get(self._handle().lookup.remote([]), timeout=120)
        return self

    async def lookup(self, digests: list[bytes]) -> dict[bytes, VerifyOutcome]:
        """The board's verdicts for ``digests``; none when it does not answer in time."""
        try:
            return await asyncio.wait_for(self._handle().lookup.remote(digests), LOOKUP_TIMEOUT_S)
        except Exception as exc:  # Ray's errors, or the timeout: verify here instead
            self._lost(exc)
            return {}

    def post(self, outcomes: dict[bytes, VerifyOutcome]) -> None:
        """Give the board these verdicts (never waits)."""
        try:
            self._handle().post.remote(outcomes)
        except Exception as exc:
            self._lost(exc)

    def _lost(self, exc: Exception) -> None:
        self._board = None  # found or started again on the next call
        if time.monotonic() - self._warned_at >= WARN_EVERY_S:
            self._warned_at = time.monotonic()
            logger.warning("verdict board unavailable (%s): verifying without it", exc)


def shared_verdicts(settings: ServiceSettings, scorer_version: str) -> SharedVerdicts | None:
    """The replicas' shared verdicts, for ``create_app(share_verdicts=...)`` (None when
    ``REWARD_SERVICE_CACHE_SIZE`` is 0: no verdict is kept at all). Blocks until the board
    answers."""
    if settings.cache_size == 0:
        return None
    return SharedVerdicts(board_name(settings, scorer_version), settings.cache_size).connect()

"""Every exception of the service and its client, in one place (the scoring core never
raises: its errors are data, see :mod:`reward_service.scoring`).

The service (each answered the same way wherever it is raised, see ``reward_service.app``)::

    RetryLater                  503 with Retry-After: nothing was done, the client retries
    ├── Overloaded              too much in flight (items or body bytes)
    ├── PoolUnavailable         the scoring pool broke and is being replaced
    └── StatsUnavailable        a shared statistics store (Ray Serve's keeper) is away
    ClientDisconnected          499: the client left; its queued work was dropped
    NoSuchResponse              404: a response id this run never issued

The client (:mod:`reward_service.client`, used by the trainers)::

    RewardServiceError
    ├── RewardServiceUnavailable   connection errors, timeouts or 5xx, after the last retry
    └── RewardRequestRejected      a 4xx answer: the request itself is wrong, never retried
"""

from __future__ import annotations

RETRY_AFTER_S = 2
"""What ``Retry-After`` says when the service answers :class:`RetryLater`."""


class RetryLater(RuntimeError):
    """The service cannot take this request now; nothing was scored. Retry after
    RETRY_AFTER_S."""


class Overloaded(RetryLater):
    """Admitting the request would pass the in-flight bound."""


class PoolUnavailable(RetryLater):
    """The pool broke as a whole and is being replaced; the work was not done."""


class StatsUnavailable(RetryLater):
    """The statistics are out of reach for now (a shared store restarting)."""


class ClientDisconnected(Exception):
    """The client went away before its answer was ready; its queued work was dropped."""


class NoSuchResponse(LookupError):
    """A response id this run never issued (as opposed to one no longer kept)."""


PROMPT_NOT_FOUND = (
    "the prompt was not found at the start of the query (even with whitespace ignored, "
    "or as a truncated prompt's tail), so the response cannot be told from the prompt"
)
"""The error of an OpenRLHF query that does not start with its prompt: the route's own
verdict, never the scorer's, so re-scoring leaves such an item as it was."""


class RewardServiceError(RuntimeError):
    """Scoring through the reward service failed."""


class RewardServiceUnavailable(RewardServiceError):
    """The service could not be reached or kept failing (connection, timeout, 5xx)."""


class RewardRequestRejected(RewardServiceError):
    """The service refused the request (4xx); its message says why."""

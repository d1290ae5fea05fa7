"""The HTTP layer: reading and checking requests, admitting them, the routes, the metrics.

- :mod:`~reward_service.api.deps`: what a route gets from the running service
  (:class:`ServiceState`, one dependency) and the token and content-type checks.
- :mod:`~reward_service.api.body`: a request body read within its limits, decoded and
  validated; every 413 and 422 of the scoring routes comes from here.
- :mod:`~reward_service.api.admission`: the bound on items and bytes in flight.
- :mod:`~reward_service.api.disconnects`: work dropped when its client leaves (499).
- :mod:`~reward_service.api.recording`: what a scoring route does with a scored batch.
- :mod:`~reward_service.api.metrics`: the Prometheus metrics and the request counter.
- :mod:`~reward_service.api.schemas`: request and response bodies.
- :mod:`~reward_service.api.routes`: ``/score``, ``/stats`` and ``/dashboard``, ``/health``
  and ``/metrics``.

It imports the engine, the statistics and the scoring core; the trainers' adapters
(:mod:`reward_service.integrations`) build their routes from what it exports.
"""

from reward_service.api.admission import InFlightLimit
from reward_service.api.body import decode_json, read_body, refuse_too_many, validated
from reward_service.api.deps import (
    TOKEN_QUERY_KEY,
    RequireJson,
    RequireToken,
    ServiceState,
    State,
    token_accepted,
)
from reward_service.api.disconnects import CLIENT_CLOSED_REQUEST, unless_client_leaves
from reward_service.api.metrics import ScoreRequestCounter, ServiceMetrics
from reward_service.api.recording import record_scored

__all__ = [
    "CLIENT_CLOSED_REQUEST",
    "TOKEN_QUERY_KEY",
    "InFlightLimit",
    "RequireJson",
    "RequireToken",
    "ScoreRequestCounter",
    "ServiceMetrics",
    "ServiceState",
    "State",
    "decode_json",
    "read_body",
    "record_scored",
    "refuse_too_many",
    "token_accepted",
    "unless_client_leaves",
    "validated",
]

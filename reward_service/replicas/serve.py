"""The reward service on Ray Serve: the same FastAPI app, N replicas, one scoring pool each.

On a Ray cluster (``ray start --head`` on one node, ``ray start --address=HEAD:6379`` on
the others), from the repository root (``deploy/ray_serve_app.py`` names this builder)::

    serve run deploy.ray_serve_app:app_builder replicas=4 workers_per_replica=8

Each replica reserves ``workers_per_replica`` CPUs and starts that many scoring
processes; Ray places replicas across nodes and its HTTP proxy (port 8000 by default)
balances requests over them. Other service settings come from ``REWARD_SERVICE_*``
variables, passed to every replica.

The replicas share one view: each reports its batches and its metrics to one statistics
keeper (a detached Ray actor on the head node, :mod:`~reward_service.replicas.keeper`), so
``/stats``, ``/dashboard`` and the statistics file (on the head node) hold the whole run,
and ``/metrics/replicas`` (:mod:`~reward_service.replicas.metrics_route`) every replica's
metrics. They share their verdicts too (:mod:`~reward_service.replicas.verdicts`): an
answer verified on one replica is not verified again on another (``share_verdicts=false``
turns it off). With ``REWARD_SERVICE_RECORD_DIR``, each replica writes files of its own (named
by host, pid and replica) into the record, under the steps the keeper gives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ray import serve
from ray.serve import Application

from reward_service.app import create_app, process_name
from reward_service.replicas import metrics_route
from reward_service.replicas.keeper import open_shared_stats, serve_replica_id
from reward_service.replicas.verdicts import shared_verdicts
from reward_service.settings import ENV_PREFIX


def build_app(
    replicas: int = 2, workers_per_replica: int = 1, share_verdicts: bool = True
) -> Application:
    """A Serve application of ``replicas`` copies of the service (sharing their verdicts
    unless ``share_verdicts`` is False)."""
    if replicas < 1 or workers_per_replica < 1:
        raise ValueError("replicas and workers_per_replica must be >= 1")
    env = {name: value for name, value in os.environ.items() if name.startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}WORKERS"] = str(workers_per_replica)
    app = create_app(
        open_stats=open_shared_stats,
        share_verdicts=shared_verdicts if share_verdicts else None,
        replica_name=lambda: f"{process_name()}-{serve_replica_id()}",
    )
    app.include_router(metrics_route.router)

    @serve.deployment(
        name="reward_service",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": workers_per_replica, "runtime_env": {"env_vars": env}},
        health_check_period_s=10,
    )
    @serve.ingress(app)
    class RewardServiceReplica:
        """One replica: the FastAPI app, its lifespan owning a scoring pool."""

    return RewardServiceReplica.bind()


def app_builder(args: Mapping[str, str]) -> Application:
    """Entry point for ``serve run deploy.ray_serve_app:app_builder key=value ...``."""
    share = args.get("share_verdicts", "true").lower()
    if share not in ("true", "false"):
        raise ValueError(f"share_verdicts must be true or false, not {share!r}")
    return build_app(
        replicas=int(args.get("replicas", 2)),
        workers_per_replica=int(args.get("workers_per_replica", 1)),
        share_verdicts=share == "true",
    )

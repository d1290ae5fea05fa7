"""The reward service on Ray Serve (:mod:`reward_service.replicas.serve`), by the path the
README gives. From the repository root, on a Ray cluster::

    serve run deploy.ray_serve_app:app_builder replicas=4 workers_per_replica=8
"""

from reward_service.replicas.serve import app_builder, build_app

__all__ = ["app_builder", "build_app"]

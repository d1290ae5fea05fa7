"""Ray Serve: the service as N replicas that share one view of the run.

- :mod:`~reward_service.replicas.serve`: the Serve application (``serve run
  deploy.ray_serve_app:app_builder``), one scoring pool per replica.
- :mod:`~reward_service.replicas.keeper`: the statistics keeper, one Ray actor that every
  replica reports its batches and metrics to.
- :mod:`~reward_service.replicas.verdicts`: the verdict board, one Ray actor through which
  replicas share their verdicts.
- :mod:`~reward_service.replicas.metrics_route`: ``GET /metrics/replicas``.

Everything else in the package imports nothing from here; Ray itself is imported only by
``serve`` and when an actor is needed (the ``deploy`` extra).
"""

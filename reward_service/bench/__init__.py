"""The benchmark harness: synthetic GRPO workloads, the service run locally, the two benchmarks.

- :mod:`~reward_service.bench.workload`: synthetic GRPO steps, with pathological answers.
- :mod:`~reward_service.bench.local_server`: the service on a loopback port, in a thread
  or as its own process.
- :mod:`~reward_service.bench.whole_step`: whole 4,096-response steps against verl's naive loop.
- :mod:`~reward_service.bench.streaming`: verl's streaming shape (8 clients, 1-8 items).
"""

"""A bounded schemathesis run against the live service's own /openapi.json: no 5xx, every
response matches its documented schema (so ``score`` is never null)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 100


def test_every_operation_keeps_its_contract(service_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{service_url}/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_contract(case) -> None:
            case.call_and_validate(timeout=60)

        keeps_contract()
        checked.append(operation.label)
    assert {"POST /score", "GET /health", "GET /stats", "GET /metrics"} <= set(checked)

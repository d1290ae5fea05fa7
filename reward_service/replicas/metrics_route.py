"""``GET /metrics/replicas``: every replica's Prometheus metrics, on Ray Serve.

``/metrics`` is the metrics of the replica that answered. This route serves those of every
live replica (each reports them to the statistics keeper every few seconds), each series
labelled ``replica``: one scrape target for the whole deployment, through Ray's proxy.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from reward_service.api.deps import State

REPLICA_LABEL = "replica"

router = APIRouter(tags=["operations"])


class _Labelled:
    """A collector of the replicas' metrics, merged by name, labelled by replica."""

    def __init__(self, expositions: dict[str, bytes]) -> None:
        self._expositions = expositions

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for replica, exposition in sorted(self._expositions.items()):
            for family in text_string_to_metric_families(exposition.decode()):
                kept = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                kept.samples += [
                    Sample(s.name, {**s.labels, REPLICA_LABEL: replica}, s.value, s.timestamp)
                    for s in family.samples
                ]
        yield from merged.values()


@router.get("/metrics/replicas", response_class=Response)
def replica_metrics(state: State) -> Response:
    """Prometheus text format: every live replica's metrics, labelled ``replica``."""
    body = generate_latest(_Labelled(state.stats.replica_metrics()))  # type: ignore[attr-defined]
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""``POST /score``: score a batch (or one bare item) of responses."""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from reward_service.batch import BatchItem
from reward_service.deps import (
    InFlight,
    Metrics,
    RequireToken,
    Scorer,
    ScorerVersion,
    Settings,
    Stats,
)
from reward_service.request_body import parse_score_request, read_body
from reward_service.schemas import ScoreRequest, ScoreResponse
from reward_service.scoring import RewardWeights

logger = logging.getLogger("reward_service")

router = APIRouter(tags=["scoring"], dependencies=[RequireToken])


def _declared_length(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else 0


def _weights(score_request: ScoreRequest, defaults: RewardWeights) -> RewardWeights:
    if score_request.weights is None:
        return defaults
    given = score_request.weights.model_dump(exclude_none=True)
    return RewardWeights.from_mapping(given, base=defaults)


@router.post(
    "/score",
    response_model=ScoreResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}}
            },
        }
    },
    responses={400: {}, 401: {}, 413: {}, 422: {}, 503: {}},
)
async def score(
    request: Request,
    settings: Settings,
    in_flight: InFlight,
    scorer: Scorer,
    metrics: Metrics,
    stats: Stats,
    scorer_version: ScorerVersion,
) -> Response:
    """Score every item; results come back in request order, each with its own status.

    An item over a size limit is that item's ``error``; the rest are scored.
    """
    started = time.perf_counter()
    score_request = parse_score_request(await read_body(request, settings.max_body_bytes))
    if len(score_request.items) > settings.max_items:
        raise HTTPException(
            413, f"{len(score_request.items)} items is over the limit of {settings.max_items}"
        )
    items = [
        BatchItem(item.response, item.ground_truth, item.extra_info) for item in score_request.items
    ]
    report = await scorer.score(items, _weights(score_request, scorer.reward.weights))
    elapsed = time.perf_counter() - started
    body = orjson.dumps(
        {
            "results": [result.to_dict() for result in report.results],
            "scorer_version": scorer_version,
            "elapsed_ms": round(elapsed * 1000, 3),
        }
    )
    # The response is decided: statistics are recorded now and can no longer fail it.
    metrics.record_batch(report, elapsed)
    try:
        stats.record(report.results, [i.response for i in items], score_request.step, elapsed * 1e3)
    except Exception:
        logger.exception("recording statistics failed; the scores are returned all the same")
        metrics.stats_failures.inc()
    return Response(body, media_type="application/json")

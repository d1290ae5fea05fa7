"""``POST /score``: score a batch (or one bare item) of responses."""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request, Response

from reward_service.api.body import parse_score_request, read_body
from reward_service.api.deps import RequireJson, RequireToken, State
from reward_service.api.disconnects import unless_client_leaves
from reward_service.api.recording import item_weights, record_scored
from reward_service.api.schemas import ScoreItemIn, ScoreRequest, ScoreResponse
from reward_service.engine import BatchItem
from reward_service.scoring import RewardWeights
from reward_service.stats import ScoredItem

router = APIRouter(tags=["scoring"], dependencies=[RequireToken, RequireJson])
ROUTE = "/score"


def _scored_item(item: ScoreItemIn) -> ScoredItem:
    return ScoredItem(
        item.response,
        item.ground_truth,
        item.data_source,
        item.group,
        item.response_tokens,
        item.truncated,
    )


def _weights(score_request: ScoreRequest, defaults: RewardWeights) -> RewardWeights:
    if score_request.weights is None:
        return defaults
    given = score_request.weights.model_dump(exclude_none=True)
    return RewardWeights.from_mapping(given, base=defaults)


@router.post(
    ROUTE,
    response_model=ScoreResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}}
            },
        }
    },
    responses={400: {}, 401: {}, 408: {}, 413: {}, 415: {}, 422: {}, 499: {}, 503: {}},
)
async def score(request: Request, state: State) -> Response:
    """Score every item; results come back in request order, each with its own status.

    An item over a size limit is that item's ``error``; the rest are scored. 503 (with
    ``Retry-After``) when too much is in flight or the scoring pool is being replaced.
    """
    started = time.perf_counter()
    settings, scorer, in_flight = state.settings, state.scorer, state.in_flight
    async with read_body(request, settings.max_body_bytes, in_flight) as body:
        score_request = await parse_score_request(
            body, settings.max_items, settings.max_answer_chars
        )
        items = [
            BatchItem(item.response, item.ground_truth, item.extra_info)
            for item in score_request.items
        ]
        weights = _weights(score_request, scorer.reward.weights)
        with in_flight.admit(items=len(items)):
            report = await unless_client_leaves(request, scorer.score(items, weights))
    elapsed = time.perf_counter() - started
    answer = orjson.dumps(
        {
            "results": [result.to_dict() for result in report.results],
            "scorer_version": state.scorer_version,
            "elapsed_ms": round(elapsed * 1000, 3),
        }
    )
    # The response is decided: statistics are recorded now and can no longer fail it.
    scored = [_scored_item(item) for item in score_request.items]
    used = item_weights(weights, [item.extra_info for item in score_request.items])
    record_scored(state, report, scored, score_request.step, elapsed, ROUTE, used)
    return Response(answer, media_type="application/json")

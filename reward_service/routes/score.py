"""``POST /score``: score a batch (or one bare item) of responses."""

from __future__ import annotations

import hmac
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from reward_service.batch import BatchItem
from reward_service.schemas import ScoreRequest, ScoreResponse
from reward_service.scoring._reward import RewardWeights
from reward_service.settings import ServiceSettings

router = APIRouter(tags=["scoring"])


def _check_token(request: Request, settings: ServiceSettings) -> None:
    """Refuse the request unless it carries the configured bearer token."""
    if settings.api_token is None:
        return
    expected = f"Bearer {settings.api_token.get_secret_value()}".encode()
    given = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        raise HTTPException(401, "missing or wrong 'Authorization: Bearer <token>' header")


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {max_bytes}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(413, f"body is over the limit of {max_bytes} bytes")
    return bytes(body)


def _parse_request(body: bytes) -> ScoreRequest:
    """Decode JSON (strict UTF-8) and validate it; a bare item becomes a batch of one."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    if isinstance(payload, dict) and "items" not in payload and "response" in payload:
        weights = payload.pop("weights", None)
        payload = {"items": [payload], "weights": weights}
    try:
        return ScoreRequest.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from None


def _check_limits(score_request: ScoreRequest, settings: ServiceSettings) -> None:
    if len(score_request.items) > settings.max_items:
        raise HTTPException(
            413, f"{len(score_request.items)} items is over the limit of {settings.max_items}"
        )
    limit = settings.max_response_chars
    for index, item in enumerate(score_request.items):
        if len(item.response) > limit:
            raise HTTPException(
                413,
                f"items[{index}].response has {len(item.response)} characters, "
                f"over the limit of {limit}",
            )


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
    responses={400: {}, 401: {}, 413: {}, 422: {}},
)
async def score(request: Request) -> Response:
    """Score every item; results come back in request order, each with its own status."""
    started = time.perf_counter()
    state = request.app.state
    settings: ServiceSettings = state.settings
    code = 200
    try:
        _check_token(request, settings)
        score_request = _parse_request(await _read_body(request, settings.max_body_bytes))
        _check_limits(score_request, settings)
        items = [
            BatchItem(item.response, str(item.ground_truth), item.extra_info)
            for item in score_request.items
        ]
        weights = _weights(score_request, state.scorer.reward.weights)
        report = await state.scorer.score(items, weights)
    except HTTPException as exc:
        code = exc.status_code
        raise
    except RequestValidationError:
        code = 422
        raise
    except Exception:
        code = 500
        raise
    finally:
        state.metrics.requests.labels(str(code)).inc()
    elapsed = time.perf_counter() - started
    state.metrics.record_batch(report, elapsed)
    responses = [item.response for item in items]
    state.stats.record(report.results, responses, score_request.step, elapsed * 1000)
    body = {
        "results": [result.to_dict() for result in report.results],
        "scorer_version": state.scorer_version,
        "elapsed_ms": round(elapsed * 1000, 3),
    }
    return Response(orjson.dumps(body), media_type="application/json")

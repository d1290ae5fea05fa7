"""``POST /openrlhf/get_reward``: OpenRLHF's remote reward protocol (``--remote_rm_url``).

OpenRLHF posts ``{"query": [...], "prompts": [...], "labels": [...]}``: each query is the
prompt and the response decoded together (special tokens kept), each prompt the text the
query starts with, each label the dataset's answer. The answer is OpenRLHF's:
``{"rewards": [...], "scores": [...], "extra_logs": {"verify": [...], ...}}``, one value per
query (a query that does not start with its prompt, even allowing for a decode round trip
or a truncated prompt, is an item error: reward 0, ``scoring_error`` 1, logged, counted in
``/metrics``), scored by the same batch scorer as ``/score``, under the same limits (body size,
items, bytes and items in flight), and dropped like ``/score``'s when the client leaves.
OpenRLHF sends no headers, so when the service has a token it goes in the URL:
``.../openrlhf/get_reward?token=...``.

For the statistics and the record, the responses to one prompt are one GRPO group (the group
id is a digest of the prompt text), and since OpenRLHF sends no step, its requests are
numbered into steps by the recorder's policy for untagged batches (a quiet gap ends a step).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, ConfigDict, FailFast, Field, StrictStr, model_validator

from reward_service.api import (
    TOKEN_QUERY_KEY,
    RequireJson,
    ServiceMetrics,
    State,
    decode_json,
    read_body,
    record_scored,
    refuse_too_many,
    token_accepted,
    unless_client_leaves,
    validated,
)
from reward_service.engine import BatchItem, BatchReport
from reward_service.errors import PROMPT_NOT_FOUND
from reward_service.integrations.openrlhf_prompt import response_start
from reward_service.scoring import error_result
from reward_service.stats import ScoredItem

_TOKEN_IN_URL = APIKeyQuery(
    name=TOKEN_QUERY_KEY,
    scheme_name="token in the URL",
    description="The API token as `?token=...`, for OpenRLHF, which sends no headers.",
    auto_error=False,
)

logger = logging.getLogger("reward_service")


async def _token_in_query(
    state: State, token: Annotated[str | None, Security(_TOKEN_IN_URL)] = None
) -> None:
    # A query decodes + as a space; a token holds no space but may hold + (base64), and
    # OpenRLHF puts the URL it was given on the wire as it is.
    given = None if token is None else token.replace(" ", "+")
    if not token_accepted(state.settings, given):
        raise HTTPException(401, "missing or wrong '?token=' in the reward URL")


router = APIRouter(tags=["trainers"], dependencies=[Depends(_token_in_query), RequireJson])
ROUTE = "/openrlhf/get_reward"


class OpenRLHFRequest(BaseModel):
    """What OpenRLHF's reward client posts."""

    model_config = ConfigDict(extra="ignore")

    query: Annotated[list[StrictStr], FailFast()] = Field(
        min_length=1, description="Prompt + response, decoded."
    )
    prompts: Annotated[list[StrictStr], FailFast()] = Field(
        description="The prompt each query starts with."
    )
    labels: Annotated[list[StrictStr], FailFast()] = Field(
        description="The ground truth of each query."
    )

    @model_validator(mode="after")
    def _same_lengths(self) -> OpenRLHFRequest:
        if not len(self.query) == len(self.prompts) == len(self.labels):
            raise ValueError("query, prompts and labels must have the same length")
        return self


class OpenRLHFResponse(BaseModel):
    """What OpenRLHF reads back: rewards, scores and per-signal logs, one per query."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


def response_text(query: str, prompt: str) -> str | None:
    """The response part of ``query`` (what follows ``prompt``), or None when the prompt
    is not found at its start (:mod:`reward_service.integrations.openrlhf_prompt`)."""
    start = response_start(query, prompt)
    return None if start is None else query[start:]


def prompt_group(prompt: str) -> str:
    """The group id of the responses to ``prompt``: a digest of its text."""
    return hashlib.blake2b(prompt.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _with_unfound_prompts(scored: BatchReport, responses: list[str | None]) -> BatchReport:
    """``scored`` (the items whose prompt was found) with an error in place of each item
    whose prompt was not, in request order."""
    results = iter(scored.results)
    return BatchReport(
        [error_result(PROMPT_NOT_FOUND) if r is None else next(results) for r in responses],
        scored.verified,
        scored.cache_hits,
        scored.verify_seconds,
    )


def _report_unfound_prompts(responses: list[str | None], metrics: ServiceMetrics) -> None:
    """One log line per request (and a counter) for the items whose prompt was not found."""
    missing = [index for index, response in enumerate(responses) if response is None]
    if missing:
        metrics.prompts_not_found.inc(len(missing))
        logger.warning(
            "/openrlhf/get_reward: %d of %d queries (first at index %d) do not start with "
            "their prompt; they are errors with reward 0, not scored",
            len(missing),
            len(responses),
            missing[0],
        )


@router.post(
    ROUTE,
    response_model=OpenRLHFResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OpenRLHFRequest"}}
            },
        }
    },
    responses={400: {}, 401: {}, 408: {}, 413: {}, 415: {}, 422: {}, 499: {}, 503: {}},
)
async def get_reward(request: Request, state: State) -> OpenRLHFResponse:
    """Score OpenRLHF's queries with the multi-signal reward (and count them in /stats)."""
    started = time.perf_counter()
    settings, in_flight = state.settings, state.in_flight
    async with read_body(request, settings.max_body_bytes, in_flight) as raw:
        payload = await decode_json(raw)
        queries = payload.get("query") if isinstance(payload, dict) else None
        if isinstance(queries, list):
            refuse_too_many(len(queries), settings.max_items, "queries")
        body = validated(OpenRLHFRequest, payload)
        responses = [
            response_text(query, prompt)
            for query, prompt in zip(body.query, body.prompts, strict=True)
        ]
        items = [
            BatchItem(response, label)
            for response, label in zip(responses, body.labels, strict=True)
            if response is not None
        ]
        with in_flight.admit(items=len(body.query)):
            scored = await unless_client_leaves(request, state.scorer.score(items))
    report = _with_unfound_prompts(scored, responses)
    _report_unfound_prompts(responses, state.metrics)
    record_scored(
        state,
        report,
        [
            ScoredItem(query if response is None else response, label, group=prompt_group(prompt))
            for query, prompt, label, response in zip(
                body.query, body.prompts, body.labels, responses, strict=True
            )
        ],
        None,
        time.perf_counter() - started,
        ROUTE,
        state.scorer.reward.weights,
    )
    results = report.results
    scores = [result.score for result in results]
    logs = {
        "verify": [float(r.verify) for r in results],
        "format": [float(r.format) for r in results],
        "reflect": [float(r.reflect) for r in results],
        "timed_out": [float(r.status == "timeout") for r in results],
        "scoring_error": [float(r.status == "error") for r in results],
    }
    return OpenRLHFResponse(rewards=scores, scores=scores, extra_logs=logs)

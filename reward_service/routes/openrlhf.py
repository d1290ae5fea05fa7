"""``POST /openrlhf/get_reward``: OpenRLHF's remote reward protocol (``--remote_rm_url``).

OpenRLHF posts ``{"query": [...], "prompts": [...], "labels": [...]}``: each query is the
prompt and the response decoded together (special tokens kept), each prompt the text the
query starts with, each label the dataset's answer. The answer is OpenRLHF's:
``{"rewards": [...], "scores": [...], "extra_logs": {"verify": [...], ...}}``, one value per
query, scored by the same batch scorer as ``/score``, under the same limits (body size,
items, bytes and items in flight), and dropped like ``/score``'s when the client leaves.
OpenRLHF sends no headers, so when the service has a token it goes in the URL:
``.../openrlhf/get_reward?token=...``.

For the statistics, the responses to one prompt are one GRPO group (the group id is a digest
of the prompt text), and since OpenRLHF sends no step, its requests are numbered into steps
by the recorder's policy for untagged batches (a quiet gap ends a step).
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, ConfigDict, FailFast, Field, StrictStr, model_validator

from reward_service.batch import BatchItem
from reward_service.deps import InFlight, Metrics, Scorer, Settings, Stats, token_accepted
from reward_service.disconnects import unless_client_leaves
from reward_service.request_body import decode_json, read_body, validated
from reward_service.routes.score import record_scored
from reward_service.stats import ScoredItem

_TOKEN_IN_URL = APIKeyQuery(
    name="token",
    scheme_name="token in the URL",
    description="The API token as `?token=...`, for OpenRLHF, which sends no headers.",
    auto_error=False,
)


def _token_in_query(
    settings: Settings, token: Annotated[str | None, Security(_TOKEN_IN_URL)] = None
) -> None:
    if not token_accepted(settings, token):
        raise HTTPException(401, "missing or wrong '?token=' in the reward URL")


router = APIRouter(tags=["trainers"], dependencies=[Depends(_token_in_query)])


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


def response_text(query: str, prompt: str) -> str:
    """The response part of ``query``: what follows ``prompt`` (the whole query if the
    prompt is not found, e.g. after truncation)."""
    if query.startswith(prompt):
        return query[len(prompt) :]
    position = query.find(prompt) if prompt else -1
    return query[position + len(prompt) :] if position >= 0 else query


def prompt_group(prompt: str) -> str:
    """The group id of the responses to ``prompt``: a digest of its text."""
    return hashlib.blake2b(prompt.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@router.post(
    "/openrlhf/get_reward",
    response_model=OpenRLHFResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OpenRLHFRequest"}}
            },
        }
    },
    responses={400: {}, 401: {}, 408: {}, 413: {}, 422: {}, 499: {}, 503: {}},
)
async def get_reward(
    request: Request,
    settings: Settings,
    scorer: Scorer,
    in_flight: InFlight,
    metrics: Metrics,
    stats: Stats,
) -> OpenRLHFResponse:
    """Score OpenRLHF's queries with the multi-signal reward (and count them in /stats)."""
    started = time.perf_counter()
    async with read_body(request, settings.max_body_bytes, in_flight) as raw:
        payload = await decode_json(raw)
        queries = payload.get("query") if isinstance(payload, dict) else None
        if isinstance(queries, list) and len(queries) > settings.max_items:
            raise HTTPException(
                413, f"{len(queries)} queries is over the limit of {settings.max_items}"
            )
        body = validated(OpenRLHFRequest, payload)
        items = [
            BatchItem(response_text(query, prompt), label)
            for query, prompt, label in zip(body.query, body.prompts, body.labels, strict=True)
        ]
        with in_flight.admit(items=len(items)):
            report = await unless_client_leaves(request, scorer.score(items))
    scored = [
        ScoredItem(item.response, item.ground_truth, group=prompt_group(prompt))
        for item, prompt in zip(items, body.prompts, strict=True)
    ]
    record_scored(metrics, stats, report, scored, None, time.perf_counter() - started)
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

"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WeightsIn(BaseModel):
    """Signal weights for one request; a missing weight keeps the service default."""

    model_config = ConfigDict(extra="forbid")

    alpha: float | None = Field(None, ge=0, allow_inf_nan=False)
    beta: float | None = Field(None, ge=0, allow_inf_nan=False)
    gamma: float | None = Field(None, ge=0, allow_inf_nan=False)


class ScoreItemIn(BaseModel):
    """One response to score."""

    model_config = ConfigDict(extra="forbid")

    response: str = Field(description="The model's full response.")
    ground_truth: str | int | float = Field(description="The label, plain text or LaTeX.")
    data_source: str | None = Field(None, description="Where the example came from (logged).")
    extra_info: dict[str, Any] | None = Field(
        None, description="Per-item data; 'reward_weights' here overrides the weights."
    )


class ScoreRequest(BaseModel):
    """A batch to score. A single item may also be posted bare, without ``items``."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItemIn] = Field(min_length=1)
    weights: WeightsIn | None = None
    step: int | None = Field(None, ge=0, description="The trainer's global step, when known.")


class ItemResult(BaseModel):
    """The scored breakdown of one item."""

    score: float
    verify: int
    format: int
    reflect: int
    pred: str | None
    verdict: Literal["correct", "wrong"] | None
    format_failures: list[str]
    status: Literal["ok", "timeout", "error"]
    error: str | None


class ScoreResponse(BaseModel):
    """Results in request order."""

    results: list[ItemResult]
    scorer_version: str
    elapsed_ms: float


class HealthResponse(BaseModel):
    """Readiness of the service."""

    status: Literal["ok", "starting"]
    workers: int
    scorer_version: str

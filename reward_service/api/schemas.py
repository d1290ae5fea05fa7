"""Request and response bodies of the HTTP API.

Types are strict: a label is text (JSON numbers are turned into their exact text before
validation, booleans are refused), weights are numbers in ``[0, MAX_WEIGHT]``, a step and
a token count are whole numbers in ``[0, MAX_STEP]`` and ``[0, MAX_RESPONSE_TOKENS]``.
Each result is the scoring core's own :class:`ScoreResult`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    FailFast,
    Field,
    Strict,
    StrictBool,
    StrictStr,
)

from reward_service.scoring import ScoreResult, Weight

WeightIn = Annotated[Weight, Strict()]


def _whole_number(value: Any) -> Any:
    """JSON's integers, ``5`` and ``5.0`` alike; not booleans, text or fractions."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


MAX_STEP = 10**12
"""The highest step accepted: far past any run, and room to number steps on in 64 bits."""
MAX_RESPONSE_TOKENS = 10**8
"""The most tokens one response may claim: sums over a step's items stay exact integers."""

Step = Annotated[int, Field(ge=0, le=MAX_STEP), BeforeValidator(_whole_number)]
"""A trainer's step: JSON's ``5`` and ``5.0``, not ``-1``, ``5.5``, ``"5"`` or ``true``."""
TokenCount = Annotated[int, Field(ge=0, le=MAX_RESPONSE_TOKENS), BeforeValidator(_whole_number)]
"""A response's length in tokens, a whole number like :data:`Step`."""


class WeightsIn(BaseModel):
    """Signal weights for one request; a missing weight keeps the service default."""

    model_config = ConfigDict(extra="forbid")

    alpha: WeightIn | None = None
    beta: WeightIn | None = None
    gamma: WeightIn | None = None


class ScoreItemIn(BaseModel):
    """One response to score."""

    model_config = ConfigDict(extra="forbid")

    response: StrictStr = Field(description="The model's full response.")
    ground_truth: StrictStr = Field(
        description="The label, plain text or LaTeX; a JSON number is taken as its exact text."
    )
    data_source: StrictStr | None = Field(None, description="Where the example came from.")
    extra_info: dict[str, Any] | None = Field(
        None, description="Per-item data; 'reward_weights' here overrides the weights."
    )
    group: StrictStr | None = Field(
        None,
        max_length=256,
        description="The prompt's group: responses sampled for one prompt share it (verl's uid).",
    )
    response_tokens: TokenCount | None = Field(
        None,
        description=f"The response's length in tokens, as the trainer counted it "
        f"(at most {MAX_RESPONSE_TOKENS:,}).",
    )
    truncated: StrictBool | None = Field(
        None, description="Whether the trainer cut the response at its length limit."
    )


class ScoreRequest(BaseModel):
    """A batch to score. A single item may also be posted bare, without ``items``."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[ScoreItemIn], FailFast()] = Field(
        min_length=1, description="Validation stops at the first invalid item."
    )
    weights: WeightsIn | None = None
    step: Step | None = Field(
        None, description=f"The trainer's global step (at most {MAX_STEP:,})."
    )


class ScoreResponse(BaseModel):
    """Results in request order."""

    results: list[ScoreResult]
    scorer_version: str
    elapsed_ms: float


class RecordHealth(BaseModel):
    """How the record (``REWARD_SERVICE_RECORD_DIR``) fares; it never changes readiness."""

    rows_written: int = Field(description="Scored items this process wrote to the record.")
    rows_lost: int = Field(
        description="Scored items the record will never hold (a full or read-only disk)."
    )
    rows_pending: int = Field(description="Scored items queued, not yet on disk.")
    failing: str | None = Field(
        description="Why writing fails now (the last error), or null while it works."
    )


class HealthResponse(BaseModel):
    """Readiness of the service."""

    status: Literal["ok", "busy", "starting", "unavailable"] = Field(
        description="ok/busy (200): a verification runs now, or once the work ahead of it "
        "ends within its limits; starting/unavailable (503): the pool is being replaced, "
        "or its probe failed."
    )
    workers: int
    scorer_version: str
    record: RecordHealth | None = Field(
        None, description="The record's counts, when REWARD_SERVICE_RECORD_DIR is set."
    )

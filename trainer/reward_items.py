"""Between verl rows and the reward service: decode a row into an item, flatten a result."""

from __future__ import annotations

from typing import Any

from reward_service.scoring import WEIGHTS_KEY, label_text


def valid_response_length(row: Any) -> int:
    """Tokens of a one-row DataProto item's response that are not padding."""
    response_length = row.batch["responses"].shape[-1]
    return int(row.batch["attention_mask"][-response_length:].sum())


def label_of(reward_model: Any) -> str:
    """The exact text of a row's label: parquet floats become their shortest exact decimal
    (``1e-05`` -> ``0.00001``), integers keep every digit.

    Raises:
        ValueError: the label is a boolean or neither text nor a number.
    """
    return label_text(reward_model["ground_truth"])


def score_item(row: Any, tokenizer: Any, max_response_tokens: int) -> dict[str, Any]:
    """The ``/score`` item of one DataProto row.

    The decoded response, its label and per-item weights, and for the statistics: the
    prompt's ``group`` (verl's per-prompt ``uid``, shared by the ``rollout.n`` samples),
    ``response_tokens`` (valid response tokens) and ``truncated`` (the response reached
    ``max_response_tokens``, the rollout's ``response_length``, where verl's agent loop and
    vLLM cut it; like verl's ``response_length/clip_ratio``, a response whose end-of-sequence
    token falls exactly on the limit counts too).
    """
    length = valid_response_length(row)
    response = tokenizer.decode(row.batch["responses"][:length], skip_special_tokens=True)
    item: dict[str, Any] = {
        "response": response,
        "ground_truth": label_of(row.non_tensor_batch["reward_model"]),
        "data_source": str(row.non_tensor_batch.get("data_source", "")),
        "response_tokens": length,
        "truncated": length >= max_response_tokens,
    }
    uid = row.non_tensor_batch.get("uid")
    if uid is not None:
        item["group"] = str(uid)
    extra_info = row.non_tensor_batch.get("extra_info") or {}
    if extra_info.get(WEIGHTS_KEY) is not None:
        item["extra_info"] = {WEIGHTS_KEY: dict(extra_info[WEIGHTS_KEY])}
    return item


def reward_extra_info(result: dict[str, Any]) -> dict[str, float | str]:
    """One result as flat scalars for verl's logs: numbers are averaged, strings kept as text.

    Every key is always present and never None, so verl can stack them across a batch.
    """
    return {
        "score": float(result["score"]),
        "verify": float(result["verify"]),
        "format": float(result["format"]),
        "reflect": float(result["reflect"]),
        "timed_out": float(result["status"] == "timeout"),
        "scoring_error": float(result["status"] == "error"),
        "pred": result["pred"] or "",
        "verdict": result["verdict"] or "none",
        "status": result["status"],
        "format_failures": ",".join(result["format_failures"]),
    }

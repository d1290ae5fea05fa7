"""Reading and validating a ``POST /score`` body: size limit, exact labels, two forms.

A body is a batch (``{"items": [...], "weights"?, "step"?}``) or one bare item
(``{"response", "ground_truth", ..., "weights"?, "step"?}``). Errors name the field in the
form the client sent. JSON numbers given as labels keep their exact digits: the body is
parsed again with decimals (only then), and each number becomes its text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from reward_service.schemas import ScoreItemIn, ScoreRequest
from reward_service.scoring import label_text

BATCH_FIELDS = frozenset(ScoreRequest.model_fields) - {"items"}
ITEM_FIELDS = frozenset(ScoreItemIn.model_fields)
BOTH_FORMS = "use either response + ground_truth (one item) or items (a batch), not both"


async def read_body(request: Request, max_bytes: int) -> bytes:
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


def parse_score_request(body: bytes) -> ScoreRequest:
    """Decode (strict UTF-8 JSON) and validate a body; a bare item becomes a batch of one."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    bare = isinstance(payload, dict) and "items" not in payload and bool(ITEM_FIELDS & set(payload))
    if isinstance(payload, dict) and "items" in payload and ITEM_FIELDS & set(payload):
        raise _invalid([("body",)], BOTH_FORMS, "value_error")
    if _has_numeric_label(payload, bare):
        payload = json.loads(body, parse_float=Decimal, parse_constant=_no_constants)
    _labels_as_text(payload, bare)
    if bare:
        item = {key: value for key, value in payload.items() if key not in BATCH_FIELDS}
        payload = {key: value for key, value in payload.items() if key in BATCH_FIELDS}
        payload["items"] = [item]
    try:
        return ScoreRequest.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *_sent_location(error["loc"], bare))} for error in errors]
        ) from None


def _items(payload: Any, bare: bool) -> list[Any]:
    if bare:
        return [payload]
    items = payload.get("items") if isinstance(payload, dict) else None
    return items if isinstance(items, list) else []


def _has_numeric_label(payload: Any, bare: bool) -> bool:
    return any(
        isinstance(item, dict)
        and isinstance(item.get("ground_truth"), (int, float))
        and not isinstance(item.get("ground_truth"), bool)
        for item in _items(payload, bare)
    )


def _no_constants(name: str) -> None:
    raise HTTPException(400, f"body is not valid JSON: {name} is not a JSON number")


def _labels_as_text(payload: Any, bare: bool) -> None:
    """Numeric labels become their exact text; a boolean label is refused by name."""
    for index, item in enumerate(_items(payload, bare)):
        if not isinstance(item, dict):
            continue
        label = item.get("ground_truth")
        location = ("ground_truth",) if bare else ("items", index, "ground_truth")
        if isinstance(label, bool):
            raise _invalid([("body", *location)], "booleans are not labels; send the label as text")
        if isinstance(label, (int, Decimal)):
            item["ground_truth"] = label_text(label)


def _sent_location(location: tuple[Any, ...], bare: bool) -> tuple[Any, ...]:
    """A bare item's errors point at its own fields, not at ``items[0]``."""
    if bare and location[:2] == ("items", 0):
        return location[2:]
    return location


def _invalid(
    locations: list[tuple[Any, ...]], message: str, kind: str = "value_error"
) -> RequestValidationError:
    return RequestValidationError(
        [{"type": kind, "loc": location, "msg": message} for location in locations]
    )

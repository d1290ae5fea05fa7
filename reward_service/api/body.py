"""Reading and validating the body of a scoring request: bounded bytes, bounded work.

Reading: a body is refused with 413 as soon as it passes the size limit (a declared
``Content-Length`` over it is refused before a byte is read), its bytes are held in the
in-flight bound as they arrive (503 past it), and a client that sends nothing for
``BODY_IDLE_S`` is dropped (408), so an idle or slow client cannot hold the bound.

Decoding: strict UTF-8 JSON (orjson), off the event loop when the body is big. Then, in
this order, each step refusing with a short 4xx before the next one costs anything: the
item count (413), unknown fields (422, the first few), exact numeric labels, and the
schema, which stops at the first invalid item. A 4xx names at most ``MAX_ERRORS``
problems, each in a few hundred characters, whatever the body holds.

A ``POST /score`` body is a batch (``{"items": [...], "weights"?, "step"?}``) or one bare
item (``{"response", "ground_truth", ..., "weights"?, "step"?}``). Errors name the field in
the form the client sent. JSON numbers given as labels keep their exact digits: the body
is parsed again with decimals (only then), and each number becomes its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from reward_service.api.admission import InFlightLimit
from reward_service.api.schemas import ScoreItemIn, ScoreRequest, WeightsIn
from reward_service.errors import ClientDisconnected
from reward_service.scoring import label_text

Model = TypeVar("Model", bound=BaseModel)

BATCH_FIELDS = frozenset(ScoreRequest.model_fields) - {"items"}
ITEM_FIELDS = frozenset(ScoreItemIn.model_fields)
WEIGHT_FIELDS = frozenset(WeightsIn.model_fields)
BARE_FIELDS = BATCH_FIELDS | ITEM_FIELDS
BATCH_BODY_FIELDS = BATCH_FIELDS | {"items"}
BOTH_FORMS = "use either response + ground_truth (one item) or items (a batch), not both"
BODY_IDLE_S = 15.0
"""A client that sends no byte of its body for this long is dropped (408)."""
PARSE_INLINE_BYTES = 64 * 1024
"""Bodies up to this size are decoded on the event loop (well under a millisecond)."""
MAX_ERRORS = 5
"""Most problems a 4xx names; validation stops at the first invalid item anyway."""
MAX_MESSAGE_CHARS = 300
NOT_UTF8 = "body is not UTF-8 JSON: send JSON encoded as UTF-8"


@contextlib.asynccontextmanager
async def read_body(
    request: Request, max_bytes: int, in_flight: InFlightLimit
) -> AsyncIterator[bytearray]:
    """The request body, its bytes held in ``in_flight`` until the block ends.

    Raises:
        HTTPException: 413 past ``max_bytes``, 408 when the client stops sending.
        Overloaded: the bytes read so far do not fit in flight (503).
        ClientDisconnected: the client went away mid-body (499).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {max_bytes}")
    body = bytearray()
    try:
        async for chunk in _arriving(request):
            if len(body) + len(chunk) > max_bytes:
                raise HTTPException(413, f"body is over the limit of {max_bytes} bytes")
            in_flight.take_bytes(len(chunk), own_bytes=len(body))
            body += chunk
        yield body
    finally:
        in_flight.give_back_bytes(len(body))


async def _arriving(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; a client silent for BODY_IDLE_S is dropped."""
    chunks = request.stream()
    try:
        while True:
            try:
                async with asyncio.timeout(BODY_IDLE_S):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise HTTPException(
                    408, f"no body bytes for {BODY_IDLE_S:g}s; send the body at once"
                ) from None
            except ClientDisconnect:
                raise ClientDisconnected("the client went away while sending its body") from None
            yield chunk
    finally:
        await chunks.aclose()


async def decode_json(body: bytearray) -> Any:
    """Strict UTF-8 JSON; a big body is decoded in a thread, so the event loop keeps
    serving other requests meanwhile (/health waited at most 0.26 s beside a 20 MB body of
    10 M numbers: RESULTS.md)."""
    if len(body) <= PARSE_INLINE_BYTES:
        return _decoded(body)
    return await asyncio.to_thread(_decoded, body)


def _decoded(body: bytearray) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in exc.msg:  # orjson reads invalid bytes as "surrogates not allowed"
            raise HTTPException(400, NOT_UTF8) from None
        error = _NumberOutOfRange if "number" in exc.msg else HTTPException
        raise error(400, f"body is not valid JSON: {exc}") from None


class _NumberOutOfRange(HTTPException):
    """orjson stopped at a number past a double: a label keeps its digits, see below."""


def validated(
    model: type[Model],
    payload: Any,
    sent_location: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
) -> Model:
    """``payload`` as ``model``; its errors as a short 422 (at most MAX_ERRORS), each at
    ``body`` + ``sent_location(`` its location in the model ``)``."""
    relocate = sent_location or _same
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise _invalid(
            [(("body", *relocate(error["loc"])), error["msg"], error["type"]) for error in errors]
        ) from None


def refuse_too_many(count: int, limit: int, what: str = "items") -> None:
    """413 when a request holds more than ``limit`` items (or queries).

    Raises:
        HTTPException: 413, naming the count and the limit.
    """
    if count > limit:
        raise HTTPException(413, f"{count} {what} is over the limit of {limit}")


async def parse_score_request(
    body: bytearray, max_items: int, max_label_chars: int
) -> ScoreRequest:
    """A ``/score`` body as a batch (a bare item becomes a batch of one).

    Raises:
        HTTPException: 400 (not JSON), 413 (more than ``max_items`` items).
        RequestValidationError: 422, the first few problems.
    """
    try:
        payload, exact = await decode_json(body), False
    except _NumberOutOfRange:
        payload, exact = await _exact_numbers(body), True
    bare = isinstance(payload, dict) and "items" not in payload and bool(ITEM_FIELDS & set(payload))
    if isinstance(payload, dict) and "items" in payload and ITEM_FIELDS & set(payload):
        raise _invalid([(("body",), BOTH_FORMS)])
    items = _items(payload, bare)
    refuse_too_many(len(items), max_items)
    _refuse_unknown_fields(payload, items, bare)
    if not exact and _has_numeric_label(items):
        payload, exact = await _exact_numbers(body), True
        items = _items(payload, bare)
    _labels_as_text(items, bare, max_label_chars)
    if exact:  # every other number as orjson reads it: one meaning whatever the label
        payload = _decimals_as_floats(payload)
    if bare:
        item = {key: value for key, value in payload.items() if key not in BATCH_FIELDS}
        payload = {key: value for key, value in payload.items() if key in BATCH_FIELDS}
        payload["items"] = [item]
    return validated(ScoreRequest, payload, _bare_item_location if bare else None)


def _items(payload: Any, bare: bool) -> list[Any]:
    if bare:
        return [payload]
    items = payload.get("items") if isinstance(payload, dict) else None
    return items if isinstance(items, list) else []


def _refuse_unknown_fields(payload: Any, items: list[Any], bare: bool) -> None:
    """Unknown fields, named before the schema runs: an object of a million unknown keys
    is one short error, never a million."""
    if not isinstance(payload, dict):
        return
    _refuse_unknown(payload, BARE_FIELDS if bare else BATCH_BODY_FIELDS, ("body",))
    if isinstance(payload.get("weights"), dict):
        _refuse_unknown(payload["weights"], WEIGHT_FIELDS, ("body", "weights"))
    if bare:
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            _refuse_unknown(item, ITEM_FIELDS, ("body", "items", index))


def _refuse_unknown(
    mapping: Mapping[str, Any], allowed: AbstractSet[str], where: tuple[Any, ...]
) -> None:
    if mapping.keys() <= allowed:  # the usual case, at C speed
        return
    unknown = [key for key in mapping if key not in allowed]
    if unknown:
        raise _invalid(
            [
                ((*where, key), "Extra inputs are not permitted", "extra_forbidden")
                for key in unknown
            ]
        )


def _has_numeric_label(items: Iterable[Any]) -> bool:
    return any(
        isinstance(item, dict)
        and isinstance(item.get("ground_truth"), (int, float))
        and not isinstance(item.get("ground_truth"), bool)
        for item in items
    )


async def _exact_numbers(body: bytearray) -> Any:
    """The body again, every number exact (integers of any size, decimals as Decimal)."""
    if len(body) <= PARSE_INLINE_BYTES:
        return _decoded_exactly(body)
    return await asyncio.to_thread(_decoded_exactly, body)


def _decoded_exactly(body: bytearray) -> Any:
    try:
        return json.loads(
            body, parse_float=Decimal, parse_int=_exact_int, parse_constant=_no_constants
        )
    except RecursionError:
        raise HTTPException(422, "body is nested too deeply to read its numbers exactly") from None
    except ValueError as exc:  # not JSON
        raise HTTPException(400, f"body is not valid JSON: {exc}"[:MAX_MESSAGE_CHARS]) from None


def _exact_int(digits: str) -> int | Decimal:
    """A JSON integer; past Python's int-from-text limit (4300 digits) a Decimal, so that a
    label that long gets the label limit's 422 and any other number a type error."""
    try:
        return int(digits)
    except ValueError:
        return Decimal(digits)


def _decimals_as_floats(payload: Any) -> Any:
    """``payload`` with every Decimal left in it (labels are text by now) as a float, in
    place (a body that is one number is that float)."""
    if isinstance(payload, Decimal):
        return float(payload)
    if not isinstance(payload, (dict, list)):
        return payload
    pending = [payload]
    while pending:
        container = pending.pop()
        keys = container.keys() if isinstance(container, dict) else range(len(container))
        for key in keys:
            value = container[key]
            if isinstance(value, Decimal):
                container[key] = float(value)
            elif isinstance(value, (dict, list)):
                pending.append(value)
    return payload


def _no_constants(name: str) -> None:
    raise HTTPException(400, f"body is not valid JSON: {name} is not a JSON number")


def _labels_as_text(items: list[Any], bare: bool, max_label_chars: int) -> None:
    """Numeric labels become their exact text; a boolean label is refused by name, and so
    is a number whose digits written out pass the label limit."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        label = item.get("ground_truth")
        location = ("body", "ground_truth") if bare else ("body", "items", index, "ground_truth")
        if isinstance(label, bool):
            raise _invalid([(location, "booleans are not labels; send the label as text")])
        if isinstance(label, (int, Decimal)):
            length = _written_length(label)
            if length > max_label_chars:
                raise _invalid(
                    [
                        (
                            location,
                            f"this number has {length} digits written out, over the label "
                            f"limit of {max_label_chars} characters (numeric labels keep "
                            "every digit); send it as text",
                        )
                    ]
                )
            item["ground_truth"] = label_text(label)


def _written_length(number: int | Decimal) -> int:
    """How many characters ``number`` takes written out without an exponent, computed
    without writing it (``1e999999999`` would take a gigabyte)."""
    if isinstance(number, int):
        return len(str(number))  # at most 4300 digits: longer ones are Decimals
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        return 0  # not finite: refused by label_text with its own message
    whole = max(len(digits) + exponent, 1)
    return sign + whole + (1 - exponent if exponent < 0 else 0)


def _same(location: tuple[Any, ...]) -> tuple[Any, ...]:
    return location


def _bare_item_location(location: tuple[Any, ...]) -> tuple[Any, ...]:
    """A bare item's errors point at its own fields, not at ``items[0]``."""
    if location[:2] == ("items", 0):
        return location[2:]
    return location


def _invalid(problems: list[tuple[Any, ...]]) -> RequestValidationError:
    """A 422 naming at most MAX_ERRORS problems, each ``(location, message[, type])``."""
    errors: list[dict[str, Any]] = [
        {
            "type": kind[0] if kind else "value_error",
            "loc": tuple(part if isinstance(part, int) else str(part)[:100] for part in location),
            "msg": message[:MAX_MESSAGE_CHARS],
        }
        for location, message, *kind in problems[:MAX_ERRORS]
    ]
    if len(problems) > MAX_ERRORS:
        errors.append(
            {"type": "too_many_errors", "loc": ("body",), "msg": "and more; fix these first"}
        )
    return RequestValidationError(errors)

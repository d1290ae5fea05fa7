"""R_verify: is an extracted answer mathematically equal to the ground truth (math-verify).

Both sides are first normalised the way MATH's grader does (:mod:`._normalize`); an answer
or label may have two readings (a percentage: its number and its value), and they are
equal when a reading of one equals a reading of the other that it may be compared with
(never when their units or their qualifiers differ, see
:func:`~._normalize.comparable_readings`). math-verify then converts LaTeX to sympy through
latex2sympy2_extended and compares with numeric, symbolic, set and interval rules; an
inequality answer is compared with an interval label the way math-verify compares an
interval answer with an inequality label (it reads only that direction).

An answer is judged as a whole or not at all. math-verify's extraction, when the whole box
does not parse (a RecursionError in the parser on deep nesting, a syntax error), falls back
to any fragment that does (the innermost ``\\frac{64}{5}``); only the match that spans the
whole box is tried here (``extraction_mode="first_match"``), and an answer no reading of
which parses whole is compared by its whole text alone (as math-verify compares an
unparsed answer), so it is wrong unless written exactly as the label: never a fragment.
A chain of equalities or approximations is a statement whose number sides must agree
(:mod:`._chain`), which also keeps math-verify from reading only the last side of a chain
it cannot parse whole.

math-verify's timeout is ``signal.alarm``, which only works in a process's main thread
(verl issue 3407: rewards silently became 0 in async mode), so the in-process limit is
used only there. Elsewhere comparisons run without one, and the reward service adds
hard, killable per-item timeouts around this code.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from decimal import Decimal
from itertools import product
from typing import Any, Literal

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException
from sympy import And, Expr, Interval, Or, Union
from sympy.core.relational import Relational

from reward_service.scoring._chain import decimal_places, split_chain, within_rounding
from reward_service.scoring._normalize import NormalForm, comparable_readings, normal_form

Status = Literal["ok", "timeout", "error"]

_ANSWER_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0),)
_GOLD_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())


@dataclass(frozen=True)
class VerifyOutcome:
    """The result of comparing one answer with one ground truth.

    Attributes:
        equal: True when the answer is mathematically equal to the ground truth.
        status: "ok", "timeout" (the comparison ran out of time) or "error".
        error: what went wrong, when status is not "ok".
    """

    equal: bool
    status: Status = "ok"
    error: str | None = None


def timed_out(limit_s: float) -> VerifyOutcome:
    """The one outcome of a verification that ran past its limit, wherever it was stopped."""
    return VerifyOutcome(False, "timeout", f"verification exceeded {limit_s:g}s")


class _GoldUnparseable(ValueError):
    """The ground truth yields no expression; that is a data error, never a wrong answer."""


def _in_process_timeout(timeout_s: float | None) -> int | None:
    """Whole seconds for math-verify's alarm, or None where ``signal.alarm`` cannot work."""
    if timeout_s is None or threading.current_thread() is not threading.main_thread():
        return None
    return max(1, math.ceil(timeout_s))


def _as_boxed(latex: str) -> str:
    """Wrap a bare label as ``\\boxed{...}`` so math-verify takes it whole."""
    bare = latex.strip().strip("$").strip()
    return bare if "\\boxed" in bare else "\\boxed{" + bare + "}"


Parsed = tuple[Any, ...]
"""What math-verify parses one reading into: its candidates (a sympy object, the text)."""


@functools.lru_cache(maxsize=1024)
def _parse_gold(ground_truth: str, timeout: int | None) -> tuple[NormalForm, tuple[Parsed, ...]]:
    """Parse a ground truth (plain text or LaTeX) once, each reading; raises when nothing
    parses."""
    form = normal_form(ground_truth)
    parsed = tuple(
        tuple(
            parse(
                _as_boxed(reading),
                extraction_config=_GOLD_EXTRACTION,
                parsing_timeout=timeout,  # type: ignore[arg-type]  # None disables the alarm
                raise_on_error=True,
            )
        )
        for reading in form.readings
    )
    if not any(parsed):
        raise _GoldUnparseable(f"ground truth {ground_truth[:80]!r} could not be parsed")
    return form, parsed


def _parse_whole(text: str, timeout: int | None) -> Parsed:
    """math-verify's reading of all of ``text`` or of none of it: only the match that spans
    the whole box is tried, so no fragment stands in for an answer that does not parse."""
    try:
        return tuple(
            parse(
                "\\boxed{" + text + "}",
                extraction_config=_ANSWER_EXTRACTION,
                extraction_mode="first_match",
                parsing_timeout=timeout,  # type: ignore[arg-type]
                raise_on_error=True,
            )
        )
    except Exception:
        return ()


def _expression(parsed: Parsed) -> Any:
    """The parsed expression, or None when only the text came back."""
    return next((item for item in parsed if not isinstance(item, str)), None)


def _value(expression: Any) -> Decimal | None:
    """A finite real number's value to 30 digits; None for anything else."""
    if not isinstance(expression, Expr) or not expression.is_number:
        return None
    try:
        value = Decimal(str(expression.evalf(30)))
    except (ArithmeticError, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


def _sides_agree(sides: list[tuple[str, Any]], approximate: bool, timeout: int | None) -> bool:
    """Whether every number side of a chain agrees with its first number side."""
    (first_text, first), *rest = sides
    for text, other in rest:
        places = [p for p in (decimal_places(first_text), decimal_places(text)) if p is not None]
        if approximate and places:
            first_value, value = _value(first), _value(other)
            if first_value is None or value is None:
                return False
            if not within_rounding(first_value, value, min(places)):
                return False
        elif not verify(first, other, timeout_seconds=timeout, raise_on_error=True):
            return False
    return True


def _parse_answer(reading: str, timeout: int | None) -> Parsed:
    """Parse one reading of an answer whole; a chain's sides each whole, and they must agree."""
    chain = split_chain(reading)
    if chain is None:
        return _parse_whole(reading, timeout)
    sides = [_parse_whole(side, timeout) for side in chain.sides]
    expressions = [_expression(side) for side in sides]
    if any(expression is None for expression in expressions):
        return ()  # a side that does not parse whole: the chain is no answer
    numbers = [i for i, e in enumerate(expressions) if isinstance(e, Expr) and e.is_number]
    stated = [(chain.sides[i], expressions[i]) for i in numbers]
    if stated and not _sides_agree(stated, chain.approximate, timeout):
        return ()  # a false statement is no answer
    if chain.approximate:  # the first value stated; the approximations after it agree
        return sides[numbers[0] if numbers else 0]
    return _parse_whole(reading, timeout)


def _equal(gold: Any, answer: Any, timeout: int | None) -> bool:
    """math-verify's comparison of one candidate pair, in both directions for an
    inequality against an interval (math-verify accepts only an interval answer there)."""
    if verify(gold, answer, timeout_seconds=timeout, raise_on_error=True):
        return True
    reversed_kinds = isinstance(gold, (Interval, Union)) and isinstance(
        answer, (Relational, And, Or)
    )
    return reversed_kinds and verify(answer, gold, timeout_seconds=timeout, raise_on_error=True)


def _any_pair_equal(gold: Parsed, answer: Parsed, timeout: int | None) -> bool:
    """math-verify's comparison over every (gold, answer) candidate pair."""
    for gold_item, answer_item in product(gold, answer):
        try:
            if _equal(gold_item, answer_item, timeout):
                return True
        except Exception:  # one failed comparison leaves the other candidates to try
            continue
    return False


def _readings_equal(
    answer: str, gold: tuple[NormalForm, tuple[Parsed, ...]], timeout: int | None
) -> VerifyOutcome:
    """Whether a reading of the answer equals a reading of the label it may be compared
    with; each answer reading is parsed only when some pair needs it."""
    label_form, label_parsed = gold
    form = normal_form(answer)
    parsed: dict[int, Parsed] = {}
    for answer_index, label_index in comparable_readings(form, label_form):
        if answer_index not in parsed:
            parsed[answer_index] = _parse_answer(form.readings[answer_index], timeout)
        if _any_pair_equal(label_parsed[label_index], parsed[answer_index], timeout):
            return VerifyOutcome(equal=True)
    return VerifyOutcome(equal=False)


def verify_answer(
    answer: str | None, ground_truth: str, timeout_s: float | None = 5.0
) -> VerifyOutcome:
    """Compare an extracted answer with the ground truth; never raises but (see below).

    Args:
        answer: the boxed answer's content, or None when the response has none.
        ground_truth: the label, as plain text (``12.8``) or LaTeX (``\\frac{64}{5}``).
        timeout_s: in-process limit for each parse and comparison step, applied only
            in the main thread (see the module docstring); None for no limit.

    Raises:
        TimeoutException: only when this call set no limit of its own (``timeout_s`` is
            None, or not in the main thread) and the caller's deadline raised it: the
            caller reports the timeout with its own limit.
    """
    if answer is None:
        return VerifyOutcome(equal=False)
    timeout = _in_process_timeout(timeout_s)
    try:
        gold = _parse_gold(ground_truth, timeout)
        return _readings_equal(answer, gold, timeout)
    except TimeoutException:
        if timeout is None:  # not our alarm: the caller's deadline, which it reports
            raise
        return timed_out(timeout)
    except Exception as exc:
        return VerifyOutcome(False, "error", f"{type(exc).__name__}: {exc}"[:300])

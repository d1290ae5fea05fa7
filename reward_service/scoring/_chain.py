"""An answer written as a chain of relations: ``2+3 = 5``, ``\\pi \\approx 3.14``.

A careful grader reads a chain as a statement: its sides that are numbers must agree, or the
statement is false and is not the answer (``13 = 12.8``). Sides joined by ``=`` agree when
they are equal; a chain with ``\\approx`` agrees when each number written as a decimal is
the other side rounded to its decimal places (``12.8 \\approx 13``, ``\\pi \\approx 3.14``;
not ``7 \\approx 12.8``). This module splits the chain and measures written precision; the
verifier parses and compares the sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_RELATION = re.compile(r"(?<![\\<>!=])=(?!=)|\\approx(?![A-Za-z])|≈")
_BRACE = re.compile(r"(?<!\\)[{}]")
_DECIMAL = re.compile(r"\s*[-+]?\d+(?:\.(\d*))?\s*")
_LIST_MARKS = (",", ";", "\\\\")


@dataclass(frozen=True)
class Chain:
    """The sides of a chain of relations, in order.

    Attributes:
        sides: the text of each side (at least two).
        approximate: True when some relation is ``\\approx``.
    """

    sides: tuple[str, ...]
    approximate: bool


def split_chain(text: str) -> Chain | None:
    """The chain ``text`` is, split at its top-level ``=`` and ``\\approx``; None when it
    has none, or is a list or matrix (``x = 1, y = 2`` is left to math-verify)."""
    if any(mark in text for mark in _LIST_MARKS):
        return None
    sides, approximate, start, depth, scanned = [], False, 0, 0, 0
    for match in _RELATION.finditer(text):
        for brace in _BRACE.finditer(text, scanned, match.start()):
            depth += 1 if brace.group() == "{" else -1
        scanned = match.end()
        if depth == 0:
            sides.append(text[start : match.start()].strip())
            approximate = approximate or match.group() != "="
            start = match.end()
    if not sides:
        return None
    sides.append(text[start:].strip())
    return Chain(tuple(sides), approximate)


def decimal_places(side: str) -> int | None:
    """How many decimal places a side written as a plain number has (``13``: 0,
    ``3.14``: 2); None for anything else (``\\pi``, ``\\frac{1}{3}``), which is exact."""
    match = _DECIMAL.fullmatch(side)
    return None if match is None else len(match.group(1) or "")


def within_rounding(first: Decimal, second: Decimal, places: int) -> bool:
    """Whether two values agree to ``places`` decimal places: one is the other rounded
    there (``12.8`` and ``13`` at 0 places, ``12.5`` both ``12`` and ``13``)."""
    return abs(first - second) <= Decimal(5) * Decimal(10) ** (-places - 1)

"""Ground-truth labels as exact text: numbers keep every digit, booleans are refused."""

from __future__ import annotations

import numbers
from decimal import Decimal
from typing import Any


def label_text(label: Any) -> str:
    """The label as the text a reader would write: ``1e-05`` -> ``"0.00001"``.

    Floats become the shortest decimal that round-trips (``repr``), written without an
    exponent, which math-verify parses; integers and decimals keep every digit.

    Raises:
        ValueError: ``label`` is a boolean or not a string or a number.
    """
    if isinstance(label, str):
        return label
    if isinstance(label, bool) or not isinstance(label, (numbers.Number, Decimal)):
        raise ValueError(f"a label must be text or a number, not {type(label).__name__}")
    if isinstance(label, numbers.Integral):
        return str(int(label))
    exact = label if isinstance(label, Decimal) else Decimal(repr(float(label)))
    if not exact.is_finite():
        raise ValueError(f"a label must be a finite number, got {label!r}")
    return format(exact, "f")

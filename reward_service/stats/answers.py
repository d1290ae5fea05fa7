"""The answer key: equivalent written forms of one answer count as one answer in the statistics.

A right answer (``verify`` = 1) is keyed by its label: every form the verifier accepted is
the label's value. A wrong answer is keyed by a canonical text: the written form stripped
(:func:`normalize_text`) and, when it is a plain number, its exact value written one way
(``12.80``, ``\\dfrac{64}{5}`` and ``64/5`` are all ``12.8``). Timeouts and errors get keys of
their own, since their answer was never judged.

A key is bounded (:data:`ANSWER_CHARS_KEPT`) without merging answers: a canonical text that is
longer, or not printable, is keyed by its start and a digest of the whole
(:func:`bounded_key`), so two answers that differ only past the bound stay two answers.
Statistics files written before keys had a digest hold the cut text alone; those keys load
as they are.

This runs on the request path for every scored item, so it is cheap: a few linear regular
expressions on at most :data:`KEY_INPUT_CHARS` characters, no parsing, no sympy.
"""

from __future__ import annotations

import functools
import hashlib
import re
from fractions import Fraction

from reward_service.scoring import normalize_answer

NO_ANSWER = "(no answer)"
TIMED_OUT = "(timed out)"
FAILED = "(error)"
SPECIAL_KEYS = (NO_ANSWER, TIMED_OUT, FAILED)
"""Keys that stand for no judged answer; they are not counted as distinct answers."""
KEY_INPUT_CHARS = 200
"""Answers longer than this are keyed by their shortened text, not normalised."""
ANSWER_CHARS_KEPT = 80
"""A key holds at most this many characters (memory and ``/stats`` stay bounded)."""
KEY_DIGEST_BYTES = 6
"""The digest that ends a cut key: 48 bits, so two long answers with the same start share
one by chance once in 2^48 (about 3 x 10^14) pairs."""
CANONICAL_CACHE_SIZE = 8192

_ASSIGNMENT = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?=\S)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")
_DECIMAL = re.compile(r"^(-?)(\d+)?(?:\.(\d*))?$")
_LATEX_FRACTION = re.compile(r"^(-?)\\frac\s*\{(-?\d+)\}\s*\{(\d+)\}$")
_LATEX_FRACTION_DIGITS = re.compile(r"^(-?)\\frac(\d)(\d)$")
_SLASH_FRACTION = re.compile(r"^(-?\d+)\s*/\s*(\d+)$")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def normalize_text(text: str) -> str:
    """The written form of an answer with what does not change its value stripped.

    The scoring core's MATH-style normalisation (:func:`~reward_service.scoring.normalize_answer`:
    units, ``$``, ``\\left``/``\\right``, spacing, degree and percent signs, ``\\text{}``
    around numbers, a trailing period, digit groups), then a leading ``v =``, commas between
    digit groups (a list's commas are left to the verifier there, but a bar is one value)
    and the spaces.
    """
    text = _ASSIGNMENT.sub("", normalize_answer(text))
    return _THOUSANDS.sub("", text).replace(" ", "")


def exact_number(text: str) -> Fraction | None:
    """The exact value of a normalised plain number (integer, decimal, simple fraction)."""
    decimal = _DECIMAL.match(text)
    if decimal is not None and (decimal.group(2) or decimal.group(3)):
        sign, whole, digits = decimal.group(1), decimal.group(2) or "0", decimal.group(3) or ""
        value = Fraction(int(whole + digits), 10 ** len(digits))
        return -value if sign else value
    fraction = _LATEX_FRACTION.match(text) or _LATEX_FRACTION_DIGITS.match(text)
    if fraction is not None:
        sign, numerator, denominator = fraction.groups()
        if int(denominator) == 0:
            return None
        value = Fraction(int(numerator), int(denominator))
        return -value if sign else value
    slash = _SLASH_FRACTION.match(text)
    if slash is not None and int(slash.group(2)) != 0:
        return Fraction(int(slash.group(1)), int(slash.group(2)))
    return None


def number_text(value: Fraction) -> str:
    """``value`` written one way: a terminating decimal when it has one, else ``p/q``."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    whole, fraction = divmod(scaled, 10**places) if places else (scaled, 0)
    sign = "-" if value < 0 else ""
    if not places:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(fraction).zfill(places).rstrip('0')}"


def display_text(text: str, limit: int = ANSWER_CHARS_KEPT) -> str:
    """``text`` safe to show and to serve: control characters as U+FFFD, at most ``limit``
    characters (a cut ends with an ellipsis)."""
    text = _CONTROL.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_key(text: str, limit: int = ANSWER_CHARS_KEPT) -> str:
    """``text`` as a key of at most ``limit`` printable characters: the text itself when it
    is that short and printable; else its start, shown as :func:`display_text` shows it,
    then ``… #`` and a digest of the whole text, so distinct texts keep distinct keys
    however long they are."""
    shown = _CONTROL.sub("\ufffd", text)
    if shown == text and len(text) <= limit:
        return text
    whole = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=KEY_DIGEST_BYTES)
    tail = f"… #{whole.hexdigest()}"
    return shown[: limit - len(tail)] + tail


@functools.lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def canonical(answer: str) -> str:
    """The key of one written answer (a label or a model's answer): its canonical text,
    bounded (:func:`bounded_key`); the last CANONICAL_CACHE_SIZE are remembered, since a
    run repeats its answers."""
    if len(answer) > KEY_INPUT_CHARS:
        return bounded_key(answer)
    text = normalize_text(answer)
    value = exact_number(text)
    return bounded_key(number_text(value) if value is not None else text or answer.strip())


def answer_key(pred: str | None, label: str, verify: int, status: str) -> tuple[str, bool]:
    """The key an answer is counted under, and whether it is right.

    A timeout or an error is keyed by its status, a missing answer as :data:`NO_ANSWER`, a
    right answer by its label, a wrong one by its own canonical text.
    """
    if status == "timeout":
        return TIMED_OUT, False
    if status == "error":
        return FAILED, False
    if verify:
        return canonical(label), True
    if pred is None:
        return NO_ANSWER, False
    return canonical(pred), False

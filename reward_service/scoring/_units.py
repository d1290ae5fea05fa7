"""Words after a number: a unit, a counted noun, a multiplier, or words that change it.

``12.8 \\text{ mph}``, ``4 square feet`` and ``6 \\text{ ways}`` name what the number
measures or counts; ``4 \\text{ million}`` scales it; ``3 \\text{ PM}``, ``5 \\text{ or
more}`` and ``5 \\text{ squared}`` say something else than the number. This module reads
such words (:func:`read_words`); :mod:`._normalize` decides what to do with them:

- a unit is dropped and remembered in one spelling (``cm``, ``ft^2``, ``mi/h``, ``$``), so
  ``5 cm`` equals ``5 centimeters`` and never ``5 m``;
- a counted noun (``ways``, ``apples``, ``square units``) is dropped and remembered as no unit;
- a multiplier (hundred, thousand, million, billion, trillion, dozen) is applied exactly to
  the number before it, when that is a plain number;
- any other words are part of the answer, kept apart and compared as written
  (``am``/``a.m.``/``midnight`` and ``pm``/``p.m.``/``noon`` in one spelling each).
"""

from __future__ import annotations

from dataclasses import dataclass

_UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    # length
    "mm": ("mm", "millimeter", "millimetre"),
    "cm": ("cm", "centimeter", "centimetre"),
    "dm": ("dm", "decimeter", "decimetre"),
    "m": ("m", "meter", "metre", "mtr", "mt"),
    "km": ("km", "kilometer", "kilometre"),
    "in": ("in", "inch"),
    "ft": ("ft", "foot", "feet"),
    "yd": ("yd", "yard"),
    "mi": ("mi", "mile"),
    # area and volume (besides powers of lengths)
    "acre": ("acre",),
    "ha": ("ha", "hectare"),
    "ml": ("ml", "milliliter", "millilitre"),
    "l": ("l", "liter", "litre", "lt"),
    "gal": ("gal", "gallon"),
    "qt": ("qt", "quart"),
    "pt": ("pint",),
    "cup": ("cup",),
    "cm^3": ("cc",),
    # mass
    "mg": ("mg", "milligram"),
    "g": ("g", "gm", "gram", "gramme"),
    "kg": ("kg", "kilogram", "kilo"),
    "lb": ("lb", "pound"),
    "oz": ("oz", "ounce"),
    "ton": ("ton", "tonne"),
    # time
    "s": ("s", "sec", "second"),
    "min": ("min", "minute"),
    "h": ("h", "hr", "hour"),
    "day": ("day",),
    "week": ("week", "wk"),
    "month": ("month",),
    "year": ("year", "yr"),
    # speeds besides "unit per unit" and "unit/unit"
    "mi/h": ("mph",),
    "km/h": ("kph", "kmph", "kmh"),
    "ft/s": ("fps",),
    # money
    "$": ("dollar", "usd", "buck"),
    "cent": ("cent", "¢"),
    "€": ("euro", "eur"),
    # angle and temperature
    "deg": ("deg", "degree"),
    "rad": ("rad", "radian"),
    "°C": ("celsius", "°c"),
    "°F": ("fahrenheit", "°f"),
}
_CHINESE_UNITS = {
    **{"毫米": "mm", "厘米": "cm", "分米": "dm", "米": "m", "千米": "km", "公里": "km"},
    **{"平方厘米": "cm^2", "平方米": "m^2", "立方厘米": "cm^3", "立方米": "m^3"},
    **{"克": "g", "千克": "kg", "公斤": "kg", "升": "l", "毫升": "ml", "秒": "s"},
    **{"分钟": "min", "小时": "h", "天": "day", "年": "year", "岁": "year", "元": "元"},
    "度": "deg",
}
UNITS: dict[str, str] = {
    **{spelling: unit for unit, spellings in _UNIT_SPELLINGS.items() for spelling in spellings},
    **_CHINESE_UNITS,
}
"""Each spelling of a unit (singular, lower case) and the one it is compared in."""

_POWER_PREFIXES = {"square": "2", "sq": "2", "cubic": "3", "cu": "3"}
_TEMPERATURE_LETTERS = {"c": "°C", "f": "°F"}
"""``90^\\circ \\text{C}``: a single C or F after degrees is the scale."""

COUNTED = frozenset(
    {
        *("unit", "way", "people", "person", "student", "child", "children", "kid", "adult"),
        *("boy", "girl", "man", "men", "woman", "women", "member", "player", "team", "game"),
        *("point", "apple", "orange", "banana", "marble", "ball", "coin", "card", "book"),
        *("page", "pencil", "pen", "cookie", "candy", "cake", "pie", "slice", "piece", "egg"),
        *("flower", "tree", "car", "box", "bag", "ticket", "chair", "seat", "room", "house"),
        *("cat", "dog", "animal", "bird", "fish", "cow", "chicken", "sheep", "horse", "pig"),
        *("handshake", "arrangement", "combination", "permutation", "outcome", "possibility"),
        *("choice", "option", "solution", "root", "digit", "integer", "number", "term"),
        *("factor", "divisor", "triangle", "rectangle", "edge", "vertex", "vertices", "face"),
        *("diagonal", "side", "line", "tile", "block", "step", "move", "round", "lap", "item"),
        *("object", "problem", "question", "word", "letter", "sticker", "toy", "bottle", "jar"),
        *("bead", "stamp", "button", "gift", "friend", "customer", "worker", "guest", "desk"),
        *("table", "window", "door", "bus", "bike", "bicycle", "wheel", "leg", "shirt", "sock"),
        *("hat", "can", "glass", "sandwich", "pizza", "muffin", "cupcake", "brownie", "song"),
        *("movie", "photo", "picture", "vote", "voter", "mark", "goal", "basket", "match"),
        *("sequence", "string", "path", "route", "subset", "pair", "triple", "region", "cube"),
        *("sphere", "circle", "square", "pentagon", "hexagon", "polygon", "die", "dice", "time"),
        *("st", "nd", "rd", "th"),  # ordinal suffixes: 5\\text{th}
        *("个", "人", "次", "种", "只", "条", "张", "本", "辆", "件", "名", "位", "支", "根", "道"),
    }
)
"""Nouns that name what a number counts (``6 \\text{ ways}``, ``5\\text{个}``) and ordinal
suffixes: dropped like a unit, but two of them never make answers differ (``6 ways`` and
``6 arrangements`` are one answer)."""

MULTIPLIERS = {
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
    "dozen": 12,
}
"""Words that scale the number before them: ``4 \\text{ million}`` is ``4000000``."""

_CLOCK = {"am": "am", "pm": "pm", "noon": "pm", "midnight": "am"}
"""``12 \\text{ noon}`` is ``12 pm``, ``12 \\text{ midnight}`` is ``12 am``."""

VALUE_WORDS = frozenset(
    {
        *_CLOCK,
        *MULTIPLIERS,
        *("more", "less", "fewer", "most", "least", "greater", "larger", "smaller"),
        *("higher", "lower", "above", "below", "over", "under", "squared", "cubed", "twice"),
        *("increase", "decrease", "gain", "loss", "profit", "approximately", "approx"),
        *("about", "roughly", "around", "nearly", "almost", "only", "off", "later", "ago"),
    }
)
"""Words that change what a bare number means (``5 more``, ``3 pm``): they keep a bare
word after a number from passing as a symbol (math-verify drops several of them as units)."""


@dataclass(frozen=True)
class Words:
    """What the words after a number say.

    Attributes:
        unit: the unit in its one spelling (``"cm"``, ``"ft^2"``, ``"mi/h"``, ``"$"``); None
            for none or for a counted noun.
        multiplier: the factor a multiplier word applies (``10**6`` for "million"), or 1.
        qualifier: the words, in one spelling, when they are neither units nor counted nouns
            nor a multiplier; such words are part of the answer. Empty otherwise.
    """

    unit: str | None = None
    multiplier: int = 1
    qualifier: str = ""


def _tokens(words: str) -> list[str]:
    """Lower-case tokens, abbreviation periods dropped (``p.m.`` is ``pm``, ``sq.`` is
    ``sq``), a slash a token of its own (``km/h`` is ``km / h``)."""
    return words.lower().replace(".", "").replace("-", " ").replace("/", " / ").split()


def _singular(token: str, vocabulary: dict[str, str] | frozenset[str]) -> str | None:
    """The token as a vocabulary entry, plural endings tried off (``inches``, ``candies``)."""
    candidates = [token]
    if token.endswith("ies"):
        candidates.append(token[:-3] + "y")
    if token.endswith("es"):
        candidates.append(token[:-2])
    if token.endswith("s"):
        candidates.append(token[:-1])
    return next((candidate for candidate in candidates if candidate in vocabulary), None)


def _unit(tokens: list[str], power: str | None, bare: bool) -> tuple[str | None, bool] | None:
    """The unit the tokens name and whether it is a counted noun; None when they name none.

    A unit is ``[square|sq|cubic|cu] base [per [square|...] base]`` (``square feet``,
    ``miles per hour``, ``km/h``), a temperature (``degrees Celsius``), or a counted noun.
    """
    if not tokens:
        return None
    if len(tokens) == 2 and _singular(tokens[0], UNITS) == "degree":
        scale = _TEMPERATURE_LETTERS.get(tokens[1]) or UNITS.get(tokens[1])
        if scale in ("°C", "°F"):
            return scale, False
    if len(tokens) == 1 and tokens[0] in _TEMPERATURE_LETTERS and not bare:
        return _TEMPERATURE_LETTERS[tokens[0]], False
    exponent = _POWER_PREFIXES.get(tokens[0])
    body = tokens[1:] if exponent else tokens
    if len(body) == 1 and _singular(body[0], COUNTED):
        return None, True
    if "per" in body or "/" in body:
        split = body.index("per") if "per" in body else body.index("/")
        top, bottom = _unit(body[:split], None, bare), _unit(body[split + 1 :], None, bare)
        if top is None or bottom is None or top[1] or bottom[1] or exponent or power:
            return None
        return f"{top[0]}/{bottom[0]}", False
    if len(body) != 1 or (spelling := _singular(body[0], UNITS)) is None:
        return None
    exponent = power or exponent
    return UNITS[spelling] + (f"^{exponent}" if exponent else ""), False


def read_words(words: str, power: str | None = None, *, bare: bool = False) -> Words | None:
    """What the words after a number say; None when they are not words to read.

    ``power`` is a ``^2``/``^3`` written after them (``\\text{ cm}^2``). Bare words (not in
    ``\\text{}``) are read only when they are a unit, a counted noun, a multiplier or hold a
    word of :data:`VALUE_WORDS`: anything else may be symbols (``2 x``), left to the parser.
    """
    tokens = _tokens(words)
    if not tokens:
        return None
    multiplier = 1
    if tokens[0] in MULTIPLIERS:
        multiplier, tokens = MULTIPLIERS[tokens[0]], tokens[1:]
        if not tokens:
            return Words(multiplier=multiplier)
    unit = _unit(tokens, power, bare)
    if unit is not None:
        return Words(unit=unit[0], multiplier=multiplier)
    if len(tokens) == 1 and tokens[0] in _CLOCK and multiplier == 1:
        return Words(qualifier=_CLOCK[tokens[0]])
    if bare and multiplier == 1 and not any(token in VALUE_WORDS for token in tokens):
        return None
    written = " ".join(_tokens(words))
    return Words(qualifier=written + (f"^{power}" if power else ""))

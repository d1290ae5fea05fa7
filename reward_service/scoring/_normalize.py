"""MATH-style normalisation of an answer or a label before it is verified.

Hendrycks et al.'s MATH grader (``strip_string``) and math-verify both rewrite answers
before comparing them; this module does the part that math-verify leaves out or does in
a way that depends on the installed parser, so that every answer reaches math-verify in
one written form, whatever the environment:

- digit groups: ``1\\,000``, ``1\\!000``, ``1{,}000``, ``1,\\!000``, ``1~000`` and ``1 000``
  are ``1000`` (a plain comma is left to math-verify); other thin, medium and negative
  spaces are plain spaces;
- ``\\text{12.8}``, ``\\textbf{5}``, ``\\mathrm{5}`` and ``\\text{12.8 mph}`` are the number;
- a unit after a number goes: ``12.8 \\text{ mph}``, ``15\\mbox{ cm}^2``, ``125 miles``;
- ``\\$`` goes; degree signs go (``30^\\circ`` is ``30``, on either side);
- a percent sign (``\\%``, ``%``, "percent", "pct") goes; when it ends the whole answer,
  the answer has a second reading, the fraction (``80\\%`` is read as ``80`` and as
  ``\\frac{80}{100}``), so ``80\\%`` matches ``80`` and ``0.8``, from either side;
- ``\\left.``/``\\right.`` go and ``\\left(``/``\\right)`` are ``(``/``)``; a sentence's
  final period goes (``5.`` is ``5``);
- a lone ``i`` is the imaginary unit (``I`` for the parser), never a real symbol;
- ``\\gamma``/``\\Gamma`` not followed by ``(`` is written as the Unicode letter, which
  every parser reads alike.

The last two and the percent rewrite make the verdict the same under every ANTLR runtime
latex2sympy2_extended supports: its parsers for runtimes 4.9.3 and 4.11 were generated
from an older grammar than the one for 4.13.2, so a number with a percent sign raises
inside the converter there (``80\\%`` never equals anything) and a bare ``\\gamma`` does
not parse. After this module no percent sign and no bare ``\\gamma`` reach the parser.

Nothing here can make a wrong answer right: numbers keep their digits (``2\\pi`` stays
``2\\pi``), an equation keeps its left side (``x=5`` is compared by math-verify as before)
and only unit words after a number, never symbols, are dropped. Every rewrite is a
regular expression without nested quantifiers, linear in the answer's length.
"""

from __future__ import annotations

import re

from reward_service.scoring._extract import find_boxes

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_TEXT_COMMAND = r"\\(?:text(?:bf|rm|normal|it|sf|up)?|math(?:rm|bf|it|sf)|mbox|textsc)"

_LEFT_RIGHT_DOT = re.compile(r"\\(?:left|right)\s*\.")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])")
_FRAC_VARIANT = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_GROUP_SEPARATOR = r"(?:\{,\}|,\\!\s?|\\[,!;: ]|~| )"
_GROUPED_NUMBER = re.compile(rf"(?<![\d.])\d{{1,3}}(?:{_GROUP_SEPARATOR}\d{{3}})+(?!\d)")
_GROUP_SEPARATORS = re.compile(_GROUP_SEPARATOR)
_NEGATIVE_SPACE = re.compile(r"\\!")
_SPACE_COMMAND = re.compile(r"\\(?:[,;: ]|q?quad(?![A-Za-z]))|~")
_DOLLAR = re.compile(r"\\\$|\\(?:text|mbox)\s*\{\s*\\?\$\s*\}")
_DEGREE = re.compile(
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\^\s*\{\s*\\degree\s*\}|\\degree(?![A-Za-z])|°"
)
_PERCENT = re.compile(
    rf"{_TEXT_COMMAND}\s*\{{\s*(?:\\%|%|percent(?:age)?|pct)\s*\}}"
    r"|\\%|%|\b(?:percent(?:age)?|pct)\b"
)
_WORDS = r"[A-Za-z][A-Za-z.\- ]*"
_TEXT_NUMBER = re.compile(rf"{_TEXT_COMMAND}\s*\{{\s*({_NUMBER})\s*({_WORDS})?\}}")
_TRAILING_TEXT_UNIT = re.compile(
    rf"(?<=[\d}})\]])\s*{_TEXT_COMMAND}\s*\{{\s*({_WORDS})\}}\s*(?:\^\s*\{{?\s*[23]\s*\}}?\s*)?$"
)
_UNIT_WORDS = (
    "cm|mm|km|meters?|metres?|kilometers?|centimeters?|millimeters?|inch|inches|in|ft|feet|foot"
    "|yards?|yd|miles?|mi|mph|kph|km/h|m/s|kg|grams?|gm|kilograms?|lbs?|pounds?|ounces?|oz"
    "|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|dollars?|cents?"
    "|degrees?|units?|square|sq|cubic|liters?|litres?|ml|gallons?|acres?|hectares?"
)
_TRAILING_UNIT_WORD = re.compile(
    rf"(?<=[\d}})])\s+(?:(?:square|sq|cubic)\s+)?(?:{_UNIT_WORDS})"
    r"\s*(?:\^\s*\{?\s*[23]\s*\}?\s*)?$"
)
_CONNECTIVES = frozenset(
    {
        *("and", "or", "to", "than", "more", "less", "least", "most", "not", "plus", "minus"),
        *("times", "over", "between", "from", "if", "is", "are", "equals", "but", "except"),
    }
)
"""Words that make "5 <words>" a phrase ("5 or more"), not a number with its unit."""
_TRAILING_PERIOD = re.compile(r"(?<![.\\])\.\s*$")
_IMAGINARY_UNIT = re.compile(
    r"(?<![A-Za-z\\_])(?<!_\{)(?<!\\mathbf\{)(?<!\\vec\{)(?<!\\hat\{)(?<!\\bm\{)"
    r"(?<!\\boldsymbol\{)(?<!\\text\{)(?<!\\mathrm\{)(?<!\\operatorname\{)i(?![A-Za-z])(?=\s*(\^)?)"
)
_BASE_NUMERAL = re.compile(r"(?<![A-Za-z0-9\\_.])(\d[0-9A-Z]*)_\{?(\d{1,2})\}?(?![\d}])")
_EMPTY_SET = re.compile(r"\\varnothing(?![A-Za-z])|\\O(?![A-Za-z])")
_GREEK_GAMMA = {"gamma": "\u03b3", "Gamma": "\u0393"}
_BARE_GAMMA = re.compile(r"\\(gamma|Gamma)(?![A-Za-z])(?!\s*(?:\(|\\left))")
_SPACES = re.compile(r"\s+")
_ROW_BREAK, _ROW_BREAK_MARK = "\\\\", "\ue000"
"""A LaTeX line break (``\\\\``) is set aside while the rest is rewritten, so that no
rewrite reads its second backslash as the start of a command (``\\ 3`` is no space)."""
_CLOSING_DOLLARS = re.compile(r"(?<!\\)\$+\s*$")
_DELIMITER_PAIRS = (("\\(", "\\)"), ("\\[", "\\]"))


def _unit_words(words: str | None) -> bool:
    """Whether the words after a number name a unit ("mph", "square feet"), not a phrase."""
    if words is None:
        return True
    tokens = words.replace(".", " ").split()
    return bool(tokens) and not any(token.lower() in _CONNECTIVES for token in tokens)


def _unwrap_text_number(match: re.Match[str]) -> str:
    number, words = match.groups()
    return number if _unit_words(words) else match.group()


def _drop_trailing_text_unit(text: str) -> str:
    match = _TRAILING_TEXT_UNIT.search(text)
    if match is None or not _unit_words(match.group(1)) or not text[: match.start()].strip():
        return text
    return text[: match.start()]


def _imaginary_unit(match: re.Match[str]) -> str:
    """``I``, braced before a power: latex2sympy2_extended drops the exponent of a bare ``I``."""
    return "{I}" if match.group(1) else "I"


def _base_numeral(match: re.Match[str]) -> str:
    """``204_5`` as its value (54): math-verify ignores the base subscript."""
    digits, base = match.group(1), int(match.group(2))
    try:
        return str(int(digits, base)) if 2 <= base <= 36 else match.group()
    except ValueError:  # a digit the base does not have: leave it as written
        return match.group()


def _rewrite(text: str) -> str:
    """Every rewrite but the percent sign, in an order where each sees the previous one."""
    text = text.replace(_ROW_BREAK_MARK, "").replace(_ROW_BREAK, _ROW_BREAK_MARK)
    text = _LEFT_RIGHT_DOT.sub("", text)
    text = _LEFT_RIGHT.sub("", text)
    text = _FRAC_VARIANT.sub(r"\\frac", text)
    text = _GROUPED_NUMBER.sub(lambda match: _GROUP_SEPARATORS.sub("", match.group()), text)
    text = _NEGATIVE_SPACE.sub("", text)
    text = _SPACE_COMMAND.sub(" ", text)
    text = _DOLLAR.sub("", text)
    text = _DEGREE.sub("", text)
    text = _TRAILING_PERIOD.sub("", text.strip())
    text = _TEXT_NUMBER.sub(_unwrap_text_number, text)
    text = _drop_trailing_text_unit(text)
    text = _TRAILING_UNIT_WORD.sub("", text)
    text = _TRAILING_PERIOD.sub("", text.strip())
    text = _BASE_NUMERAL.sub(_base_numeral, text)
    text = _EMPTY_SET.sub(r"\\emptyset", text)
    text = _IMAGINARY_UNIT.sub(_imaginary_unit, text)
    text = _BARE_GAMMA.sub(lambda match: _GREEK_GAMMA[match.group(1)], text)
    return _SPACES.sub(" ", text).strip().replace(_ROW_BREAK_MARK, _ROW_BREAK)


def _without_math_delimiters(text: str) -> str:
    """``$5$``, ``\\(5\\)`` and ``\\[5\\]`` as ``5``; an escaped ``\\$`` stays."""
    text = _CLOSING_DOLLARS.sub("", text.strip().lstrip("$").lstrip())
    for opening, closing in _DELIMITER_PAIRS:
        if text.startswith(opening) and text.endswith(closing):
            text = text[len(opening) : -len(closing)].strip()
    return text


def _unboxed(text: str) -> str:
    """The text without math delimiters, and the content of a box that is all of it."""
    text = _TRAILING_PERIOD.sub("", _without_math_delimiters(text))
    boxes = find_boxes(text)
    whole = len(boxes) == 1 and boxes[0].start == 0 and boxes[0].end == len(text)
    return (boxes[0].content or "") if whole else text


def answer_readings(text: str) -> tuple[str, ...]:
    """The normalised forms an answer or label is verified in, the MATH reading first.

    One form, except for a whole answer with a percent sign at its end: ``12.5\\%`` is
    ``("12.5", "\\frac{12.5}{100}")``, the number of percent and its value.
    """
    marked = _PERCENT.sub(r"\\%", _unboxed(text.strip()).strip())
    normalised = _rewrite(marked.replace("\\%", " "))
    core = _TRAILING_PERIOD.sub("", marked)
    if not core.endswith("\\%") or "\\%" in core[:-2]:
        return (normalised,)
    number = _rewrite(core[:-2])
    return (normalised, f"\\frac{{{number}}}{{100}}") if number else (normalised,)


def normalize_answer(text: str) -> str:
    """The MATH-style written form of an answer: equal forms of one answer give one string.

    ``\\boxed{}`` contents or labels go in; what comes out is what the verifier compares
    (percent signs dropped, see :func:`answer_readings` for the second, fraction reading).

    ``\\text{12.8 mph}``, ``1\\,000`` and ``80\\%`` become ``12.8``, ``1000`` and ``80``.
    """
    return answer_readings(text)[0]

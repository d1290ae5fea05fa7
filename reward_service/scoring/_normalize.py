"""MATH-style normalisation of an answer or a label before it is verified.

Hendrycks et al.'s MATH grader (``strip_string``) and math-verify both rewrite answers
before comparing them; this module does the part that math-verify leaves out or does in
a way that depends on the installed parser, so that every answer reaches math-verify in
one written form, whatever the environment. An answer becomes a :class:`NormalForm`: the
text(s) math-verify compares, the units it carried, and the words that are part of it.

- digit groups: ``1\\,000``, ``1\\!000``, ``1{,}000``, ``1,\\!000``, ``1~000`` and ``1 000``
  are ``1000`` (a plain comma is left to math-verify); other thin, medium and negative
  spaces are plain spaces;
- a font command around a number is the number: ``\\text{12.8}``, ``\\textbf{5}``,
  ``\\boldsymbol{5}``, ``\\bm{5}``, ``\\mbox{5}`` and ``\\text{12.8 mph}``, every command of
  one list (:data:`_FONT_COMMANDS`); math inside text is math (``\\mbox{$\\frac{1}{2}$}`` is
  ``\\frac{1}{2}``, ``\\text{$5$ cm}`` is ``5\\text{ cm}``);
- words after a number (in ``\\text{}`` or bare) are read by :mod:`._units`: a unit
  (``12.8 \\text{ mph}``, ``15\\mbox{ cm}^2``, ``125 miles``) or a counted noun (``6 \\text{
  ways}``) goes and is remembered in one spelling (``5 cm`` and ``5 centimeters`` carry
  ``cm``); a multiplier is applied exactly (``4 \\text{ million}`` is ``4000000``); any other
  words (``3 \\text{ PM}``, ``5 \\text{ or more}``) are the answer's qualifier, compared as
  written, never dropped;
- ``\\$`` (unit ``$``) and degree signs (unit ``deg``; ``30^\\circ`` is ``30``) go;
- a percent sign (``\\%``, ``%``, "percent", "pct") goes (unit ``%``); when it ends the whole
  answer, the answer has a second reading, the fraction (``80\\%`` is read as ``80`` and as
  ``\\frac{80}{100}``);
- a repeating decimal is its fraction (``0.1\\overline{6}`` is ``\\frac{1}{6}``);
- a number in E notation is its power of ten (``1e-05`` and ``1.5E3`` are ``1\\times10^{-05}`` and
  ``1.5\\times10^{3}``), as a float label written out by ``str`` reads; a lone ``e`` stays
  Euler's number (``2e``);
- a box inside the answer is a brace group (``3+\\boxed{5}`` is ``3+{5}``: the parser would
  otherwise read only the last box);
- ``\\left.``/``\\right.`` go and ``\\left(``/``\\right)`` are ``(``/``)``; a sentence's
  punctuation after the answer goes (``5.``, ``5,`` and ``5;`` are ``5``; ``1,2`` stays a
  pair);
- a lone ``i`` is the imaginary unit (``I`` for the parser), never a real symbol;
- ``\\gamma``/``\\Gamma`` not followed by ``(`` is written as the Unicode letter, which
  every parser reads alike;
- ``5 = x`` is ``x = 5``; an answer with one ``\\pm`` (or ``\\mp``) is the pair of its two
  values (``1 \\pm \\sqrt{2}`` is ``1+\\sqrt{2}, 1-\\sqrt{2}``), which math-verify compares
  as a set.

Two forms are compared (:func:`comparable_readings`) only when their qualifiers are the same
and, when both carry units, the same units: ``5 \\text{ cm}`` never equals ``5 \\text{ m}``,
``3 \\text{ PM}`` never equals ``3 \\text{ AM}`` or ``3``, while a unit on one side only goes, as in
MATH. A percentage is compared by its number and its value against an answer without a
percent sign, by its number alone against another percentage (``0.8\\%`` is not ``80\\%``).

The ``i``, ``\\gamma`` and percent rewrites make the verdict the same under every ANTLR runtime
latex2sympy2_extended supports: its parsers for runtimes 4.9.3 and 4.11 were generated
from an older grammar than the one for 4.13.2, so a number with a percent sign raises
inside the converter there (``80\\%`` never equals anything) and a bare ``\\gamma`` does
not parse. After this module no percent sign and no bare ``\\gamma`` reach the parser.

Nothing here can make a wrong answer right: numbers keep their digits (``2\\pi`` stays
``2\\pi``) and only units, never symbols or value-changing words, are dropped. Every rewrite
is a regular expression without nested quantifiers or a scan of a bounded tail, linear in
the answer's length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from itertools import product

from reward_service.scoring._extract import find_boxes
from reward_service.scoring._units import read_words

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_TEXT_MODE_COMMANDS = (
    *("text", "textrm", "textbf", "textit", "textsf", "texttt", "textup", "textsl"),
    *("textsc", "textmd", "textnormal", "emph", "mbox", "hbox"),
)
"""Commands whose argument is text: a font (``\\textbf``) or a box of text (``\\mbox``)."""
_FONT_COMMANDS = (
    *_TEXT_MODE_COMMANDS,
    *("mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathnormal", "boldsymbol", "bm"),
    "pmb",
)
"""Every command that only sets the font of its argument (or boxes it as text), in text or
in math: around a number it is the number (``\\boldsymbol{5}`` is ``5``). Not among them:
the alphabets that make other symbols (``\\mathbb{1}``, ``\\mathcal{O}``, ``\\mathfrak``,
``\\mathscr``), ``\\operatorname`` (names an operator), ``\\overline`` (a repeating decimal)
and the answer boxes ``\\boxed``/``\\fbox``."""


def _command(names: tuple[str, ...]) -> str:
    """A regular expression for any of ``names`` as a LaTeX command."""
    return r"\\(?:" + "|".join(sorted(names, key=len, reverse=True)) + r")(?![A-Za-z])"


_TEXT_COMMAND = _command(_FONT_COMMANDS)
_MATH_IN_TEXT = re.compile(_command(_TEXT_MODE_COMMANDS) + r"\s*\{([^{}$]*)\$([^$]+)\$([^{}$]*)\}")
"""Math inside text (``\\mbox{$\\frac{1}{2}$}``, ``\\text{$5$ cm}``): the math is read as math."""

_LEFT_RIGHT_DOT = re.compile(r"\\(?:left|right)\s*\.")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])")
_FRAC_VARIANT = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_GROUP_SEPARATOR = r"(?:\{,\}|,\\!\s?|\\[,!;: ]|~| )"
_GROUPED_NUMBER = re.compile(rf"(?<![\d.])\d{{1,3}}(?:{_GROUP_SEPARATOR}\d{{3}})+(?!\d)")
_GROUP_SEPARATORS = re.compile(_GROUP_SEPARATOR)
_NEGATIVE_SPACE = re.compile(r"\\!")
_SPACE_COMMAND = re.compile(r"\\(?:[,;: ]|q?quad(?![A-Za-z]))|~")
_DOLLAR = re.compile(rf"\\\$|{_TEXT_COMMAND}\s*\{{\s*\\?\$\s*\}}")
_DEGREE_SIGN = (
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\^\s*\{\s*\\degree\s*\}|\\degree(?![A-Za-z])|°"
)
_DEGREE = re.compile(_DEGREE_SIGN)
_TEMPERATURE = re.compile(
    rf"(?:{_DEGREE_SIGN})\s*(?:{_TEXT_COMMAND}\s*\{{\s*([CF])\s*\}}|([CF])(?![A-Za-z]))"
)
"""``90^\\circ C``, ``90°\\text{F}``: a degree sign and its scale, one unit."""
_PERCENT = re.compile(
    rf"{_TEXT_COMMAND}\s*\{{\s*(?:\\%|%|percent(?:age)?|pct)\s*\}}"
    r"|\\%|%|\b(?:percent(?:age)?|pct)\b"
)
_E_NOTATION = re.compile(r"(?<![\w.\\])(\d+(?:\.\d*)?|\.\d+)[eE]([-+]?\d+)(?![\w.])")
_REPEATING_DECIMAL = re.compile(
    r"(?<![\d.])(\d{0,20})\.(\d{0,20})\\overline\s*(?:\{\s*(\d{1,20})\s*\}|(\d))(?![\d.])"
)
_WORDS = r"[A-Za-z][A-Za-z./'\- ]*"
_TEXT_NUMBER = re.compile(rf"{_TEXT_COMMAND}\s*\{{\s*({_NUMBER})\s*({_WORDS})?\}}")
_NUMBER_THEN_WORDS = re.compile(rf"\s*({_NUMBER})\s*([A-Za-z][^{{}}]*)")
_TEXT_COMMAND_AT_END = re.compile(rf"{_TEXT_COMMAND}\s*$")
_POWER_AT_END = re.compile(r"\^\s*\{?\s*([23])\s*\}?$")
_BARE_WORDS_AT_END = re.compile(r"(?<=[\d}])\s+([A-Za-z][A-Za-z./'\- ]*)$")
_PLAIN_NUMBER_AT_END = re.compile(rf"(?:^|(?<=[\s,(\[=]))({_NUMBER})\s*$")
_NUMBER_FIRST = re.compile(r"\s*[-+]?\.?\d")
_TAIL = 64
"""Characters of an answer's end searched for the words after its number: units and
multipliers are short, and a bounded tail keeps the search linear."""
_TRAILING_PUNCTUATION = re.compile(r"(?<![.,;\\])[.,;]\s*$")
"""A sentence's punctuation after the answer (``7.``, ``7,``, ``7;``): never a decimal point
or a list (``1,2``), and not ``\\,`` or ``\\;`` (spaces)."""
_IMAGINARY_UNIT = re.compile(
    r"(?<![A-Za-z\\_])(?<!_\{)(?<!\\mathbf\{)(?<!\\vec\{)(?<!\\hat\{)(?<!\\bm\{)"
    r"(?<!\\boldsymbol\{)(?<!\\text\{)(?<!\\mathrm\{)(?<!\\operatorname\{)i(?![A-Za-z])(?=\s*(\^)?)"
)
_BASE_NUMERAL = re.compile(r"(?<![A-Za-z0-9\\_.])(\d[0-9A-Z]*)_\{?(\d{1,2})\}?(?![\d}])")
_EMPTY_SET = re.compile(r"\\varnothing(?![A-Za-z])|\\O(?![A-Za-z])")
_GREEK_GAMMA = {"gamma": "\u03b3", "Gamma": "\u0393"}
_BARE_GAMMA = re.compile(r"\\(gamma|Gamma)(?![A-Za-z])(?!\s*(?:\(|\\left))")
_LONE_VARIABLE = re.compile(r"\s*[A-Za-z](?:_\{?[A-Za-z0-9]{1,8}\}?)?\s*")
_PLUS_MINUS = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")
_SPACES = re.compile(r"\s+")
_ROW_BREAK, _ROW_BREAK_MARK = "\\\\", "\ue000"
"""A LaTeX line break (``\\\\``) is set aside while the rest is rewritten, so that no
rewrite reads its second backslash as the start of a command (``\\ 3`` is no space)."""
_CLOSING_DOLLARS = re.compile(r"(?<!\\)\$+\s*$")
_DELIMITER_PAIRS = (("\\(", "\\)"), ("\\[", "\\]"))
_TEMPERATURES = frozenset({"°C", "°F"})


@dataclass(frozen=True)
class NormalForm:
    """An answer or a label the way the verifier compares it.

    Attributes:
        readings: the normalised texts math-verify compares, the MATH reading first; a
            whole percentage also has its value (``80\\%``: ``("80", "\\frac{80}{100}")``).
        units: the units it carried, each in one spelling (``"cm"``, ``"ft^2"``, ``"$"``,
            ``"%"``, ``"deg"``); empty when none.
        qualifier: words after its number that are part of the answer (``"pm"``, ``"or
            more"``); empty when none.
    """

    readings: tuple[str, ...]
    units: frozenset[str] = frozenset()
    qualifier: str = ""


class _Rewrite:
    """One text being rewritten, with the units and the qualifier it drops on the way."""

    def __init__(self) -> None:
        self.units: set[str] = set()
        self.qualifier = ""

    def __call__(self, text: str) -> str:
        """Every rewrite but the percent sign, in an order where each sees the previous one."""
        text = text.replace(_ROW_BREAK_MARK, "").replace(_ROW_BREAK, _ROW_BREAK_MARK)
        text = _LEFT_RIGHT_DOT.sub("", text)
        text = _LEFT_RIGHT.sub("", text)
        text = _FRAC_VARIANT.sub(r"\\frac", text)
        text = _GROUPED_NUMBER.sub(lambda match: _GROUP_SEPARATORS.sub("", match.group()), text)
        text = _NEGATIVE_SPACE.sub("", text)
        text = _SPACE_COMMAND.sub(" ", text)
        text = self._drop(_DOLLAR, "$", text)
        text = _TEMPERATURE.sub(self._temperature, text)
        text = self._drop(_DEGREE, "deg", text)
        text = _E_NOTATION.sub(r"\1\\times10^{\2}", text)
        text = _REPEATING_DECIMAL.sub(_repeating_decimal, text)
        text = _TRAILING_PUNCTUATION.sub("", text.strip())
        text = self._trailing_words(text)
        text = _TEXT_NUMBER.sub(self._text_number, text)
        text = _TRAILING_PUNCTUATION.sub("", text.strip())
        text = _BASE_NUMERAL.sub(_base_numeral, text)
        text = _EMPTY_SET.sub(r"\\emptyset", text)
        text = _IMAGINARY_UNIT.sub(_imaginary_unit, text)
        text = _BARE_GAMMA.sub(lambda match: _GREEK_GAMMA[match.group(1)], text)
        text = _SPACES.sub(" ", text).strip().replace(_ROW_BREAK_MARK, _ROW_BREAK)
        return _variable_on_the_left(text)

    def _drop(self, sign: re.Pattern[str], unit: str, text: str) -> str:
        dropped = sign.sub("", text)
        if dropped != text:
            self.units.add(unit)
        return dropped

    def _temperature(self, match: re.Match[str]) -> str:
        self.units.add("°" + (match.group(1) or match.group(2)))
        return ""

    def _trailing_words(self, text: str) -> str:
        """The text without the words after its number: a unit goes, a multiplier is
        applied, other words become the qualifier (see :mod:`._units`)."""
        found = _words_at_end(text)
        if found is None:
            return text
        head, written, power, bare = found
        words = read_words(written, power, bare=bare)
        if words is None or (words.qualifier and len(written.strip()) == 1):
            return text  # a lone letter that is no unit is a symbol: 2\mathrm{e}
        if words.multiplier != 1:
            scaled = _scaled(head, words.multiplier)
            if scaled is None:  # not a plain number: the words are part of the answer
                self.qualifier = " ".join(written.lower().split())
                return head
            head = scaled
        if words.unit:
            self.units.add(words.unit)
        self.qualifier = words.qualifier
        return head

    def _text_number(self, match: re.Match[str]) -> str:
        """``\\text{12.8 mph}`` inside a bigger answer: the number when the words are a
        unit or a multiplier, else left as written."""
        number, written = match.groups()
        if written is None:
            return number
        words = read_words(written)
        if words is None or words.qualifier:
            return match.group()
        if words.unit:
            self.units.add(words.unit)
        return _scaled(number, words.multiplier) or match.group()


def _words_at_end(text: str) -> tuple[str, str, str | None, bool] | None:
    """The text before the words that end it, the words, their power (``^2``) and whether
    they are bare (not in ``\\text{}``); None when no words end it."""
    text = text.rstrip()
    power_match = _POWER_AT_END.search(text, max(0, len(text) - _TAIL))
    power = power_match.group(1) if power_match else None
    body = text[: power_match.start()].rstrip() if power_match else text
    if body.endswith("}"):
        opening = body.rfind("{")
        content = body[opening + 1 : -1]
        command = _TEXT_COMMAND_AT_END.search(body, max(0, opening - _TAIL), opening)
        if opening < 0 or "}" in content or command is None:
            return None
        head = body[: command.start()].rstrip()
        if head:  # \text{5 cm} ending a list is a number, left to _TEXT_NUMBER
            return None if _NUMBER_FIRST.match(content) else (head, content, power, False)
        whole = _NUMBER_THEN_WORDS.fullmatch(content)  # \text{4 million}: the whole answer
        return (whole.group(1), whole.group(2), power, False) if whole else None
    bare = _BARE_WORDS_AT_END.search(body, max(0, len(body) - _TAIL))
    if bare is None:
        return None
    return body[: bare.start()].rstrip(), bare.group(1), power, True


def _scaled(head: str, multiplier: int) -> str | None:
    """``head`` with the plain number that ends it multiplied exactly; None when it does
    not end in a plain number."""
    if multiplier == 1:
        return head
    number = _PLAIN_NUMBER_AT_END.search(head, max(0, len(head) - _TAIL))
    if number is None or (number.start() == len(head) - _TAIL and number.start() > 0):
        return None
    written = number.group(1)
    with localcontext() as context:
        context.prec = len(written) + 20
        value = Decimal(written) * multiplier
    return head[: number.start(1)] + f"{value.normalize():f}"


def _repeating_decimal(match: re.Match[str]) -> str:
    """``0.1\\overline{6}`` as its exact fraction, ``\\frac{1}{6}``."""
    whole, fixed, repeating = match.group(1), match.group(2), match.group(3) or match.group(4)
    period = 10 ** len(repeating) - 1
    value = int(whole or "0") + Fraction(
        int(fixed or "0") * period + int(repeating), 10 ** len(fixed) * period
    )
    if value.denominator == 1:
        return str(value.numerator)
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _variable_on_the_left(text: str) -> str:
    """``5 = x`` as ``x = 5``: math-verify compares an equation's right side with a number
    only when a lone variable is on its left."""
    if text.count("=") != 1:
        return text
    left, right = text.split("=")
    if _LONE_VARIABLE.fullmatch(right) and left.strip() and not _LONE_VARIABLE.fullmatch(left):
        return f"{right.strip()} = {left.strip()}"
    return text


def _expand_plus_minus(text: str) -> str:
    """An answer with one ``\\pm`` (or ``\\mp``) as the pair of its values, whatever its
    spacing: ``\\frac{-1 \\pm \\sqrt{5}}{2}`` is ``\\frac{-1+\\sqrt{5}}{2}``,
    ``\\frac{-1-\\sqrt{5}}{2}``. A list, a matrix or a second sign is left to math-verify."""
    if len(_PLUS_MINUS.findall(text)) != 1 or any(mark in text for mark in (",", ";", "\\\\")):
        return text
    return f"{_PLUS_MINUS.sub('+', text)}, {_PLUS_MINUS.sub('-', text)}"


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


def _without_math_delimiters(text: str) -> str:
    """``$5$``, ``\\(5\\)`` and ``\\[5\\]`` as ``5``; an escaped ``\\$`` stays."""
    text = _CLOSING_DOLLARS.sub("", text.strip().lstrip("$").lstrip())
    for opening, closing in _DELIMITER_PAIRS:
        if text.startswith(opening) and text.endswith(closing):
            text = text[len(opening) : -len(closing)].strip()
    return text


def _unboxed(text: str) -> str:
    """The text without math delimiters and without boxes: a box that is all of it is its
    content, and a box inside it is a group (``3+\\boxed{5}`` is ``3+{5}``, never ``5``);
    math inside text is math (``\\mbox{$\\frac{1}{2}$}`` is ``\\frac{1}{2}``)."""
    text = _TRAILING_PUNCTUATION.sub("", _without_math_delimiters(text))
    boxes = find_boxes(text)
    whole = len(boxes) == 1 and boxes[0].start == 0 and boxes[0].end == len(text)
    return _MATH_IN_TEXT.sub(
        _math_out_of_text, _boxes_as_groups((boxes[0].content or "") if whole else text)
    )


def _math_out_of_text(match: re.Match[str]) -> str:
    """``\\text{A $M$ B}`` as ``\\text{A }M\\text{ B}``, without empty text."""
    before, math, after = match.groups()
    return _as_text(before) + math + _as_text(after)


def _as_text(words: str) -> str:
    """``words`` in ``\\text{}``; nothing when blank."""
    return f"\\text{{{words}}}" if words.strip() else ""


def _boxes_as_groups(text: str) -> str:
    """Every balanced box in ``text``, at any depth, written as a brace group."""
    while boxes := [box for box in find_boxes(text) if box.content is not None]:
        for box in reversed(boxes):
            text = text[: box.start] + "{" + (box.content or "") + "}" + text[box.end :]
    return text


def _one_scale(units: set[str]) -> frozenset[str]:
    """``90^\\circ \\text{C}`` carries the unit ``°C`` alone (the degree sign is part of it)."""
    return frozenset(units - {"deg"} if units & _TEMPERATURES else units)


def normal_form(text: str) -> NormalForm:
    """An answer or a label the way the verifier compares it (see the module docstring)."""
    marked = _PERCENT.sub(r"\\%", _unboxed(text.strip()).strip())
    rewrite = _Rewrite()
    readings = [rewrite(marked.replace("\\%", " "))]
    if "\\%" in marked:
        rewrite.units.add("%")
    core = _TRAILING_PUNCTUATION.sub("", marked)
    if core.endswith("\\%") and "\\%" not in core[:-2]:
        number = _Rewrite()(core[:-2])
        if number:
            readings.append(f"\\frac{{{number}}}{{100}}")
    return NormalForm(
        tuple(_expand_plus_minus(reading) for reading in readings),
        _one_scale(rewrite.units),
        rewrite.qualifier,
    )


def comparable_readings(answer: NormalForm, label: NormalForm) -> list[tuple[int, int]]:
    """The (answer, label) reading indices to compare; none when the two cannot be equal.

    Their qualifiers must be the same, and their units too when both carry some (a unit on
    one side only goes, as in MATH). Two percentages are compared by their numbers alone;
    a percentage and an answer without a percent sign by both readings.
    """
    if answer.qualifier != label.qualifier:
        return []
    if answer.units and label.units and answer.units != label.units:
        return []
    if "%" in answer.units and "%" in label.units:
        return [(0, 0)]
    return list(product(range(len(answer.readings)), range(len(label.readings))))


def normalize_answer(text: str) -> str:
    """The MATH-style written form of an answer: equal forms of one answer give one string.

    ``\\boxed{}`` contents or labels go in; what comes out is what the verifier compares
    (units and percent signs dropped; see :func:`normal_form` for the units and the
    second, fraction reading of a percentage), with the answer's qualifier after it.

    ``\\text{12.8 mph}``, ``1\\,000``, ``80\\%`` and ``3 \\text{ P.M.}`` become ``12.8``,
    ``1000``, ``80`` and ``3 \\text{ pm}``.
    """
    form = normal_form(text)
    if form.qualifier:
        return f"{form.readings[0]} \\text{{ {form.qualifier}}}"
    return form.readings[0]

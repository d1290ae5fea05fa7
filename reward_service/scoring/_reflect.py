"""The reflection's verdict on its own answer: "correct", "wrong" or None.

An explicit closing sentence ("The answer is correct." / "The answer is wrong.", the
form the training prompt asks for) decides. Otherwise every judgement word counts,
flipped when a negation stands just before it ("not correct", "isn't right",
"no mistakes"); the verdict is None when the words disagree or there are none.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["correct", "wrong"]

_FINAL_SENTENCE = re.compile(
    r"\bthe\s+(?:final\s+)?answer\s+is\s+(not\s+)?(correct|right|wrong|incorrect)\W*\Z",
    re.IGNORECASE,
)
_JUDGEMENT = re.compile(
    r"(?P<correct>\bcorrect(?:ly)?\b|\bverified\b|\bconfirm(?:s|ed)?\b|\bright\s+answer\b"
    r"|\b(?:is|are|was|were|looks|seems|be|all)(?:n['’]t)?\s+right\b)"
    r"|(?P<wrong>\bincorrect(?:ly)?\b|\bwrong\b|\bmistakes?\b|\bmistaken\b|\berrors?\b"
    r"|\berroneous\b|\bflawed\b)",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"(?:\b(?:not|no|never|nothing|cannot|hardly|neither|nor|without)\b|n['’]t\b)[^.!?;]{0,40}\Z",
    re.IGNORECASE,
)
_OPPOSITE: dict[Verdict, Verdict] = {"correct": "wrong", "wrong": "correct"}


def _polarity(text: str, match: re.Match[str]) -> Verdict:
    """What one judgement word says, once a negation just before it is taken into account."""
    said: Verdict = "correct" if match.group("correct") else "wrong"
    window = text[max(0, match.start() - 32) : match.end()]
    return _OPPOSITE[said] if _NEGATION.search(window) else said


def classify_verdict(reflection: str | None) -> Verdict | None:
    """Classify a reflection's judgement of the answer; None when absent or mixed."""
    if reflection is None:
        return None
    final = _FINAL_SENTENCE.search(reflection.strip())
    if final is not None:
        negated, word = final.groups()
        said: Verdict = "correct" if word.lower() in ("correct", "right") else "wrong"
        return _OPPOSITE[said] if negated else said
    verdict: Verdict | None = None
    for match in _JUDGEMENT.finditer(reflection):
        said = _polarity(reflection, match)
        if verdict is not None and said != verdict:
            return None  # the words disagree: no need to read on
        verdict = said
    return verdict

"""The reflection's verdict on its own answer: "correct", "wrong" or None.

The reflection is read the way a careful human grader reads it, clause by clause:

1. Quoted text ("...", “...”, 「...」) is the question or someone else's words: it is not
   read. Sentences end at ``. ! ? ; 。！？；`` and line breaks; a sentence splits into
   clauses at commas and colons and before "but", "so", "because", "although", "however",
   "therefore", 但是, 所以, 因此... (the conjunction opens the next clause).
2. A judgement is a word that grades the answer: "correct", "right" (as a predicate: "is
   right", "that's not right", "got it right", "the right answer."), "verified",
   "confirmed", "checks out", "error-free"; "wrong", "incorrect", "mistake", "error",
   "erroneous", "flawed", "miscalculated"; 正确, 对的, 没错, 无误, 没问题; 错误, 错了, 不对,
   有误. Not judgements: "the correct value is/should be ..." (a noun phrase naming
   something else), "to correct the sign" (a verb), "a right triangle", "check for
   errors", "margin of error".
3. Negation is scoped to the clause: each "not", "n't", "no", "never", "nothing",
   "none", "without", "cannot", "neither", "nor", "hardly" between the start of the clause
   (or the clause's previous judgement) and a judgement flips it, so "not incorrect" is
   correct and "I found no errors" is correct. "no doubt", "no question", "not only" and
   "no matter" negate nothing; a clause-opening "No," or "No it's" is an interjection. A
   negated "verified"/"confirmed" ("I cannot confirm it") commits to nothing. In Chinese
   the negation (不, 没, 没有, 无, 并非, 不是) stands right before the word: 不正确, 没有错误.
4. A clause does not commit when it is a question (its sentence ends in "?", "？" or
   吗), when it hedges ("might", "maybe", "perhaps", "probably", "could", "would",
   "should", "if", "whether", "not sure", "let me check", "to verify", "asks", 可能, 也许,
   是否, 如果...), or when it is concessive ("although", "though", "even if", "despite",
   虽然, 尽管).
5. After a question that holds a judgement, a sentence that opens with a bare "Yes" or
   "No" (是的, 对, 不是) answers it: "Is the answer correct? No." is wrong, "Did I make a
   mistake? No." is correct.
6. The concluding judgement decides: the verdict is the last judgement of the last
   clause that commits, so "I made an arithmetic error earlier, but after fixing it the
   final answer 5 is correct." is correct and "The correct value should be 5, so my
   answer is wrong." is wrong. None when no clause commits.

The reflection is read from its end: each search goes back from where the last one
stopped, in windows that double, so the time is linear in the reflection's length and
usually only its last sentences are looked at. At most the last 4,096 judgement words are
read (a real reflection has a few dozen), which bounds the work on a megabyte that repeats
"right right right..." without committing.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import string
from array import array
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Literal, NamedTuple

Verdict = Literal["correct", "wrong"]

_OPPOSITE: dict[Verdict, Verdict] = {"correct": "wrong", "wrong": "correct"}
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
"""The reflection is read in ASCII lower case (same length, so positions hold): the
expressions below are case-sensitive, which keeps each scan fast."""

_QUOTE_MARK = re.compile('["“「『]')
_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”|「[^」\n]*」|『[^』\n]*』')
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SENTENCE_END = re.compile(r"(?:[.!?;](?!\d)|[。！？；\n])+")
_ENGLISH_CLAUSE_BREAK = (
    r"(?P<punct>[,:，、：—](?!\d))"
    r"|\b(?:but|however|so|therefore|thus|hence|yet|because|since|although|though|whereas"
    r"|while|which[ \t]{1,3}means|meaning|except|after[ \t]{1,3}all)\b"
)
_CLAUSE_BREAK = re.compile(_ENGLISH_CLAUSE_BREAK)
_CLAUSE_BREAK_CJK = re.compile(
    _ENGLISH_CLAUSE_BREAK + r"|但是|但|所以|因此|因而|不过|然而|可是|虽然|尽管|因为"
)
"""A clause ends at a comma or colon, and before a conjunction, which opens the next."""
_ENGLISH_JUDGEMENT = re.compile(
    r"\b(?:(?P<correct>correct(?:ly)?|right|verified|confirm(?:s|ed)?"
    r"|check(?:s|ed)?[ \t]{1,3}out|error-free|mistake-free)"
    r"|(?P<wrong>incorrect(?:ly)?|wrong(?:ly)?|mistakes?|mistaken(?:ly)?|errors?"
    r"|erroneous(?:ly)?|flawed|miscalculat(?:ed|ion|ions)))\b"
)
_CHINESE_JUDGEMENT = re.compile(
    r"(?P<correct>正确|没错|无误|没问题|是对的|对的|对了|是对(?![称应于比角边数象面待话]))"
    r"|(?P<wrong>错误|错了|错的|不对|有误|错(?<!交错)(?![位开]))"
)
_YES_NO = re.compile(
    r"[ \t]{0,8}(yes|yeah|yep|no|nope|是的|对|不是|没有)[ \t]{0,8}(?:[,.!;，。！；]|$)"
)
_YES = frozenset({"yes", "yeah", "yep", "是的", "对"})
_NEGATION = re.compile(
    r"(?P<idiom>\bno\s+(?:doubt|question)|\bwithout\s+(?:a\s+|any\s+)?doubt|\bnot\s+only"
    r"|\bnot\s+just|\bno\s+matter)"
    r"|\b(?:not|no|never|nothing|none|neither|nor|without|cannot|hardly|barely|nowhere)\b"
    r"|n['’]t\b",
)
_INTERJECTION = re.compile(
    r"\s*no\b[\s,]*(?=(?:it|it['’]s|that|that['’]s|this|the|i|i['’]m|my|we|wait)\b)",
)
_CN_NEGATION = re.compile(r"(?:并没有|没有|并不|并非|不是|不|没|无)(?:是|太|完全|很|算)?$")
_ENGLISH_HEDGE = (
    r"\b(?:might|may|maybe|perhaps|possibly|probably|likely|would|should|if|whether|unless"
    r"|suppose|supposing|assuming|unsure|uncertain|not\s+(?:sure|certain)|asks?|asked"
    r"|let\s+me\s+(?:check|verify|see|confirm|double-check|recheck|reconsider|think)"
    r"|let['’]s\s+(?:check|verify|see|confirm|double-check|recheck|reconsider|think)"
    r"|need\s+to\s+(?:check|verify|confirm|double-check|see)"
    r"|to\s+(?:check|verify|see|confirm|make\s+sure|ensure|determine))\b"
    r"|\bcould\b(?!\s+not|n['’]t)"
)
_HEDGE = re.compile(_ENGLISH_HEDGE)
_HEDGE_CJK = re.compile(_ENGLISH_HEDGE + r"|可能|也许|或许|是否|不确定|如果|假如|假设")
_CONCESSIVE = re.compile(
    r"\s*(?:although|though|even\s+though|even\s+if|despite|while|whereas|except|虽然|尽管)",
)
_NOUN_AFTER = re.compile(
    r"\s+(?:final\s+)?(?:answer|value|result|solution|approach|method|formula|expression"
    r"|number|one|way|sign|equation|calculation|reasoning|step|choice|option|response)"
    r"(?P<verb>\s+(?:is|are|was|were|should|would|must|will|equals|being)\b|\s*[=:])?",
)
_VERB_OBJECT = re.compile(r"\s+(?:the|this|that|it|them|these|those|my|our|his|her|its|any)\b")
_WORD = re.compile(r"[\w'’]+")
_COPULA = frozenset(
    {
        *("is", "are", "was", "were", "be", "been", "being", "looks", "look", "seems", "seem"),
        *("appears", "appear", "sounds", "sound", "feels", "feel", "not", "all", "quite"),
        *("absolutely", "definitely", "indeed", "totally", "completely", "exactly", "entirely"),
        *("perfectly", "still"),
    }
)
"""Words after which "right" is a predicate ("is right", "looks right", "not right")."""
_CONTRACTED_VERBS = ("n't", "n’t", "'s", "’s", "'re", "’re", "'m", "’m")
_RIGHT_NOT_JUDGEMENT = re.compile(
    r"\s*(?:-|triangles?|angles?|angled|sides?|hand|now|away|here|there|after|before|of"
    r"|to(?![ \t]+(?:me|us)\b)|circular|prism|cones?|cylinders?|shift|endpoint|limit|half)\b",
)
_ENDS_SENTENCE = re.compile(r"[ \t]{0,8}(?:[?.!]|$)")
_NOT_AN_ADMISSION = re.compile(
    r"(?:\b(?:for|relative|absolute|percent|percentage|standard|squared|mean)"
    r"|\bmargin\s+of|\btrial\s+and)(?:\s+(?:any|possible|potential|obvious|careless))?\s*$",
)
_ERROR_TERM = re.compile(r"\s*(?:bound|term|analysis|tolerance|estimate|margin)s?\b")
_CONTEXT = 48
"""Characters of context read around a judgement word (bounded: reading stays linear)."""
_MAX_JUDGEMENTS_READ = 4096
"""Judgement words read from the end before giving up (None): a real reflection has a few
dozen; this bounds the work on a megabyte of "right right right..." that grades nothing."""
_FIRST_WINDOW = 512
"""Characters searched first when looking back for a match (a whole short reflection in one
scan); each search that finds nothing doubles it. Searches are bounded in number by
:data:`_MAX_JUDGEMENTS_READ`, so this first window costs at most ~2 M characters of scanning."""
_MATCH_SLACK = 24
"""More than the longest match and its lookahead: a search that must find the matches
starting before a position reads this far past it."""


def _blank_quotes(text: str) -> str:
    """The text with each quoted passage blanked out and closing a clause (a comma where
    it ended), every other character where it was."""
    if _QUOTE_MARK.search(text) is None:
        return text
    return _QUOTED.sub(lambda match: " " * (len(match.group()) - 1) + ",", text)


def _lower(text: str) -> str:
    """ASCII letters in lower case, every character where it was."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _last_before(
    pattern: re.Pattern[str], text: str, end: int, floor: int = 0
) -> re.Match[str] | None:
    """The last match of ``pattern`` that starts in ``[floor, end)``, or None.

    Searched in windows that double backwards from ``end``: a window is only searched
    again when the one after it held nothing, so reading a text back to front this way
    costs time linear in its length. Matches see the whole text around them (lookarounds
    reach outside the window), so they are the matches of a scan of the whole text.
    """
    width = _FIRST_WINDOW
    stop = min(len(text), end + _MATCH_SLACK)
    while True:
        low = max(floor, end - width)
        last = None
        for match in pattern.finditer(text, low, stop):
            if match.start() >= end:
                break
            last = match
        if last is not None or low == floor:
            return last
        width *= 2


def _previous_words(text: str, position: int) -> tuple[str, str]:
    """The two words before ``position`` (nearest first), from a short window."""
    words = _WORD.findall(text, max(0, position - _CONTEXT), position)
    return (words[-1] if words else ""), (words[-2] if len(words) > 1 else "")


def _is_subject(text: str, end: int) -> bool:
    """Whether the judgement word ending at ``end`` opens a noun phrase that is the
    subject of a sentence ("the correct value should be 5"): it names, not grades."""
    noun = _NOUN_AFTER.match(text, end, end + _CONTEXT)
    return noun is not None and noun.group("verb") is not None


def _raw_polarity(text: str, match: re.Match[str]) -> Verdict | None:
    """What a judgement word says before negation; None when it grades nothing."""
    word = match.group()
    start, end = match.span()
    if match.lastgroup == "correct":
        if word == "right":
            return _right_polarity(text, start, end)
        if word.startswith("correct"):
            if _VERB_OBJECT.match(text, end, end + _CONTEXT) or _is_subject(text, end):
                return None
            if _previous_words(text, start)[0] == "to":
                return None
        return "correct"
    if _is_subject(text, end) and word in ("wrong", "incorrect"):
        return None
    if word.startswith(("error", "mistake")):
        before = text[max(0, start - _CONTEXT) : start]
        if _NOT_AN_ADMISSION.search(before) or _ERROR_TERM.match(text, end, end + _CONTEXT):
            return None
    return "wrong"


def _right_polarity(text: str, start: int, end: int) -> Verdict | None:
    """ "right" grades only as a predicate ("is right", "got it right", "the right answer.")."""
    if _RIGHT_NOT_JUDGEMENT.match(text, end, end + _CONTEXT):
        return None
    last, before = _previous_words(text, start)
    if _ENDS_SENTENCE.match(text, end):  # "Is 12.8 right?"
        return "correct"
    if last in _COPULA or last.endswith(_CONTRACTED_VERBS):
        return "correct"
    if last in ("it", "this", "that") and before in ("got", "get", "gets", "getting"):
        return "correct"
    noun = _NOUN_AFTER.match(text, end, end + _CONTEXT)
    if noun is not None and noun.group("verb") is None and last in ("the", "a"):
        return "correct"
    return None


def _negations(text: str, start: int, end: int, clause_start: int) -> int:
    """How many negations in ``text[start:end]`` apply to what follows them."""
    count = 0
    for match in _NEGATION.finditer(text, start, end):
        if match.group("idiom"):
            continue
        if match.group() == "no" and _is_interjection(text, clause_start, match.start()):
            continue
        count += 1
    return count


def _is_interjection(text: str, clause_start: int, position: int) -> bool:
    """A "No" that opens its clause and is followed by "it's", "the", "I"...: an answer."""
    if position - clause_start > 8 or text[clause_start:position].strip(" \t,.;:\n"):
        return False
    return _INTERJECTION.match(text, position, position + _CONTEXT) is not None


def _polarity(text: str, match: re.Match[str], since: int, clause_start: int) -> Verdict | None:
    """What a judgement says once the negations of its clause before it are counted."""
    said = _raw_polarity(text, match)
    if said is None:
        return None
    if match.re is _CHINESE_JUDGEMENT:
        negated = _CN_NEGATION.search(text, max(since, match.start() - 6), match.start())
        return _OPPOSITE[said] if negated else said
    flips = _negations(text, since, match.start(), clause_start)
    if flips % 2 and match.group() in ("verified", "confirmed", "confirm", "confirms"):
        return None  # failing to verify is not a verdict either way
    return _OPPOSITE[said] if flips % 2 else said


class _Sentence(NamedTuple):
    """A sentence: where it starts, where its text ends, and its terminator."""

    start: int
    content_end: int
    terminator: str

    def asks(self, text: str) -> bool:
        """Whether it is a question: its terminator holds "?" (or "？"), or it ends in 吗."""
        tail = text[max(self.start, self.content_end - 8) : self.content_end].rstrip()
        return "?" in self.terminator or "？" in self.terminator or tail.endswith("吗")


class _Reading:
    """One reflection, read from its end: its judgements, their clauses and sentences."""

    def __init__(self, reflection: str) -> None:
        self.text = _lower(_blank_quotes(reflection))
        chinese = not self.text.isascii() and _CJK.search(self.text) is not None
        self.patterns = (
            [_ENGLISH_JUDGEMENT, _CHINESE_JUDGEMENT] if chinese else [_ENGLISH_JUDGEMENT]
        )
        self.clause_break = _CLAUSE_BREAK_CJK if chinese else _CLAUSE_BREAK
        self.hedge = _HEDGE_CJK if chinese else _HEDGE
        self.short: list[re.Match[str]] | None = None
        if len(self.text) <= _FIRST_WINDOW:  # one scan answers every search
            whole = self.patterns[0].finditer(self.text) if not chinese else None
            self.short = list(whole or self.judgements(0, len(self.text)))
            self.short_starts = [match.start() for match in self.short]
        self.budget = _MAX_JUDGEMENTS_READ

    def last_judgement_before(self, end: int, floor: int = 0) -> re.Match[str] | None:
        """The last judgement word starting in ``[floor, end)``; None also once
        :data:`_MAX_JUDGEMENTS_READ` have been read."""
        self.budget -= 1
        if self.budget < 0:
            return None
        if self.short is not None:
            index = bisect.bisect_left(self.short_starts, end) - 1
            found = self.short[index] if index >= 0 else None
            return found if found is not None and found.start() >= floor else None
        if len(self.patterns) == 1:
            return _last_before(self.patterns[0], self.text, end, floor)
        found = [_last_before(pattern, self.text, end, floor) for pattern in self.patterns]
        return max((match for match in found if match), key=re.Match.start, default=None)

    def judgements(self, start: int, end: int) -> Iterator[re.Match[str]]:
        """The judgement words starting in ``[start, end)``, in order."""
        stop = min(len(self.text), end + _CONTEXT)
        scans = [pattern.finditer(self.text, start, stop) for pattern in self.patterns]
        merged = scans[0] if len(scans) == 1 else heapq.merge(*scans, key=re.Match.start)
        for match in merged:
            if match.start() >= end:
                return
            yield match

    @functools.cached_property
    def terminators(self) -> tuple[Sequence[int], Sequence[int]]:
        """Where each sentence terminator (". ", "?", "。"...) starts and ends: one scan,
        made the first time a sentence is asked for."""
        spans = array(
            "q", chain.from_iterable(map(re.Match.span, _SENTENCE_END.finditer(self.text)))
        )
        return spans[0::2], spans[1::2]

    def sentence_at(self, position: int) -> _Sentence:
        """The sentence holding ``position``."""
        starts, ends = self.terminators
        index = bisect.bisect_right(ends, position)  # the first terminator after it
        start = ends[index - 1] if index else 0
        if index == len(starts):
            return _Sentence(start, len(self.text), "")
        return _Sentence(start, starts[index], self.text[starts[index] : ends[index]])

    def clause_at(self, position: int, sentence: _Sentence) -> tuple[int, int]:
        """The clause holding ``position``, as (start, end)."""
        before = _last_before(self.clause_break, self.text, position, floor=sentence.start)
        after = self.clause_break.search(self.text, position, sentence.content_end)
        start = sentence.start
        if before is not None:
            start = before.end() if before.lastgroup == "punct" else before.start()
        return start, after.start() if after else sentence.content_end

    def commits(self, start: int, end: int) -> bool:
        """Whether a clause commits: it neither hedges nor concedes."""
        hedged = self.hedge.search(self.text, start, end) is not None
        return not hedged and _CONCESSIVE.match(self.text, start, end) is None

    def clause_verdict(self, start: int, last: re.Match[str]) -> Verdict | None:
        """The last judgement of the clause starting at ``start`` that grades, ``last``
        or one before it; the negations counted for each are those since the one before."""
        match: re.Match[str] | None = last
        while match is not None:
            previous = self.last_judgement_before(match.start(), floor=start)
            said = _polarity(self.text, match, previous.end() if previous else start, start)
            if said is not None:
                return said
            match = previous
        return None

    def answer_after(self, question: _Sentence) -> Verdict | None:
        """What a bare "Yes"/"No" opening the sentence after a question answers to it:
        "Is it correct? No." is wrong, "Did I make a mistake? No." is correct."""
        reply = _YES_NO.match(self.text, question.content_end + len(question.terminator))
        if reply is None:
            return None
        asked = next(
            (
                said
                for match in self.judgements(question.start, question.content_end)
                if (said := _raw_polarity(self.text, match))
            ),
            None,
        )
        if asked is None:
            return None
        return asked if reply.group(1) in _YES else _OPPOSITE[asked]

    def verdict(self) -> Verdict | None:
        """The last judgement of the last clause that commits (see the module docstring)."""
        end = len(self.text)
        while (match := self.last_judgement_before(end)) is not None:
            sentence = self.sentence_at(match.start())
            if sentence.asks(self.text):  # commits to nothing, but may have been answered
                answer = self.answer_after(sentence)
                if answer is not None:
                    return answer
                end = sentence.start
                continue
            start, clause_end = self.clause_at(match.start(), sentence)
            if self.commits(start, clause_end):
                said = self.clause_verdict(start, match)
                if said is not None:
                    return said
            end = start
        return None


def classify_verdict(reflection: str | None) -> Verdict | None:
    """The reflection's judgement of the answer (see the module docstring); None when absent
    or when it does not commit."""
    if not reflection:
        return None
    return _Reading(reflection).verdict()

"""The reflection's verdict on its own answer: "correct", "wrong" or None.

The reflection is read the way a careful human grader reads it, clause by clause:

1. Quoted text ("...", “...”, 「...」) is the question or someone else's words: it is not
   read. Sentences end at ``. ! ? ; 。！？；`` and line breaks; a sentence splits into
   clauses at commas, colons and dashes (" - ", "—") and before "but", "so", "because",
   "although", "however", "therefore", "except", 但是, 所以, 因此..., and "and" before a
   new subject ("the roots don't exist and my answer is wrong"); the conjunction opens the
   next clause.
2. A judgement is a word that grades the answer: "correct", "right" (as a predicate: "is
   right", "that's not right", "got it right", "the right answer."), "verified",
   "confirmed", "checks out", "error-free", "matches", and as predicates "valid",
   "accurate", "consistent"; "wrong", "incorrect", "mistake", "error", "erroneous",
   "flawed", "miscalculated", "missed", "forgot", "overlooked", and as predicates
   "invalid", "inaccurate", "inconsistent", "incomplete"; 正确, 对的, 没错, 无误, 没问题,
   一致; 错误, 错了, 不对, 有误, 有问题, 不完整, 漏掉, 忘了. So is every other word that grades
   a result as right or wrong:
   - adjectives and nouns of a result, as predicates (after a copula and adverbs of
     degree, opening a clause, or ending a question: "Is my answer of 6 valid?"): "is
     sound", "solid", "airtight", "watertight", "legit", "spot on", "dead on", "on
     target", "on the mark"; "unsound", "faulty", "bogus", "amiss", "garbage", "nonsense",
     "a dud", and "is off", "way off", "a bit off", "off by one", "off the mark" when what
     is off is the answer, a part of the work or the solver ("the sign is off", "I was off
     by one", "..., but off by one");
   - adverbs of doing it: "properly"; "improperly" (as "correctly", "incorrectly");
   - verbs whose subject is the answer or a number: "the result stands", "my answer holds
     (up)", "x = 7 works", "my answer satisfies both equations", "I stand by my answer";
     "the check fails", "it falls apart";
   - verbs of erring, in the past ("botched", "messed up", "screwed up", "goofed",
     "blundered", "bungled", "fumbled", "flubbed", "erred", "blew it", "slipped (up)",
     "mixed up", and the "mis-" verbs of doing a step wrongly: "misread", "miscounted",
     "misapplied"...; "I didn't botch it" and "Did I mess anything up?" too), and nouns of
     an error: "a slip", "slip-up", "blunder", "typo", "oversight", "mix-up";
   - their Chinese counterparts: 成立, 站得住, 靠谱, 准确, 吻合, 相符, 对得上, 经得起; 站不住,
     离谱, 偏差, 偏了, 失误, 疏忽, 搞砸 (算砸...), 毛病, 纰漏, 瑕疵, 对不上.
   Where such a word names something else it grades nothing: "holds", "stands", "works"
   and 成立 with a mathematical statement as subject or under a condition ("the equation
   holds for x = 2", "x stands for the width", "as it stands", 等式成立: a fact of
   mathematics, which the reader never weighs; "the function satisfies f(0) = 1"), "off"
   of a thing of the problem or as a preposition ("the switch is off", "3 m off the
   ground"; "my answer is off by 3 m" grades), "sound" and "solid" as nouns or attributes
   ("the speed of sound", "a solid cube"), a ladder that slips, a verb of erring as advice
   ("don't mix up radius and diameter"), 标准偏差. Words of approval that do not say right
   ("fine", "good", "OK", "perfect"), confidence or distrust ("I'm confident", "Can I
   trust my answer? No": like doubt, it commits to nothing) and the truth of a statement
   ("true", "false") are not judgements. Nor are "the correct value is/should be ..." and
   "the correct answer" after a preposition ("differs from the correct answer") or opening
   the sentence: a noun phrase naming something else ("the correct count is 10"), as is
   正确 or 准确 before a noun (正确答案是7) unless 是 comes first (5是正确答案); "to correct
   the sign" (a verb), "I matched the coefficients" (an action), "a right triangle",
   "check for errors", "margin of error". The reader never compares values: "The correct
   answer is 7, but I got 5." commits to nothing; "..., so my answer is wrong." does.
3. "correct" made less than correct is a verdict of wrong: "partially", "almost",
   "nearly", "mostly correct" (部分正确, 几乎正确), and "correct except the final answer".
4. Negation is scoped to the clause: each "not", "n't", "no", "never", "nothing",
   "none", "without", "avoid", "cannot", "neither", "nor", "hardly" between the start of
   the clause (or the clause's previous judgement) and a judgement flips it, so "not
   incorrect" is correct, "I found no errors" is correct and "I don't think it is wrong"
   is correct. "no doubt", "no question", "not only" and "no matter" negate nothing; a
   clause-opening "No," or "No it's" is an interjection. A negated "verified"/"confirmed"
   commits to nothing. In Chinese the negation (不, 没, 没有, 无, 并非, 不是, 没有任何)
   stands right before the word: 不正确, 没有错误; a negated verb of thinking (不认为, 不觉得)
   negates the judgement it governs: 我不认为答案是错的 is correct.
   A judgement of saying something ("wrong to say", "a mistake to think", "wrong in
   claiming") grades what is said, not the answer: "It is wrong to say the answer is
   incorrect." is correct, "It is correct to say it is wrong." is wrong, and "It is wrong
   to say that." grades nothing.
5. A clause does not commit when it is a question (its sentence ends in "?", "？" or
   吗), when it hedges ("might", "maybe", "perhaps", "probably", "could", "would",
   "should", "if", "whether", "not sure", "not confident", "let me check", "to verify",
   "asks", "cannot confirm/verify/tell", "doubt", "doubtful", 可能, 也许, 是否, 如果, 怀疑,
   无法确认...), or when it is concessive ("although", "though", "even if", "despite", 虽然,
   尽管). "I doubt the answer is correct." commits to nothing; "no doubt", "without a
   doubt", "I don't doubt" (不怀疑) do not hedge. A "wrong" in a clause about an earlier
   attempt ("earlier", "before", "at first", "initially", "previously", "in my first
   attempt", 之前, 刚才, 一开始, 起初) grades that attempt, not the final answer: "The answer
   is correct, I was wrong earlier." is correct; so does an error said to leave the answer
   as it is ("a typo, which doesn't affect the result", 不影响).
6. A remark does not commit either. A clause is a remark when its sentence, up to the
   clause, is about mistakes in general ("a common/frequent/typical error", "students
   often", "easy to mix up", "on problems like this", 常见, 很多人) or about someone else's
   work or method ("another method", "the standard approach", "my classmate's answer",
   "the official solution", 别人, 其他方法; not "another way to check"), or when its
   sentence is a note, tip or warning ("Note that", "As a side note", "Tip:", "Remember",
   "Be careful", "Watch out", "Keep in mind", "By the way", 注意, 提示, 小心); unless the
   clause speaks of the solver's own work ("I", "my", "we", 我: "I made a common mistake"),
   or, not being about mistakes in general or someone else's work itself, its judgement
   has the answer as its subject ("..., but the answer is correct", "Note: it's right.").
   A relative clause is read with the clause before it ("A common error is to give 10,
   which is wrong." is a remark; "Note: the answer is 12, which is correct." is not). So
   "The final answer is right. Note that a frequent error here is mixing up radius and
   diameter." is correct: a remark after the verdict does not override it.
7. After a question that holds a judgement, or a sentence that asks without a question
   mark ("Let me check if it's wrong."), a sentence that opens with a reply answers it:
   "Yes"/"No" (是的, 对, 不是), "Absolutely (not)", "Not at all", "None", "It is (not)",
   followed by a comma, a stop, a colon or a dash: "Is the answer correct? No." is wrong;
   "Did I make a mistake? No.", "Any errors? None.", "Was the division right? Yes: 15/3 =
   5." and "Any mistake? No - every step holds." are correct.
8. The concluding judgement decides: the verdict is the last judgement of the last
   clause that commits, so "I made an arithmetic error earlier, but after fixing it the
   final answer 5 is correct." is correct and "The correct value should be 5, so my
   answer is wrong." is wrong; a sentence right after it that takes it up reverses it
   ("The answer is correct. Wait, no, it isn't." is wrong) or keeps it ("Yes, it is.").
   None when no clause commits.

The reflection is read from its end: each search goes back from where the last one
stopped, in windows that double, so the time is linear in the reflection's length and
usually only its last sentences are looked at. At most the last 4,096 judgement words are
read (a real reflection has a few dozen), which bounds the work on a megabyte that repeats
"right right right..." without committing; what a sentence asks and how it is answered
are read once per sentence.
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
    r"(?P<punct>[,:，、：—\u2013](?!\d)|(?<=[ \t])--?(?=[ \t]))"
    r"|\b(?:but|however|so|therefore|thus|hence|yet|because|since|although|though|whereas"
    r"|while|which[ \t]{1,3}means|meaning|except|after[ \t]{1,3}all"
    r"|and(?=[ \t]{1,3}(?:the|my|our|this|that|it|i|we|so|thus|hence)\b))\b"
)
_CLAUSE_BREAK = re.compile(_ENGLISH_CLAUSE_BREAK)
_CLAUSE_BREAK_CJK = re.compile(
    _ENGLISH_CLAUSE_BREAK + r"|但是|但|所以|因此|因而|不过|然而|可是|虽然|尽管|因为"
)
"""A clause ends at a comma, a colon or a dash (" - ", "—"), and before a conjunction, which
opens the next ("and" when a new subject follows: "roots don't exist and my answer is
wrong")."""
_ENGLISH_JUDGEMENT = re.compile(
    r"\b(?=[abcdefghijlmnoprstuvw])(?:(?P<correct>correct(?:ly)?|right|verified|confirm(?:s|ed)?"
    r"|check(?:s|ed)?[ \t]{1,3}out|error-free|mistake-free|accurate(?:ly)?|valid|consistent"
    r"|match(?:es|ed)?|properly|sound|solid|rock[ \t-]solid|airtight|watertight|bulletproof"
    r"|ironclad|legit|(?:spot|dead|bang)(?:[ \t]{1,3}|-)on|satisf(?:y|ies|ied)"
    r"|on[ \t]{1,3}(?:point|target|the[ \t]{1,3}(?:mark|money|nose))|nailed[ \t]{1,3}it"
    r"|stands?[ \t]{1,3}by|(?:stand|hold)s?(?:[ \t]{1,3}up)?|held[ \t]{1,3}up|work(?:s|ed)?)"
    r"|(?P<wrong>incorrect(?:ly)?|wrong(?:ly)?|mistakes?|mistaken(?:ly)?|errors?"
    r"|erroneous(?:ly)?|flawed|miscalculat(?:ed|ion|ions)|inaccurate(?:ly)?|invalid"
    r"|inconsistent|incomplete|missed|forgot(?:ten)?|overlooked"
    r"|off(?:[ \t]{1,3}(?:by|base|target|the[ \t]{1,3}mark))?|unsound|faulty|bogus|amiss"
    r"|improperly|garbage|junk|nonsense|rubbish|a[ \t]{1,3}dud|blew[ \t]{1,3}it"
    r"|botch(?:ed)?|bungled|fumbled|flubbed|erred|goof(?:ed)?(?:[ \t]{1,3}up)?|blunder(?:s|ed)?"
    r"|(?:mess|screw|mix)(?:ed)?[ \t]{1,3}(?:(?:it|this|that|things|something|anything"
    r"|everything)[ \t]{1,3})?up|slip(?:ped)?[ \t]{1,3}up|slipped|slip-ups?|slips?|mix-ups?|typos?"
    r"|oversights?|mis(?:(?:count|appli|us|typ|plac|interpret|judg|remember|label|labell"
    r"|identifi|handl|stat|comput|add|factor|transcrib|spell|measur|convert|round|simplifi"
    r"|multipli|divid|copi)ed|read|understood|wrote|written)"
    r"|fail(?:s|ed)?|f[ae]ll(?:s)?[ \t]{1,3}apart))\b"
)
"""Words that grade a result (see the module docstring): besides "correct" and "wrong",
predicates of a result that stands or is off, verbs and nouns of erring."""
_CHINESE_JUDGEMENT = re.compile(
    r"(?P<correct>正确|没错|无误|没问题|是对的|对的|对了|是对(?![称应于比角边数象面待话])"
    r"|一致(?!性)|成立|站得住|靠谱|靠得住|准确|吻合|相符|对得上|经得起)"
    r"|(?P<wrong>错误|错了|错的|不对|有误|错(?<!交错)(?![位开])|有问题|不完整|漏掉|漏了|遗漏"
    r"|忘了|忘记|站不住|靠不住|对不上|经不起|离谱|偏差(?<!标准偏差)(?<!平均偏差)|偏了|失误|疏忽|[搞弄算做写办整]砸"
    r"|毛病|纰漏|瑕疵)"
)
_ELLIPSIS = (
    r"(?:it|that|this)(?:[ \t]+(?:is|was)(?:[ \t]+not)?|[ \t]+(?:isn|wasn)['’]t"
    r"|['’]s(?:[ \t]+not)?)"
)
"""A statement with its judgement left out: "it is", "it isn't", "that's not"."""
_REPLY = re.compile(
    r"[ \t]{0,8}(yes|yeah|yep|yup|indeed|sure|absolutely(?:[ \t]+not)?|definitely(?:[ \t]+not)?"
    r"|certainly(?:[ \t]+not)?|of[ \t]+course(?:[ \t]+not)?|not[ \t]+at[ \t]+all|not[ \t]+really"
    r"|no|nope|none|nothing|never|" + _ELLIPSIS + r"|是的|对|不是|没有)"
    r"[ \t]{0,8}(?:[,.!;:，。！；：—\u2013]|--?(?=[ \t])|$)"
)
"""A reply opening the sentence after a question: "Yes", "No", "Absolutely not", "It is",
followed by a comma, a stop, a colon or a dash ("Yes: 15/3 = 5.", "No - every step holds.")."""
_NEGATIVE_REPLY = re.compile(r"\b(?:no|nope|not|none|nothing|never)\b|n['’]t|不是|没有")
_REVERSAL = re.compile(
    r"[ \t\n.!;,]*(?:(?:wait|hmm+|hm+|actually|oh|well|no|nope|yes|yeah|yep|hold[ \t]+on)\b"
    r"[ \t\n.!;,]{0,8}){0,4}(" + _ELLIPSIS + r")[ \t]{0,8}(?:[.!;。]|$)"
)
"""A sentence that takes up the statement before it: "Wait, no, it isn't." reverses it,
"Yes, it is." keeps it."""
_CHECKS_WHETHER = re.compile(
    r"\b(?:check|see|verify|confirm|determine|wonder|ask)(?:s|ed|ing)?[ \t]+(?:if|whether)\b"
    r"|是否"
)
"""A sentence that asks without a question mark ("Let me check if it's wrong."): a reply
after it answers it like a question's."""
_PARTIAL = frozenset(
    {"partially", "partly", "almost", "nearly", "mostly", "largely", "half", "somewhat"}
    | {"approximately", "roughly"}
)
"""Words that make "correct" less than correct: "partially correct" is not a verdict of
correct, so it is read as wrong."""
_CN_PARTIAL = re.compile(r"(?:部分|几乎|差不多|接近|大体|大部分)(?:是)?$")
_EXCEPTION = re.compile(
    r"[ \t,:;—]*(?:except|apart[ \t]+from|other[ \t]+than|save[ \t]+for|but[ \t]+for)"
    r"(?:[ \t]+for)?(?:[ \t]+(?:the|my|our|its|this|that|a|an))?"
    r"(?:[ \t]+(?:final|last|computed|resulting))?[ \t]+(?:answer|result|solution|value)\b"
)
"""A "correct" followed by an exception that is the answer ("Everything is correct except
the final answer") is not a verdict of correct."""
_PREDICATE_ONLY = frozenset(
    {"valid", "accurate", "accurately", "consistent", "invalid", "inaccurate", "inconsistent"}
    | {"inaccurately", "incomplete", "sound", "solid", "rock solid", "airtight", "watertight"}
    | {"bulletproof", "ironclad", "legit", "spot on", "dead on", "garbage", "junk", "nonsense"}
    | {"rubbish", "a dud"}
    | {"bang on", "on point", "on target", "on the mark", "on the money", "on the nose"}
    | {"off", "off by", "off base", "off target", "off the mark"}
)
"""Judgement words that grade only as a predicate ("is valid", "not consistent", "is way
off"), never as an attribute ("the valid range", "a solid cube") or a preposition ("3 m off
the ground")."""
_DEGREE = re.compile(
    r"(?:\s+(?:way|far|slightly|somewhat|too|so|very|really|just|clearly|obviously|pretty"
    r"|rather|a[ \t]+(?:bit|little|tad)))+\s*$"
)
"""Adverbs of degree between a copula and its predicate ("is way off", "seems a bit off")."""
_CONTRACTION = re.compile(r"['’](?:s|m|re|ve|d|ll)$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OFF_AS_PREPOSITION = re.compile(r"[ \t]+(?:the|a|an|of|from|to|its|their|this|that|our)\b")
_RESULT_VERBS = frozenset(
    {"stand", "stands", "hold", "holds", "held", "work", "works", "worked", "fail", "fails"}
    | {"failed", "fall", "falls", "fell", "satisfy", "satisfies", "satisfied"}
)
"""Verbs that grade a result only with the answer as their subject ("the result stands", "my
answer holds up", "the check fails"), not a mathematical statement ("the equation holds for
x = 2", "x stands for the width")."""
_RESULT_SUBJECTS = frozenset(
    {"answer", "answers", "result", "results", "solution", "solutions", "conclusion", "value"}
    | {"work", "reasoning", "argument", "calculation", "calculations", "computation", "proof"}
    | {"derivation", "logic", "step", "steps", "check", "verification", "substitution"}
    | {"method", "claim", "verdict", "it", "this", "that", "everything", "mine", "values"}
)
_OFF_SUBJECTS = _RESULT_SUBJECTS | frozenset(
    {"sign", "signs", "number", "numbers", "estimate", "figure", "count", "total", "units"}
    | {"digit", "digits", "decimal", "something", "nothing", "i", "we"}
)
"""What may be "off": the answer, a part of the work, or the solver ("I was off by one")."""
_SUBJECT_GAP = frozenset(
    {"still", "indeed", "also", "clearly", "certainly", "definitely", "firmly", "fully"}
    | {"really", "then", "now", "thus", "does", "do", "did", "doesn't", "don't", "didn't"}
    | {"doesn’t", "don’t", "didn’t", "will", "won't", "won’t", "not", "never", "always"}
    | {"completely", "totally", "entirely", "easily", "must", "have", "just", "all"}
)
"""Words that may stand between a verb and its subject ("the answer still holds", "it does
not hold up", "I must have slipped")."""
_AS_IT_STANDS = re.compile(r"\bas[ \t]+(?:it|things|this|that)[ \t]+$")
_SPACE_OR_HYPHEN = re.compile(r"[ \t-]+")
_CONDITION_AFTER = re.compile(
    r"[ \t]+(?:for|when|whenever|if|iff|only|at|in|on|under|provided|since|because|between"
    r"|as|with|regardless|true[ \t]+for)\b"
)
"""What makes "holds"/"stands" a fact of mathematics: "the identity holds for all x", "the
result stands at 12"."""
_BASE_FORMS = frozenset({"botch", "goof", "mess", "screw", "mix"})
_DID_BEFORE = re.compile(
    r"\bdid(?:n['’]t|[ \t]+not)?(?:[ \t]+(?:i|we|you|it))?(?:[ \t]+(?:really|actually|even"
    r"|ever|not))?[ \t]+$"
)
"""A verb of erring grades in the past: "I botched it", "I didn't botch it", "Did I mess
anything up?", never as advice ("don't mix up radius and diameter")."""
_SLIP_BEFORE = frozenset(
    {"a", "an", "one", "any", "no", "small", "minor", "little", "careless", "silly", "tiny"}
    | {"slight", "arithmetic", "sign", "my", "another", "single", "stupid", "simple", "i", "we"}
)
"""What grades "slip"/"slipped": a determiner of the noun ("a small slip") or the solver as
the subject ("I slipped"), never a ladder that slips."""
_PREDICATE_BEFORE = frozenset(
    {"and", "but", "yet", "so", "thus", "therefore", "also", "both", "remains", "remain"}
    | {"stays", "still", "fully", "not", "all"}
)
_HAS_ANSWER = frozenset(
    {"got", "get", "gets", "getting", "have", "has", "had", "found", "obtained", "reached"}
    | {"gave", "give", "gives", "giving"}
)
_PREPOSITIONS = frozenset(
    {"to", "from", "with", "than", "of", "as", "against", "like", "for", "in", "on", "at"}
    | {"by", "about", "into", "onto", "toward", "towards", "versus", "vs"}
)
"""Verbs that, like a copula, make "the correct answer" a verdict: "I got the correct
answer" grades, "compared with the correct answer" does not."""
_CN_ATTRIBUTE = re.compile(r"(?:的)?(?:答案|结果|数值|值|解法|解|结论|做法|方法|选项)")
"""正确 or 准确 before a noun (正确答案, 准确值) names something; it grades only after 是
("5是正确答案")."""
_CN_RESULT_SUBJECT = re.compile(
    r"(?:答案|结果|结论|解|计算|推理|推导|论证|它|这)(?:仍然|依然|仍|也|都|完全|确实|显然)?"
    r"(?:并不|并没有|没有|不)?(?:能)?$"
)
"""成立 grades with the answer as its subject (结论成立), not an equation (等式成立)."""
_NEGATION = re.compile(
    r"(?P<idiom>\bno\s+(?:doubt|question)|\bwithout\s+(?:a\s+|any\s+)?doubt|\bnot\s+only"
    r"|\bnot\s+just|\bno\s+matter|\b(?:not|never)\s+doubt|n['’]t\s+doubt)"
    r"|\b(?:not|no|never|nothing|none|neither|nor|without|cannot|hardly|barely|nowhere"
    r"|avoid(?:s|ed|ing)?)\b"
    r"|n['’]t\b",
)
_INTERJECTION = re.compile(
    r"\s*no\b[\s,]*(?=(?:it|it['’]s|that|that['’]s|this|the|i|i['’]m|my|we|wait)\b)",
)
_CN_NEGATION = re.compile(r"(?:并没有|没有|并不|并非|不是|不|没|无)(?:是|太|完全|很|算|任何)?$")
_ENGLISH_HEDGE = (
    r"\b(?:might|may|maybe|perhaps|possibly|probably|likely|would|should|if|whether|unless"
    r"|suppose|supposing|assuming|unsure|uncertain|not\s+(?:sure|certain)|asks?|asked"
    r"|let\s+me\s+(?:check|verify|see|confirm|double-check|recheck|reconsider|think)"
    r"|let['’]s\s+(?:check|verify|see|confirm|double-check|recheck|reconsider|think)"
    r"|need\s+to\s+(?:check|verify|confirm|double-check|see)"
    r"|to\s+(?:check|verify|see|confirm|make\s+sure|ensure|determine))\b"
    r"|\bcould\b(?!\s+not|n['’]t)"
    r"|\b(?:cannot|can['’]?t|could\s+not|couldn['’]t|unable\s+to|not\s+able\s+to"
    r"|fail(?:ed|s)?\s+to)\s+(?:fully\s+|really\s+|yet\s+)?(?:confirm|verify|prove|guarantee"
    r"|determine|establish|tell|be\s+sure|be\s+certain|be\s+confident)\b"
    r"|\bnot\s+(?:\w+\s+)?confident\b"
    r"|(?<!\bno\s)(?<!\bnot\s)(?<!n['’]t\s)(?<!\bnever\s)(?<!\bwithout\s)(?<!\bbeyond\s)"
    r"(?<!\bwithout\sa\s)(?<!\bwithout\sany\s)(?<!\bbeyond\sa\s)(?<!\bbeyond\sany\s)"
    r"\bdoubt(?:s|ed|ful|ing)?\b"
)
"""A clause hedges when it "might"..., or doubts ("I doubt it is correct"); "no doubt",
"without a doubt", "I don't doubt" do not."""
_HEDGE = re.compile(_ENGLISH_HEDGE)
_HEDGE_CJK = re.compile(
    _ENGLISH_HEDGE + r"|可能|也许|或许|是否|不确定|如果|假如|假设"
    r"|(?:无法|不能|没法)(?:确认|确定|肯定|判断|验证|保证)"
    r"|(?<![不没无])(?<!没有)怀疑"
)
_SAYING = re.compile(
    r"[ \t]+(?:to[ \t]+(?:say|claim|think|believe|conclude|call|suggest|assume|state|assert)"
    r"|in[ \t]+(?:saying|claiming|thinking|believing|concluding|assuming|calling))\b"
)
"""A judgement of saying something ("It is wrong to say ..."): it grades what is said."""
_EARLIER = re.compile(
    r"(?<!said\s)(?<!mentioned\s)(?<!noted\s)(?<!stated\s)(?<!shown\s)(?<!found\s)"
    r"(?<!computed\s)(?<!calculated\s)(?<!explained\s)"
    r"(?:\b(?:earlier|before)(?![ \t]+(?!(?:and|too|on|in|when|as|though|i|we|my|our)\b)\w)"
    r"|\b(?:previously|initially|originally|at[ \t]+first|the[ \t]+first[ \t]+time)\b"
    r"|\b(?:my|our)[ \t]+(?:first|earlier|previous|original|initial)[ \t]+"
    r"(?:attempt|try|pass|solution|calculation|answer|work)\b"
    r"|之前|刚才|一开始|起初|原先|先前|最初|第一次)"
)
"""A clause about an earlier attempt ("I was wrong earlier", "in my first attempt", 之前我错了):
its "wrong" grades that attempt, not the final answer."""
_CN_NOT_THINKING = re.compile(r"(?:不|并不|没有?)(?:认为|觉得|相信|以为)")
"""我不认为答案是错的: a negated verb of thinking negates the judgement it governs."""
_OTHERS = r"friends?|classmates?|teachers?|tutors?|partners?|colleagues?|textbooks?|books?"
_ENGLISH_FIRST_PERSON = (
    r"\b(?:i|me|my|mine|myself|we|us|our|ours|ourselves)\b"
    r"(?![ \t]+(?:[\w]+['’]s\b|(?:" + _OTHERS + r")\b))"
)
"""The solver speaking of its own work ("I", "my", "we"), not of "my friend's answer"."""
_ENGLISH_GENERIC = (
    r"\b(?:common(?:ly)?|frequent(?:ly)?|typical(?:ly)?|usual(?:ly)?|often|classic|popular"
    r"|tempting|pitfalls?|traps?|easily|people|students|beginners|novices|learners|someone"
    r"|somebody|anyone|anybody|everyone|everybody|others|his|her|their|theirs|"
    + _OTHERS
    + r"|easy[ \t]+to[ \t]+(?:make|get|go|slip|forget|confuse|mix|miss|overlook|drop|lose"
    r"|fall|err)"
    r"|(?:kinds?|types?|sorts?)[ \t]+of[ \t]+(?:questions?|problems?|exercises?)"
    r"|(?:questions|problems|exercises)[ \t]+like[ \t]+(?:this|these)"
    r"|such[ \t]+(?:questions|problems)"
    r"|(?:other|another|alternative|different|standard)[ \t]+(?:methods?|approach(?:es)?|solutions?"
    r"|ways?|answers?|options?|choices?|solvers?|persons?|people|students?|fix|technique)"
    r"(?![ \t]+to[ \t]+(?:check|verify|confirm|see|double-check))"
    r"|(?:official|reference|given)[ \t]+(?:answers?|solutions?)|answer[ \t]+key|else['’]s)\b"
    r"|\b(?!(?:it|that|what|there|here|let|he|she|who|where|how|problem|question|equation"
    r"|answer)['’]s)\w+['’]s[ \t]+(?:answers?|solutions?|methods?|approach|work|results?"
    r"|attempts?|reasoning)\b"
)
"""What makes a remark about mistakes in general ("a common error", "students often",
"easy to mix up") or about someone else's work ("another method", "Ann's answer")."""
_GENERIC = re.compile(_ENGLISH_GENERIC)
_GENERIC_CJK = re.compile(
    _ENGLISH_GENERIC + r"|常见|常犯|经常|通常|容易(?:出错|犯错|错|混淆|搞错|忽略|漏|忘)"
    r"|很多人|许多人|不少人|有些人|(?<!没)有人|学生|同学|别人|他人|朋友|老师|课本|教材|书上"
    r"|(?:其他|其它|别的|另一种|另一个)(?:方法|解法|人|答案|做法)"
)
_FIRST_PERSON = re.compile(_ENGLISH_FIRST_PERSON)
_FIRST_PERSON_CJK = re.compile(_ENGLISH_FIRST_PERSON + r"|我(?!的?(?:朋友|同学|老师|同桌))")
_ADVICE = re.compile(
    r"[\s\W]{0,8}(?:(?:also|just|and|but|as|one|a|quick|final|small|side|important|general|pro"
    r"|friendly|useful|another)[ \t]+){0,3}(?:notes?|notice|nb|tips?|hints?|remember|reminder"
    r"|caution|warning|careful|be[ \t]+careful|watch[ \t]+out|beware|keep[ \t]+in[ \t]+mind"
    r"|make[ \t]+sure|aside|as[ \t]+an[ \t]+aside|by[ \t]+the[ \t]+way|btw|fun[ \t]+fact"
    r"|in[ \t]+general|generally|lesson|takeaway|for[ \t]+(?:future[ \t]+reference"
    r"|the[ \t]+record)|next[ \t]+time|in[ \t]+the[ \t]+future)\b"
    r"|\s{0,8}(?:注意|提示|提醒|小心|切记|记住|顺便|补充|温馨提示|友情提示|警告|一般来说)"
)
"""A note, tip or warning: a sentence opening "Note that", "Tip:", "Be careful", 注意..."""
_NAMES_THE_ANSWER = re.compile(
    r"(?:\b(?:the|this|that|my|our)[ \t]+(?:(?:final|computed|resulting|boxed)[ \t]+)?"
    r"(?:answer|result|solution|value)(?:[ \t]+[\w'’]+){0,3}(?:[ \t]*,[ \t]*which[ \t]+\w+)?"
    r"|\b(?:it|this|that)(?:['’]s|[ \t]+(?:is|was|isn['’]t|wasn['’]t))(?:[ \t]+[\w'’]+)?)[ \t]+$"
    r"|(?:答案|结果)[^\s。！？，]{0,4}$"
)
"""The answer as the subject of a judgement ("the final answer is not right", "it's
correct", "the answer is 12, which is correct", 答案是对的): a remark that says so grades
the answer."""
_HARMLESS = re.compile(
    r"\b(?:does|did|do|will|would)(?:n['’]t|[ \t]+not)[ \t]+(?:affect|change|alter|impact)\b"
    r"|\bwithout[ \t]+(?:affecting|changing|altering)\b|\bno[ \t]+(?:effect|impact)[ \t]+on\b"
    r"|不影响|没有影响|没影响"
)
"""An error said to leave the answer as it is ("a typo which doesn't affect the result")."""
_RELATIVE = re.compile(r"\s*which\b")
"""A relative clause (", which doesn't change the result") is about the clause before it."""
_CONCESSIVE = re.compile(
    r"\s*(?:although|though|even\s+though|even\s+if|despite|while|whereas|虽然|尽管)",
)
_NOUN_AFTER = re.compile(
    r"\s+(?:final\s+)?(?:answer|value|result|solution|approach|method|formula|expression"
    r"|number|one|way|sign|equation|calculation|reasoning|step|choice|option|response"
    r"|probability|count|total|sum|area|perimeter|volume|length|ratio|speed|distance|amount"
    r"|price|cost|rate|height|width|radius|measure|estimate|figure|roots?|units?)"
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
_ENDS_QUESTION = re.compile(r"[ \t]{0,8}[?？]")
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
    if match.re is _CHINESE_JUDGEMENT:
        return _chinese_polarity(text, match)
    word = match.group()
    start, end = match.span()
    key = " ".join(_SPACE_OR_HYPHEN.split(word))  # "spot-on" and "off  by" in one spelling
    if key in _PREDICATE_ONLY and not _is_predicate(text, start, end):
        return None
    if key.startswith("off") and not _off_grades(text, match):
        return None
    verb = key.split()[0]
    if verb in _RESULT_VERBS and not key.endswith(" by") and not _grades_a_result(text, match):
        return None
    if verb in _BASE_FORMS and not _DID_BEFORE.search(text, max(0, start - _CONTEXT), start):
        return None  # "don't mix up radius and diameter" is advice; "I didn't mix up" grades
    if key in ("slip", "slips", "slipped") and _subject_of(text, start) not in _SLIP_BEFORE:
        return None  # "the ladder slips", not "a small slip" or "I slipped"
    if match.lastgroup == "correct":
        previous = _previous_words(text, start)
        said = _correct_polarity(text, word, (start, end), previous)
        if said is not None and previous[0] in _PARTIAL:
            return "wrong"  # "partially correct", "almost right"
        return said
    if _is_subject(text, end) and word in ("wrong", "incorrect"):
        return None
    if word.startswith(("error", "mistake")):
        before = text[max(0, start - _CONTEXT) : start]
        if _NOT_AN_ADMISSION.search(before) or _ERROR_TERM.match(text, end, end + _CONTEXT):
            return None
    return "wrong"


def _off_grades(text: str, match: re.Match[str]) -> bool:
    """Whether "off" grades: the answer, a part of the work or the solver is off ("my answer
    is way off", "I was off by one", "the sign is off"), or it has no subject of its own
    ("Way off.", "..., but off by one"); not a thing of the problem ("the switch is off")
    nor a preposition ("3 m off the ground")."""
    start, end = match.span()
    if match.group() == "off" and _OFF_AS_PREPOSITION.match(text, end, end + _CONTEXT):
        return False
    degree = _DEGREE.search(text, max(0, start - _CONTEXT), start)
    position = degree.start() if degree else start
    before = text[max(0, position - 4) : position].strip()
    if not before or before[-1] in ",:;.!?(—":
        return True
    for word in reversed(_WORD.findall(text, max(0, position - _CONTEXT), position)):
        if word in _COPULA or word in _SUBJECT_GAP or word.endswith(("n't", "n’t")):
            continue
        subject = _CONTRACTION.sub("", word)  # "it's", "I'm"
        return subject in _PREDICATE_BEFORE or subject in _OFF_SUBJECTS
    return False


def _subject_of(text: str, start: int) -> str:
    """The nearest word before ``start`` that is not in :data:`_SUBJECT_GAP`."""
    words = _WORD.findall(text, max(0, start - _CONTEXT), start)
    return next((word for word in reversed(words) if word not in _SUBJECT_GAP), "")


def _grades_a_result(text: str, match: re.Match[str]) -> bool:
    """Whether a verb of :data:`_RESULT_VERBS` grades: its subject is the answer ("the result
    stands", "it does not hold up"), not in "as it stands", and without "up" or "apart" it
    is not followed by a condition ("the identity holds for all x")."""
    start, end = match.span()
    subject = _subject_of(text, start)
    if subject not in _RESULT_SUBJECTS and not _NUMBER.fullmatch(subject):  # "x = 7 works"
        return False
    if _AS_IT_STANDS.search(text, max(0, start - _CONTEXT), start):
        return False
    bare = not match.group().endswith(("up", "apart"))
    return not (bare and _CONDITION_AFTER.match(text, end, end + _CONTEXT))


def _correct_polarity(
    text: str, word: str, span: tuple[int, int], previous: tuple[str, str]
) -> Verdict | None:
    """What a word of the "correct" group says: None where it names, not grades ("the
    correct value is 5", "to correct the sign", "compared with the correct answer").
    ``previous`` holds the two words before it, nearest first."""
    start, end = span
    last, before = previous
    if word == "right":
        return _right_polarity(text, span, previous)
    if last == "to" or (last == "be" and before == "to"):
        return None  # "to correct the sign", "to match", "for it to be correct"
    if word.startswith("match") and last in ("i", "we", "you"):
        return None  # "I matched the coefficients": what was done, not a grade
    if word.startswith("correct"):
        if _VERB_OBJECT.match(text, end, end + _CONTEXT):
            return None
        noun = _NOUN_AFTER.match(text, end, end + _CONTEXT)
        if noun is not None and noun.group("verb") is not None:
            return None  # the subject of its sentence: "the correct value is 5"
        if noun is not None and not word.endswith("ly") and not _attribute_grades(text, start):
            return None
    return "correct"


def _chinese_polarity(text: str, match: re.Match[str]) -> Verdict | None:
    """What a Chinese judgement says before negation: 正确 before a noun names it
    (正确答案是7) unless 是 comes first (5是正确答案); 部分正确 is not correct."""
    said: Verdict = "correct" if match.lastgroup == "correct" else "wrong"
    start, end = match.span()
    attribute = match.group() in ("正确", "准确") and _CN_ATTRIBUTE.match(text, end) is not None
    if attribute and not text.endswith("是", 0, start):
        return None
    if match.group() == "成立" and not _CN_RESULT_SUBJECT.search(text, max(0, start - 8), start):
        return None  # 等式成立: a fact of mathematics
    if said == "correct" and _CN_PARTIAL.search(text, max(0, start - 4), start):
        return "wrong"
    return said


def _is_predicate(text: str, start: int, end: int) -> bool:
    """Whether the word in ``text[start:end]`` is a predicate: after a copula and any adverbs
    of degree ("is valid", "not consistent", "but incomplete", "is way off"), opening its
    clause ("Consistent.") or ending a question ("Is my answer of 6 valid?")."""
    if _ENDS_QUESTION.match(text, end):
        return True
    degree = _DEGREE.search(text, max(0, start - _CONTEXT), start)
    if degree is not None:
        start = degree.start()
    last = _previous_words(text, start)[0]
    if last in _COPULA or last in _PREDICATE_BEFORE or last.endswith(_CONTRACTED_VERBS):
        return True
    before = text[max(0, start - 4) : start].strip()
    return not before or before[-1] in ",:;.!?(—"


def _attribute_grades(text: str, start: int) -> bool:
    """Whether "correct"/"right" before a noun grades: only after a copula or a verb of
    getting, a few words back ("this is the right answer", "I got the correct answer",
    "Is x = 5 the correct answer?"), not after a preposition ("compared with the correct
    answer", "closer to the right answer")."""
    words = _WORD.findall(text, max(0, start - _CONTEXT), start)[::-1][:4]
    if words and words[0] in ("the", "a", "an"):
        words = words[1:]
    for word in words[:3]:
        if word in _PREPOSITIONS:
            return False
        if word in _COPULA or word in _HAS_ANSWER or word.endswith(_CONTRACTED_VERBS):
            return True
    return False


def _right_polarity(text: str, span: tuple[int, int], previous: tuple[str, str]) -> Verdict | None:
    """ "right" grades only as a predicate ("is right", "got it right", "the right answer.")."""
    start, end = span
    if _RIGHT_NOT_JUDGEMENT.match(text, end, end + _CONTEXT):
        return None
    last, before = previous
    if _ENDS_SENTENCE.match(text, end):  # "Is 12.8 right?"
        return "correct"
    if last in _COPULA or last.endswith(_CONTRACTED_VERBS):
        return "correct"
    if last in ("it", "this", "that") and before in ("got", "get", "gets", "getting"):
        return "correct"
    noun = _NOUN_AFTER.match(text, end, end + _CONTEXT)
    if noun is not None and noun.group("verb") is None and _attribute_grades(text, start):
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
        negated = (
            _CN_NEGATION.search(text, max(since, match.start() - 6), match.start()) is not None
        )
        if len(_CN_NOT_THINKING.findall(text, since, match.start())) % 2:
            negated = not negated  # 我不认为答案是错的
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
        self.generic = _GENERIC_CJK if chinese else _GENERIC
        self.first_person = _FIRST_PERSON_CJK if chinese else _FIRST_PERSON
        self.short: list[re.Match[str]] | None = None
        if len(self.text) <= _FIRST_WINDOW:  # one scan answers every search
            whole = self.patterns[0].finditer(self.text) if not chinese else None
            self.short = list(whole or self.judgements(0, len(self.text)))
            self.short_starts = [match.start() for match in self.short]
        self.budget = _MAX_JUDGEMENTS_READ
        self.answers: dict[int, Verdict | None] = {}
        self.last_search: list[tuple[int, int, re.Match[str] | None] | None] = [None, None]
        self.checking: dict[int, bool] = {}
        self.generic_at: dict[int, int] = {}
        self.harmless_at: dict[int, int] = {}

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
        found = [self.last_match_before(index, end, floor) for index in range(len(self.patterns))]
        return max((match for match in found if match), key=re.Match.start, default=None)

    def last_match_before(self, index: int, end: int, floor: int) -> re.Match[str] | None:
        """The last match of the ``index``-th judgement pattern starting in ``[floor, end)``.

        The reader goes backwards, so the last search of a pattern answers the next one
        when it lies within the range searched then: no match starts between the match it
        found and its end. Without this, a pattern whose last match is far back (English
        words in a Chinese reflection) would be searched back to it for every judgement of
        the other pattern.
        """
        last = self.last_search[index]
        if last is not None:
            searched_end, searched_floor, match = last
            within = end <= searched_end and floor >= searched_floor
            if within and (match is None or match.start() < end):
                return match if match is not None and match.start() >= floor else None
        match = _last_before(self.patterns[index], self.text, end, floor)
        self.last_search[index] = (end, floor, match)
        return match

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

    def is_remark(self, clause: tuple[int, int], sentence: _Sentence, judgement: int) -> bool:
        """Whether a clause is a remark, which grades nothing (see the module docstring):
        not when the solver speaks of its own work in it ("I made a common mistake"); when
        it is about mistakes in general or someone else's work itself; not when its
        judgement, at ``judgement``, has the answer as its subject ("..., but the answer is
        correct"); when its sentence up to it is a remark of that kind, or a note, tip or
        warning. A relative clause (", which is wrong") is read with the clause before it."""
        start, end = clause
        if start > sentence.start and _RELATIVE.match(self.text, start, end):
            start = self.clause_at(start - 1, sentence)[0]
        if self.first_person.search(self.text, start, end) is not None:
            return False
        if self.generic.search(self.text, start, end) is not None:
            return True
        if _NAMES_THE_ANSWER.search(self.text, max(start, judgement - _CONTEXT), judgement):
            return False
        advice = _ADVICE.match(self.text, sentence.start, sentence.content_end) is not None
        return advice or self.first_generic(sentence) < end

    def first_generic(self, sentence: _Sentence) -> int:
        """Where the sentence's first mark of a remark about mistakes in general or someone
        else's work is (its end when none); scanned once per sentence."""
        if sentence.start not in self.generic_at:
            found = self.generic.search(self.text, sentence.start, sentence.content_end)
            self.generic_at[sentence.start] = found.start() if found else sentence.content_end
        return self.generic_at[sentence.start]

    def harmless(self, position: int, clause: tuple[int, int]) -> bool:
        """Whether the rest of a clause, with a relative clause after it, says that the error
        before ``position`` leaves the answer as it is ("a typo, which doesn't change the
        result"). The clause's last such statement is searched once per clause."""
        start, end = clause
        if start not in self.harmless_at:
            sentence = self.sentence_at(start)
            if end < sentence.content_end and _RELATIVE.match(self.text, end + 1):
                end = self.clause_at(end + 1, sentence)[1]
            found = _last_before(_HARMLESS, self.text, end, floor=start)
            self.harmless_at[start] = -1 if found is None else found.start()
        return self.harmless_at[start] >= position

    def clause_verdict(self, clause: tuple[int, int], last: re.Match[str]) -> Verdict | None:
        """The last judgement of the clause that grades the answer, ``last`` or one before
        it; the negations counted for each are those since the one before. A "wrong" in a
        clause about an earlier attempt ("I was wrong earlier") grades nothing; a judgement
        of saying it ("It is wrong to say ...") grades nothing itself and reverses, when it
        is wrong, the judgement said."""
        start, end = clause
        earlier = _EARLIER.search(self.text, start, end) is not None
        match: re.Match[str] | None = last
        while match is not None:
            previous = self.last_judgement_before(match.start(), floor=start)
            said = None
            if not _SAYING.match(self.text, match.end(), match.end() + _CONTEXT):
                said = _polarity(self.text, match, previous.end() if previous else start, start)
            if said == "wrong" and (earlier or self.harmless(match.end(), clause)):
                said = None
            if said is not None:
                return self.as_said(said, previous, start)
            match = previous
        return None

    def as_said(self, said: Verdict, frame: re.Match[str] | None, start: int) -> Verdict | None:
        """A verdict as the judgement of saying it before it leaves it: "It is wrong to say
        the answer is incorrect." is correct; None when that judgement grades nothing."""
        if frame is None or not _SAYING.match(self.text, frame.end(), frame.end() + _CONTEXT):
            return said
        before = self.last_judgement_before(frame.start(), floor=start)
        framing = _polarity(self.text, frame, before.end() if before else start, start)
        if framing is None:
            return None
        return said if framing == "correct" else _OPPOSITE[said]

    def answer_after(self, question: _Sentence) -> Verdict | None:
        """What a reply opening the sentence after a question answers to it: "Is it
        correct? No." is wrong, "Did I make a mistake? No." and "Any errors? None." are
        correct. Read once per question."""
        if question.start in self.answers:
            return self.answers[question.start]
        self.answers[question.start] = None
        reply = _REPLY.match(self.text, question.content_end + len(question.terminator))
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
        if asked is not None and _NEGATIVE_REPLY.search(reply.group(1)):
            asked = _OPPOSITE[asked]
        self.answers[question.start] = asked
        return asked

    def checks_whether(self, sentence: _Sentence) -> bool:
        """Whether a sentence asks without a question mark ("Let me check if it's
        wrong."); scanned once per sentence."""
        if sentence.start not in self.checking:
            found = _CHECKS_WHETHER.search(self.text, sentence.start, sentence.content_end)
            self.checking[sentence.start] = found is not None
        return self.checking[sentence.start]

    def taken_up(self, said: Verdict, sentence: _Sentence) -> Verdict:
        """The verdict once the sentence after its own is read: "The answer is correct.
        Wait, no, it isn't." reverses it."""
        if not sentence.terminator:
            return said
        reversal = _REVERSAL.match(self.text, sentence.content_end + len(sentence.terminator))
        if reversal is not None and _NEGATIVE_REPLY.search(reversal.group(1)):
            return _OPPOSITE[said]
        return said

    def clause_said(
        self, match: re.Match[str], clause: tuple[int, int], sentence: _Sentence
    ) -> Verdict | None:
        """What the clause of ``match`` says. When it commits: its verdict, wrong when an
        exception that is the answer follows a "correct" ("everything is correct except
        the last answer"), as taken up by the next sentence. When it does not: the reply
        to a sentence that asks without a question mark ("Let me check if it's wrong.
        It's not."), if any."""
        start, end = clause
        if not self.commits(start, end):
            return self.answer_after(sentence) if self.checks_whether(sentence) else None
        said = self.clause_verdict(clause, match)
        if said is None or self.is_remark(clause, sentence, match.start()):
            return None
        if said == "correct" and (
            _EXCEPTION.match(self.text, match.end(), end + _CONTEXT)
            or _EXCEPTION.match(self.text, end, end + _CONTEXT)
        ):
            said = "wrong"
        return None if said is None else self.taken_up(said, sentence)

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
            said = self.clause_said(match, (start, clause_end), sentence)
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

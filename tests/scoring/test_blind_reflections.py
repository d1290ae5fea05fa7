"""Reflections written blind, from the descriptions of issue 23's classes only, by someone
who did not write the reader's rules; each checked by hand (one relabelled, see below)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from reward_service.scoring import MultiSignalMathReward
from reward_service.scoring._reflect import classify_verdict
from tests.answer_corpus import qwen_response

BLIND = json.loads((Path(__file__).parents[1] / "data" / "reflections_blind.json").read_text())
"""A remark after the verdict, verdict words the reader did not know (and the same words
naming something else), a reply with a colon or a dash. "Can I trust my answer? No — ..."
was labelled wrong and is null here: distrust, like doubt, commits to nothing."""
CLASSES = ("remark_after_verdict", "unknown_verdict_words", "reply_with_colon_or_dash")


@pytest.mark.parametrize("name", CLASSES)
def test_each_class_has_15_phrasings_half_not_correct(name: str) -> None:
    verdicts = Counter(case["verdict"] for case in BLIND if case["class"] == name)
    assert verdicts.total() >= 15
    assert 2 * (verdicts.total() - verdicts["correct"]) >= verdicts.total()


@pytest.mark.parametrize("case", BLIND, ids=[case["reflection"][:50] for case in BLIND])
def test_reads_the_blind_phrasings(case: dict[str, str | None]) -> None:
    assert classify_verdict(case["reflection"]) == case["verdict"]


REWARD = MultiSignalMathReward()


@pytest.mark.parametrize("answer", ["12.8", "13"], ids=["right answer", "wrong answer"])
def test_reflect_pays_a_verdict_that_matches_the_truth(answer: str) -> None:
    """Scored for real: a "correct" about a wrong answer, a "wrong" about a right one and no
    verdict earn reflect 0, so a reader of "correct" everywhere loses half of them."""
    truth = "correct" if answer == "12.8" else "wrong"
    paid = [
        REWARD.score(qwen_response(answer, case["reflection"]), "12.8").reflect for case in BLIND
    ]
    assert paid == [int(case["verdict"] == truth) for case in BLIND]

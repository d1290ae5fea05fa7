"""Batch scoring: each distinct answer is verified once per batch, then cached."""

from __future__ import annotations

import asyncio

from reward_service.engine.batch import BatchItem, open_batch_scorer
from reward_service.scoring import compute_score
from reward_service.settings import ServiceSettings
from tests.conftest import make_response


def test_distinct_answers_verified_once_then_cached() -> None:
    answers = ["12.8", "12", "\\frac{64}{5}"] * 30 + ["9^{9^{9^{9^{9}}}}"] * 2
    items = [BatchItem(make_response(a), "12.8") for a in answers]

    async def score_twice() -> tuple:
        settings = ServiceSettings(workers=2, item_timeout_s=1)
        async with open_batch_scorer(settings) as scorer:
            return await scorer.score(items), await scorer.score(items)

    first, second = asyncio.run(score_twice())
    assert (first.verified, first.cache_hits) == (4, 0)
    assert (second.verified, second.cache_hits) == (0, 4)
    expected = [compute_score("x", item.response, "12.8") for item in items[:90]]
    assert [r.to_dict() for r in first.results[:90]] == expected
    assert [r.to_dict() for r in second.results] == [r.to_dict() for r in first.results]
    assert {r.status for r in first.results[90:]} == {"timeout"}


def test_cache_off_verifies_every_batch() -> None:
    items = [BatchItem(make_response("12.8"), "12.8")] * 3

    async def score_twice() -> tuple:
        async with open_batch_scorer(ServiceSettings(workers=1, cache_size=0)) as scorer:
            return await scorer.score(items), await scorer.score(items)

    first, second = asyncio.run(score_twice())
    assert (first.verified, second.verified, second.cache_hits) == (1, 1, 0)

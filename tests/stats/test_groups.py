"""GRPO groups: the learning signal of a step, exact whatever order its samples arrive in."""

from __future__ import annotations

import random

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from reward_service.stats.groups import GROUPS_KEPT, GroupTable
from reward_service.stats.sketch import digest


def table(samples: list[tuple[str, float, int]]) -> GroupTable:
    groups = GroupTable()
    for group, score, right in samples:
        groups.add(digest(group), score, right)
    groups.bound()
    return groups


def test_a_steps_learning_signal() -> None:
    samples = [
        *[("flat-right", 1.4, 1)] * 4,  # all right, same reward: no advantage
        *[("flat-wrong", 0.2, 0)] * 4,  # all wrong, same reward: no advantage
        ("mixed", 1.4, 1),
        ("mixed", 0.2, 0),
        ("mixed", 0.2, 0),
        ("mixed", 0.0, 0),
        ("right-but-varied", 1.4, 1),
        ("right-but-varied", 1.2, 1),
    ]
    summary = table(samples).summary()
    assert summary["groups"] == 4
    assert summary["group_size"] == 3.5
    assert summary["zero_variance"] == 0.5
    assert summary["pass_at_k"] == 0.75
    assert summary["mean_at_k"] == pytest.approx((1 + 0 + 0.25 + 1) / 4)
    mixed_std = ((1.4 - 0.45) ** 2 + 2 * (0.2 - 0.45) ** 2 + 0.45**2) / 4
    assert summary["spread"] == pytest.approx((mixed_std**0.5 + 0.1) / 4)


def test_one_sample_groups_are_not_counted_as_zero_variance() -> None:
    summary = table([("a", 1.0, 1), ("b", 0.0, 0)]).summary()
    assert summary["zero_variance"] is None and summary["groups"] == 2


def test_no_groups_no_values() -> None:
    assert set(GroupTable().summary().values()) == {None}


def test_samples_split_over_requests_in_any_order_add_up_exactly() -> None:
    rng = random.Random(1)
    samples = [
        (f"g{g}", rng.choice((0.0, 0.2, 1.2, 1.4)), rng.randint(0, 1))
        for g in range(40)
        for _ in range(8)
    ]
    whole = table(samples)
    for _ in range(10):
        rng.shuffle(samples)
        merged = GroupTable()
        for start in range(0, len(samples), 7):
            merged.merge(table(samples[start : start + 7]))
        assert merged == whole
        assert merged.summary() == whole.summary()


def test_past_the_bound_the_kept_groups_are_the_same_whatever_the_split() -> None:
    rng = random.Random(2)
    samples = [
        (f"prompt-{g}", rng.choice((0.0, 1.4)), 1) for g in range(3 * GROUPS_KEPT) for _ in range(4)
    ]
    whole = table(samples)
    assert len(whole.groups) == GROUPS_KEPT and whole.overflow
    rng.shuffle(samples)
    merged = GroupTable()
    for start in range(0, len(samples), 50):
        merged.merge(table(samples[start : start + 50]))
    assert merged == whole
    assert whole.summary()["groups"] == pytest.approx(3 * GROUPS_KEPT, rel=0.3)  # estimated
    assert whole.summary()["group_size"] == 4.0


def test_exactly_the_bound_is_counted_exactly() -> None:
    samples = [(f"p{g}", 1.0, 1) for g in range(GROUPS_KEPT)]
    assert table(samples).summary()["groups"] == GROUPS_KEPT
    assert not table(samples).overflow


def test_the_table_round_trips() -> None:
    groups = table([("a", 1.4, 1), ("a", 0.2, 0), ("b", 0.0, 0)])
    assert GroupTable.from_dict(groups.to_dict()) == groups


def test_an_estimated_group_count_is_a_whole_number() -> None:
    """Past GROUPS_KEPT groups the count is estimated: shown as a whole number of groups."""
    count = 16384
    items = [
        {"response": "\\boxed{1}", "ground_truth": "1", "group": f"prompt-{k}"}
        for k in range(count)
    ]
    settings = ServiceSettings(workers=1, max_items=count)
    with serve_in_thread(create_app(settings)) as url:
        posted = httpx.post(f"{url}/score", json={"items": items, "step": 3}, timeout=300)
        assert posted.status_code == 200
        groups = httpx.get(f"{url}/stats", timeout=60).json()["series"]["groups"]
    assert groups[-1] == int(groups[-1]) and abs(groups[-1] - count) < 0.2 * count

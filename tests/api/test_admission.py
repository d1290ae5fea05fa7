"""The bound on work in flight: items and bytes of the requests being served."""

from __future__ import annotations

import pytest

from reward_service.api.admission import InFlightLimit
from reward_service.errors import Overloaded, RetryLater


def test_requests_are_admitted_up_to_the_bound_and_hold_it_while_they_run() -> None:
    limit = InFlightLimit(max_items=10, max_bytes=100)
    with limit.admit(items=6):
        assert limit.items == 6
        with limit.admit(items=4):
            assert limit.items == 10
        with pytest.raises(Overloaded) as refused, limit.admit(items=5):
            pass
        assert "6 items and 0 bytes in flight" in str(refused.value)
        assert isinstance(refused.value, RetryLater)  # answered 503 with Retry-After
    assert limit.items == 0


def test_a_request_larger_than_the_bound_runs_alone() -> None:
    limit = InFlightLimit(max_items=10, max_bytes=100)
    with limit.admit(items=50):  # nothing else in flight: admitted
        assert limit.items == 50
    limit.take_bytes(500, own_bytes=0)
    limit.take_bytes(500, own_bytes=500)  # its own bytes never refuse it
    assert limit.bytes == 1000
    limit.give_back_bytes(1000)
    assert limit.bytes == 0


def test_bytes_are_refused_next_to_another_requests_bytes() -> None:
    limit = InFlightLimit(max_items=10, max_bytes=100)
    limit.take_bytes(80, own_bytes=0)  # another request's body
    with pytest.raises(Overloaded):
        limit.take_bytes(30, own_bytes=0)
    limit.take_bytes(20, own_bytes=0)
    assert limit.bytes == 100


def test_an_item_refused_leaves_nothing_held() -> None:
    limit = InFlightLimit(max_items=1, max_bytes=100)
    with limit.admit(items=1):
        with pytest.raises(Overloaded), limit.admit(items=1):
            pass
        assert limit.items == 1
    assert (limit.items, limit.bytes) == (0, 0)

"""A scored batch as rows of the record."""

from __future__ import annotations

import dataclasses

import pytest

from reward_service.record import FILE_SCHEMA, ScoredBatch
from reward_service.record.schema import batch_table, batches_table
from reward_service.scoring import RewardWeights
from tests.record.helpers import batch


def test_rows_keep_their_order_and_positions_across_conversion_chunks() -> None:
    scored = batch(8)
    weights = [RewardWeights(alpha=float(index)) for index in range(8)]
    scored = dataclasses.replace(scored, weights=weights)
    table = batch_table(scored, "replica", "batch-1", rows_per_chunk=3)
    assert table.schema == FILE_SCHEMA
    rows = table.to_pylist()
    assert [row["item"] for row in rows] == list(range(8))
    assert [row["response"] for row in rows] == [item.response for item in scored.items]
    assert [row["weights"]["alpha"] for row in rows] == [float(index) for index in range(8)]
    assert [row["format_failures"] for row in rows] == [
        list(result.format_failures) for result in scored.results
    ]
    assert {row["batch"] for row in rows} == {"batch-1"}


def test_an_empty_batch_is_no_rows() -> None:
    empty = ScoredBatch([], [], RewardWeights(), "/score", "v", 0.0)
    assert batch_table(empty, "replica", "batch-1").num_rows == 0


def test_items_results_and_weights_must_pair_up() -> None:
    scored = batch(3)
    with pytest.raises(ValueError, match="differ in length"):
        ScoredBatch(scored.items, scored.results[:2], RewardWeights(), "/score", "v", 0.0)
    with pytest.raises(ValueError, match="differ in length"):
        ScoredBatch(scored.items, scored.results, [RewardWeights()], "/score", "v", 0.0)


def test_small_batches_are_converted_together_as_one_large_one() -> None:
    """Conversions span the batches' bounds (verl's 1-8 item batches cost per row what one
    large batch does): the same rows, each with its own batch id and position."""
    batches = [(batch(size, seed=size), f"batch-{size}") for size in (3, 1, 5, 2)]
    table = batches_table(batches, "replica", rows_per_chunk=4)
    assert table.schema == FILE_SCHEMA
    assert [len(chunk) for chunk in table.column("item").chunks] == [4, 4, 3]
    one_by_one = [batch_table(scored, "replica", batch_id) for scored, batch_id in batches]
    assert table.to_pylist() == [row for part in one_by_one for row in part.to_pylist()]

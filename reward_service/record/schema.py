"""The columns of the record: one row per scored item, as Apache Arrow and Parquet hold it.

Every column is documented here and in each file (the Arrow field's ``doc`` metadata), so a
file read without this package says what it holds. ``step`` is not stored in the files: it
is the hive partition of the folder a file lies in (``step=412/``), which every Parquet
reader turns back into a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from reward_service.scoring import RewardWeights, ScoreResult

WEIGHTS = ("alpha", "beta", "gamma")
WEIGHTS_TYPE = pa.struct([(name, pa.float64()) for name in WEIGHTS])
STEP_FIELD = pa.field(
    "step",
    pa.int64(),
    metadata={
        "doc": "The trainer's step, or the number the service gave an untagged batch (as "
        "/stats shows it); the hive partition of the file's folder, step=<N>/."
    },
)

_COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("time", pa.timestamp("ms", tz="UTC"), "When the service answered the item's batch."),
    ("route", pa.string(), "The route that scored it: /score, /openrlhf/get_reward, ..."),
    ("replica", pa.string(), "The service (or Ray Serve replica) that scored and wrote it."),
    ("batch", pa.string(), "The id of the batch (request) it came in, unique in the record."),
    ("item", pa.int32(), "Its position in that batch, from 0."),
    ("group", pa.string(), "The id shared by the responses sampled for one prompt, if sent."),
    ("data_source", pa.string(), "Where the example came from, when the trainer said."),
    ("response", pa.string(), "The model's response, whole, as scored."),
    ("ground_truth", pa.string(), "The label it was scored against."),
    ("pred", pa.string(), "The extracted final answer (the last boxed one); null if none."),
    ("verdict", pa.string(), "The reflection's verdict: correct, wrong, or null (none)."),
    ("verify", pa.int8(), "R_verify: 1 when the answer equals the label, else 0."),
    ("format", pa.int8(), "R_format: 1 when the response keeps the trained format, else 0."),
    ("reflect", pa.int8(), "R_reflect: 1 when the verdict matches the truth, else 0."),
    ("score", pa.float64(), "The reward paid: alpha*verify + beta*format + gamma*reflect."),
    ("format_failures", pa.list_(pa.string()), "The format rules the response breaks."),
    ("status", pa.string(), "ok, timeout (verification ran out of time) or error."),
    ("error", pa.string(), "What went wrong when status is not ok; else null."),
    ("weights", WEIGHTS_TYPE, "The weights the score was computed with."),
    ("response_tokens", pa.int64(), "The response's length in tokens, if the trainer sent it."),
    ("truncated", pa.bool_(), "Whether the trainer cut the response at its length limit."),
    ("scorer_version", pa.string(), "Every component the verdict depends on, with versions."),
)

FILE_SCHEMA = pa.schema(
    [pa.field(name, kind, metadata={"doc": doc}) for name, kind, doc in _COLUMNS]
)
"""The columns of every record file (all but ``step``, which is the folder's partition)."""
RECORD_SCHEMA = pa.schema([STEP_FIELD, *FILE_SCHEMA])
"""The columns a reader of the record sees: ``step``, then the files' columns."""
CONVERTED_ROWS = 128
"""Rows turned into Arrow at once: about 1 MB of responses, a few ms holding the GIL."""


class RecordedItem(Protocol):
    """What the record keeps of a scored item besides its result (the statistics'
    ``ScoredItem`` has these attributes)."""

    @property
    def response(self) -> str: ...
    @property
    def ground_truth(self) -> str: ...
    @property
    def data_source(self) -> str | None: ...
    @property
    def group(self) -> str | None: ...
    @property
    def response_tokens(self) -> int | None: ...
    @property
    def truncated(self) -> bool | None: ...


@dataclass(frozen=True)
class ScoredBatch:
    """One answered batch, on its way to the record: made in O(1), turned into columns later,
    off the request path.

    Attributes:
        items: the scored items, in order.
        results: their results, in the same order.
        weights: the weights of every item, or one per item (``extra_info`` overrides).
        route: the route that scored it.
        scorer_version: the scorer's version (``reward_service.scoring.scorer_version()``).
        time: when it was answered (Unix seconds).

    Raises:
        ValueError: ``items``, ``results`` (and per-item ``weights``) differ in length.
    """

    items: Sequence[RecordedItem]
    results: Sequence[ScoreResult]
    weights: RewardWeights | Sequence[RewardWeights]
    route: str
    scorer_version: str
    time: float

    def __post_init__(self) -> None:
        lengths = {len(self.items), len(self.results)}
        if not isinstance(self.weights, RewardWeights):
            lengths.add(len(self.weights))
        if len(lengths) > 1:
            raise ValueError(f"a batch's items, results and weights differ in length: {lengths}")


def _weights_column(weights: Sequence[RewardWeights]) -> pa.StructArray:
    """The weights as a struct column, built from three float columns (no dict per row)."""
    weights = list(weights)  # each read once, however the sequence computes them
    fields = [pa.array([getattr(w, name) for w in weights], pa.float64()) for name in WEIGHTS]
    return pa.StructArray.from_arrays(fields, fields=list(WEIGHTS_TYPE))


def batch_table(
    batch: ScoredBatch, replica: str, batch_id: str, rows_per_chunk: int = CONVERTED_ROWS
) -> pa.Table:
    """The rows of ``batch`` in :data:`FILE_SCHEMA` (see :func:`batches_table`).

    Raises:
        pyarrow.ArrowException, TypeError, ValueError: a value does not fit its column.
    """
    return batches_table([(batch, batch_id)], replica, rows_per_chunk)


def batches_table(
    batches: Sequence[tuple[ScoredBatch, str]], replica: str, rows_per_chunk: int = CONVERTED_ROWS
) -> pa.Table:
    """The rows of ``batches`` (each with its id), in order, in :data:`FILE_SCHEMA`, turned
    into Arrow ``rows_per_chunk`` at a time across the batches' bounds: each conversion holds
    the GIL (between them other threads run), and has a cost of its own, so a stream of
    small batches (verl's 1-8 items) costs per row what one large batch does.

    Raises:
        pyarrow.ArrowException, TypeError, ValueError: a value does not fit its column.
    """
    chunks: list[pa.Table] = []
    pending: list[_Slice] = []
    filled = 0
    for batch, batch_id in batches:
        count, position = len(batch.results), 0
        while position < count:
            take = min(rows_per_chunk - filled, count - position)
            pending.append(_Slice(batch, batch_id, position, position + take))
            filled, position = filled + take, position + take
            if filled == rows_per_chunk:
                chunks.append(_slices_table(pending, replica))
                pending, filled = [], 0
    if pending:
        chunks.append(_slices_table(pending, replica))
    return pa.concat_tables(chunks) if chunks else FILE_SCHEMA.empty_table()


@dataclass(frozen=True)
class _Slice:
    """Rows ``start`` to ``stop`` of one batch, with its id."""

    batch: ScoredBatch
    batch_id: str
    start: int
    stop: int

    def columns(self, replica: str) -> dict[str, list[Any]]:
        """Its rows' values, column by column (the weights as RewardWeights)."""
        batch, start, stop = self.batch, self.start, self.stop
        items, results = batch.items[start:stop], batch.results[start:stop]
        count = len(items)
        weights = batch.weights
        return {
            "time": [int(batch.time * 1000)] * count,
            "route": [batch.route] * count,
            "replica": [replica] * count,
            "batch": [self.batch_id] * count,
            "item": list(range(start, stop)),
            "group": [item.group for item in items],
            "data_source": [item.data_source for item in items],
            "response": [item.response for item in items],
            "ground_truth": [item.ground_truth for item in items],
            "pred": [result.pred for result in results],
            "verdict": [result.verdict for result in results],
            "verify": [result.verify for result in results],
            "format": [result.format for result in results],
            "reflect": [result.reflect for result in results],
            "score": [result.score for result in results],
            "format_failures": [result.format_failures for result in results],
            "status": [result.status for result in results],
            "error": [result.error for result in results],
            "weights": [weights] * count
            if isinstance(weights, RewardWeights)
            else list(weights[start:stop]),
            "response_tokens": [item.response_tokens for item in items],
            "truncated": [item.truncated for item in items],
            "scorer_version": [batch.scorer_version] * count,
        }


def _slices_table(slices: list[_Slice], replica: str) -> pa.Table:
    """One conversion: the rows of ``slices``, in order."""
    columns: dict[str, Any] = {}
    for piece in slices:
        for name, values in piece.columns(replica).items():
            columns.setdefault(name, []).extend(values)
    columns["weights"] = _weights_column(columns["weights"])
    return pa.Table.from_pydict(columns, schema=FILE_SCHEMA)

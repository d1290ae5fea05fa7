"""The record: every scored item on file (Parquet, one folder per step), and its replay.

The service appends each answered batch to a :class:`RecordWriter`; :func:`open_record`
reads a record back one step at a time; :func:`rescore` re-scores it with the installed
scorer and says which rewards would differ. The record reads without this package too,
its ``step=N`` folders as a 64-bit ``step`` column (steps pass 2^31)::

    steps = pyarrow.dataset.partitioning(pa.schema([("step", pa.int64())]), flavor="hive")
    pyarrow.dataset.dataset(DIR, format="parquet", partitioning=steps)
"""

from reward_service.record.reader import NotARecord, Record, open_record
from reward_service.record.schema import FILE_SCHEMA, RECORD_SCHEMA, RecordedItem, ScoredBatch
from reward_service.record.writer import RecordStatus, RecordWriter

__all__ = [
    "FILE_SCHEMA",
    "RECORD_SCHEMA",
    "NotARecord",
    "Record",
    "RecordStatus",
    "RecordWriter",
    "RecordedItem",
    "ScoredBatch",
    "open_record",
]

"""Run store: one directory per run, an SQLite database (WAL) plus PNG sample grids.

Training writes through :class:`RunWriter`; the dashboard, the reports and replay read
through :class:`RunReader` and never open the database any other way.
"""

from gandiag.store.lock import RunLockedError, WriterInfo, current_writer
from gandiag.store.reader import (
    RunInfo,
    RunReader,
    SampleGrid,
    SamplePoints,
    Series,
    find_runs,
)
from gandiag.store.schema import (
    SCHEMA_VERSION,
    CorruptRunError,
    DiskFullError,
    NotARunError,
    SchemaVersionError,
    disk_full_cause,
    is_disk_full,
    is_run_dir,
)
from gandiag.store.writer import (
    STATUS_CRASHED,
    STATUS_FINISHED,
    STATUS_TRAINING,
    RunWriter,
    run_exists_error,
)

__all__ = [
    "SCHEMA_VERSION",
    "STATUS_CRASHED",
    "STATUS_FINISHED",
    "STATUS_TRAINING",
    "CorruptRunError",
    "DiskFullError",
    "NotARunError",
    "RunInfo",
    "RunLockedError",
    "RunReader",
    "RunWriter",
    "SampleGrid",
    "SamplePoints",
    "SchemaVersionError",
    "Series",
    "WriterInfo",
    "current_writer",
    "disk_full_cause",
    "find_runs",
    "is_disk_full",
    "is_run_dir",
    "run_exists_error",
]

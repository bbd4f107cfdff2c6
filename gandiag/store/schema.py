"""SQLite schema of a run store, and the checks that tell a run directory from anything else."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1
DB_NAME = "run.sqlite"
SAMPLES_DIR = "samples"
BLOCK_SHIFT = 5  # scalar blocks of 32 steps
BLOCK_STEPS = 1 << BLOCK_SHIFT

# Recompute the blocks of one series over a step range from its scalars.
UPDATE_BLOCKS = f"""
INSERT OR REPLACE INTO scalar_blocks(series_id, block, n, n_values, total, lo, hi, first_step)
SELECT series_id, step >> {BLOCK_SHIFT}, COUNT(*), COUNT(value), SUM(value), MIN(value),
       MAX(value), MIN(step)
FROM scalars WHERE series_id = ? AND step >= ? AND step <= ?
GROUP BY series_id, step >> {BLOCK_SHIFT}
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS series (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL  -- 'scalar' or 'histogram'
);
CREATE TABLE IF NOT EXISTS scalars (
    series_id INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    value     REAL,           -- NULL encodes NaN (SQLite cannot store NaN)
    PRIMARY KEY (series_id, step)
) WITHOUT ROWID;
-- Per series, one row per BLOCK_STEPS-step block of scalars (block = step >> BLOCK_SHIFT):
-- kept up to date by the writer, so a downsampled read of a long run aggregates blocks
-- instead of every step. Runs written before it existed lack meta 'scalar_blocks'.
CREATE TABLE IF NOT EXISTS scalar_blocks (
    series_id  INTEGER NOT NULL,
    block      INTEGER NOT NULL,
    n          INTEGER NOT NULL,  -- rows in the block
    n_values   INTEGER NOT NULL,  -- non-NaN values among them
    total      REAL,              -- their sum (NULL when none)
    lo         REAL,
    hi         REAL,
    first_step INTEGER NOT NULL,
    PRIMARY KEY (series_id, block)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS steps (
    step      INTEGER PRIMARY KEY,
    wall_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS histograms (
    series_id INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    lo        REAL NOT NULL,
    hi        REAL NOT NULL,
    counts    TEXT NOT NULL,  -- JSON list of ints
    PRIMARY KEY (series_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id          INTEGER PRIMARY KEY,
    step        INTEGER NOT NULL,
    onset_step  INTEGER NOT NULL,
    detector    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    diagnosis   TEXT NOT NULL,
    evidence    TEXT NOT NULL,  -- JSON object
    remedies    TEXT NOT NULL   -- JSON list
);
CREATE INDEX IF NOT EXISTS alerts_step ON alerts(step);
CREATE TABLE IF NOT EXISTS metrics (
    id          INTEGER PRIMARY KEY,
    step        INTEGER,
    name        TEXT NOT NULL,
    value       REAL,
    uncertainty REAL,
    ci_lo       REAL,
    ci_hi       REAL,
    protocol    TEXT NOT NULL   -- JSON object
);
CREATE TABLE IF NOT EXISTS samples (
    step  INTEGER NOT NULL,
    name  TEXT NOT NULL,
    path  TEXT NOT NULL,     -- relative to the run directory
    PRIMARY KEY (name, step)
);
"""


# The tables every run store has (a file lacking one is some other SQLite database).
RUN_TABLES = frozenset({"meta", "series", "steps", "scalars", "histograms", "alerts"})


class NotARunError(ValueError):
    """The directory is not a gandiag run (no run database in it)."""


class CorruptRunError(ValueError):
    """The run database exists but cannot be read (truncated or not SQLite)."""


class SchemaVersionError(ValueError):
    """The run was written by a gandiag whose schema this version cannot read."""


class DiskFullError(OSError):
    """The disk under a run filled up; what was committed before it is intact."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a full disk: ``ENOSPC`` or
    ``EDQUOT`` from the OS, or SQLite's ``SQLITE_FULL``."""
    return disk_full_cause(exc) is not None


def disk_full_cause(exc: BaseException | None) -> BaseException | None:
    """The exception in ``exc``'s chain (itself, its cause or context) that reports a full
    disk, or ``None``."""
    import errno
    import sqlite3

    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return exc
        if isinstance(exc, sqlite3.Error) and (
            getattr(exc, "sqlite_errorcode", None) == 13  # SQLITE_FULL
            or "database or disk is full" in str(exc)
        ):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def db_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / DB_NAME


def is_run_dir(path: str | Path) -> bool:
    return db_path(path).is_file()


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        # mode=ro never creates or modifies the file; WAL readers still need the -shm
        # file, which the writer created.
        uri = f"file:{path.resolve().as_posix()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn

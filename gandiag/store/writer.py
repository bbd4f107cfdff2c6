"""The write side of a run store, used by training (through the monitor) and by evaluation."""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gandiag._atomic import atomic_write
from gandiag.store.lock import WriterLock, lock_path
from gandiag.store.schema import (
    BLOCK_SHIFT,
    BLOCK_STEPS,
    DB_NAME,
    SAMPLES_DIR,
    SCHEMA,
    SCHEMA_VERSION,
    UPDATE_BLOCKS,
    CorruptRunError,
    connect,
    db_path,
)
from gandiag.types import Alert, MetricResult, StepRecord

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

log = logging.getLogger(__name__)

STATUS_TRAINING = "training"
STATUS_FINISHED = "finished"
STATUS_CRASHED = "crashed"


class RunWriter:
    """Appends a run's records to ``run_dir/run.sqlite`` (WAL mode) and sample grids beside it.

    Every ``write_*`` call is one transaction: once it returns, what it wrote survives
    a crash of this process. Readers (:class:`~gandiag.store.RunReader`) may read while
    this writes. Use as a context manager: leaving on an exception marks the run crashed.

    >>> with RunWriter("runs/dcgan", config={"lr": 2e-4}, kind="gan") as w:  # doctest: +SKIP
    ...     w.write_steps([StepRecord(step=0, scalars={"loss/G": 0.7})])
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
        kind: str = "gan",
        resume: bool = False,
    ) -> None:
        self.run_dir = Path(run_dir)
        self._conn: sqlite3.Connection = None  # type: ignore[assignment]
        _make_writable_dir(self.run_dir)
        path = db_path(self.run_dir)
        exists = path.exists()
        if exists and not resume and not lock_path(self.run_dir).exists():
            raise run_exists_error(self.run_dir)
        # One writer per run: refused (naming the holder) while another live process writes.
        self._writer_lock = WriterLock(self.run_dir).acquire()
        if exists and not resume:
            self._writer_lock.release(remove=self._writer_lock.created)
            raise run_exists_error(self.run_dir)
        try:
            self._open(path, exists, config=config, name=name, kind=kind)
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]
            self._writer_lock.release(remove=not exists)
            raise

    def _open(
        self,
        path: Path,
        exists: bool,
        *,
        config: Mapping[str, Any] | None,
        name: str | None,
        kind: str,
    ) -> None:
        self._lock = threading.Lock()
        self._series: dict[str, int] = {}
        if exists:
            # Validated read-only first (a run store, readable meta, this schema version):
            # a foreign or damaged file is refused before anything is written to it.
            from gandiag.store.reader import RunReader

            RunReader(self.run_dir).close()
        try:
            self._conn = connect(path, readonly=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL: a committed transaction survives a crash of this process; only an OS
            # crash or power loss can roll back the last few, never corrupt the file.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            if exists:
                self._check_version()
            with self._conn:
                self._conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CorruptRunError(
                f"cannot open the run database {path}: {exc}. If a previous writer was killed "
                f"mid-write, recover it with `sqlite3 {path} .recover | sqlite3 fixed.sqlite`; "
                "nothing was modified."
            ) from exc
        for sid, sname in self._conn.execute("SELECT id, name FROM series"):
            self._series[sname] = sid
        (self._max_step,) = self._conn.execute("SELECT MAX(step) FROM steps").fetchone()
        now = time.time()
        meta: dict[str, Any] = {
            "status": STATUS_TRAINING,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "heartbeat": now,
        }
        if self._blocks_missing(exists):
            with self._lock, self._conn:  # a run from before scalar blocks: build them once
                self._conn.execute(
                    UPDATE_BLOCKS.replace("series_id = ? AND ", ""), (-(2**62), 2**62)
                )
            meta["scalar_blocks"] = BLOCK_STEPS
        if not exists:
            meta.update(
                schema_version=SCHEMA_VERSION,
                created=now,
                name=name or self.run_dir.name,
                kind=kind,
                config=dict(config or {}),
            )
        else:
            if config is not None:
                meta["config"] = dict(config)
        self.set_meta(**meta)

    # -- metadata ---------------------------------------------------------------------------
    def set_meta(self, **values: Any) -> None:
        rows = [(k, json.dumps(v, default=str)) for k, v in values.items()]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", rows)

    def set_status(self, status: str) -> None:
        if status not in (STATUS_TRAINING, STATUS_FINISHED, STATUS_CRASHED):
            raise ValueError(f"status must be training, finished or crashed, not {status!r}")
        self.set_meta(status=status, heartbeat=time.time())

    # -- records ----------------------------------------------------------------------------
    def write_steps(self, records: Iterable[StepRecord]) -> None:
        """Append step records in one transaction (a re-written step replaces the old values)."""
        scalar_rows: list[tuple[int, int, float | None]] = []
        hist_rows: list[tuple[int, int, float, float, str]] = []
        step_rows: list[tuple[int, float]] = []
        with self._lock:
            for rec in records:
                step = int(rec.step)
                step_rows.append((step, float(rec.wall_time or time.time())))
                for key, value in rec.scalars.items():
                    v = float(value)
                    scalar_rows.append(
                        (self._series_id(key, "scalar"), step, None if math.isnan(v) else v)
                    )
                for key, h in rec.histograms.items():
                    hist_rows.append(
                        (
                            self._series_id(key, "histogram"),
                            step,
                            float(h.lo),
                            float(h.hi),
                            json.dumps([int(c) for c in h.counts]),
                        )
                    )
            with self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO steps(step, wall_time) VALUES (?, ?)", step_rows
                )
                self._conn.executemany(
                    "INSERT OR REPLACE INTO scalars(series_id, step, value) VALUES (?, ?, ?)",
                    scalar_rows,
                )
                steps = [row[0] for row in step_rows]
                appending = bool(steps) and len(set(steps)) == len(steps)
                if appending and self._max_step is not None:
                    appending = min(steps) > self._max_step
                if appending:  # only new steps: add them to their blocks
                    self._conn.executemany(ADD_TO_BLOCKS, _block_sums(scalar_rows))
                else:  # a step written again replaces its values: recount its blocks
                    self._conn.executemany(UPDATE_BLOCKS, _block_ranges(scalar_rows))
                if steps:
                    top = max(steps)
                    self._max_step = top if self._max_step is None else max(self._max_step, top)
                self._conn.executemany(
                    "INSERT OR REPLACE INTO histograms(series_id, step, lo, hi, counts) "
                    "VALUES (?, ?, ?, ?, ?)",
                    hist_rows,
                )
                self._conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('heartbeat', ?)",
                    (json.dumps(time.time()),),
                )

    def write_alerts(self, alerts: Iterable[Alert]) -> None:
        rows = [
            (
                a.step,
                a.onset_step,
                a.detector,
                a.severity.value,
                a.diagnosis,
                json.dumps({k: _json_float(v) for k, v in a.evidence.items()}),
                json.dumps(list(a.remedies)),
            )
            for a in alerts
        ]
        if not rows:
            return
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO alerts(step, onset_step, detector, severity, diagnosis, evidence, "
                "remedies) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def clear_alerts(self) -> None:
        """Drop stored alerts (used by replay when it rewrites a run's alerts on request)."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM alerts")

    def truncate_after(self, step: int) -> None:
        """Forget everything recorded after ``step``: steps, scalars, histograms, alerts,
        step-stamped metrics and sample grids (their PNG files too).

        A run resumed from a checkpoint at ``step`` continues from there; what the crashed
        process wrote after it belongs to a trajectory that no longer exists, and its alerts
        would otherwise be raised a second time by the resumed detectors.
        """
        step = int(step)
        with self._lock:
            stale = [
                row[0]
                for row in self._conn.execute("SELECT path FROM samples WHERE step > ?", (step,))
            ]
            with self._conn:
                for table in ("steps", "scalars", "histograms", "alerts", "samples"):
                    self._conn.execute(f"DELETE FROM {table} WHERE step > ?", (step,))
                if self._max_step is not None:
                    self._max_step = min(self._max_step, step)
                block = step >> BLOCK_SHIFT
                self._conn.execute("DELETE FROM scalar_blocks WHERE block >= ?", (block,))
                self._conn.execute(
                    UPDATE_BLOCKS.replace("series_id = ? AND ", ""),
                    (block << BLOCK_SHIFT, step),
                )
                self._conn.execute(
                    "DELETE FROM metrics WHERE step IS NOT NULL AND step > ?", (step,)
                )
        for rel in stale:
            (self.run_dir / rel).unlink(missing_ok=True)

    def write_metrics(self, results: Iterable[MetricResult]) -> None:
        rows = [
            (
                r.step,
                r.name,
                _nan_to_none(r.value),
                _nan_to_none(r.uncertainty),
                None if r.interval is None else _nan_to_none(r.interval[0]),
                None if r.interval is None else _nan_to_none(r.interval[1]),
                json.dumps(r.protocol.to_dict(), default=str),
            )
            for r in results
        ]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO metrics(step, name, value, uncertainty, ci_lo, ci_hi, protocol) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def write_sample_grid(self, step: int, png: bytes, name: str = "samples") -> Path:
        """Save a PNG sample grid as ``samples/<name>_<step>.png`` and index it."""
        if not png.startswith(b"\x89PNG"):
            raise ValueError("write_sample_grid expects PNG bytes (see gandiag.images.grid_png)")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        rel = Path(SAMPLES_DIR) / f"{safe}_{int(step):08d}.png"
        path = atomic_write(self.run_dir / rel, lambda f: f.write(png))  # never half a PNG
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO samples(step, name, path) VALUES (?, ?, ?)",
                (int(step), name, rel.as_posix()),
            )
        return path

    def write_sample_points(
        self,
        step: int,
        points: np.ndarray,
        reference: np.ndarray | None = None,
        name: str = "samples",
    ) -> Path:
        """Save 2-D samples ``[N, 2]`` (and optional real points ``[M, 2]`` drawn with them)
        as ``samples/<name>_<step>.npz`` beside the grid's PNG, so viewers can draw a
        scatter with axes instead of the picture (:meth:`RunReader.sample_points`)."""
        pts = np.asarray(points, np.float32).reshape(-1, 2)
        ref = None if reference is None else np.asarray(reference, np.float32).reshape(-1, 2)

        def save(f: Any) -> None:
            if ref is None:
                np.savez(f, points=pts)
            else:
                np.savez(f, points=pts, reference=ref)

        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        rel = Path(SAMPLES_DIR) / f"{safe}_{int(step):08d}.npz"
        return atomic_write(self.run_dir / rel, save)

    # -- lifetime ---------------------------------------------------------------------------
    def close(self, status: str = STATUS_FINISHED) -> None:
        """Mark the run ``status`` and release it. Safe to call again: a second call (e.g.
        after the first failed on a full disk) does nothing."""
        if getattr(self, "_conn", None) is None:
            return
        try:
            self.set_status(status)
            with self._lock:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (sqlite3.Error, OSError) as exc:
            if status == STATUS_FINISHED:
                raise
            # Closing after a failure (often the same full disk): the original error is the
            # one to report. Readers still see the run as crashed once this process is gone.
            log.warning("could not mark the run %s %s: %s", self.run_dir, status, exc)
        finally:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]
            self._writer_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(STATUS_CRASHED if exc_type is not None else STATUS_FINISHED)

    # -- internals --------------------------------------------------------------------------
    def _series_id(self, name: str, kind: str) -> int:
        sid = self._series.get(name)
        if sid is None:
            with self._conn:
                cur = self._conn.execute(
                    "INSERT OR IGNORE INTO series(name, kind) VALUES (?, ?)", (name, kind)
                )
                if cur.lastrowid and cur.rowcount:
                    sid = int(cur.lastrowid)
                else:
                    sid = int(
                        self._conn.execute(
                            "SELECT id FROM series WHERE name = ?", (name,)
                        ).fetchone()[0]
                    )
            self._series[name] = sid
        return sid

    def _blocks_missing(self, exists: bool) -> bool:
        if not exists:
            return True
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'scalar_blocks'").fetchone()
        return row is None or json.loads(row[0]) != BLOCK_STEPS

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = json.loads(row[0]) if row else None
        if version != SCHEMA_VERSION:
            from gandiag.store.schema import SchemaVersionError

            raise SchemaVersionError(
                f"{self.run_dir} was written with run-store schema {version}, this gandiag "
                f"writes schema {SCHEMA_VERSION}; resume it with the gandiag version that "
                "created it, or start a new run directory. Nothing was changed."
            )


def run_exists_error(run_dir: Path) -> FileExistsError:
    """The refusal to start a new run over an existing one (no live writer holds it)."""
    return FileExistsError(
        f"{run_dir} already holds a gandiag run. Choose a new directory for a new run; to "
        "continue this one after its writer has stopped, pass resume=True (CLI: --resume), "
        "which is refused while another process is still writing it. Nothing was changed."
    )


def _make_writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"cannot create the run directory {path} ({exc.strerror}); choose a directory you "
            "can write to (e.g. --out ./runs)"
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(
            f"the run directory {path} is not writable; choose another (e.g. --out ./runs) "
            "or fix its permissions"
        )


# Adds the sums of newly written steps to their blocks (NULL-aware: min/max/sum of nothing
# stay NULL). Used only when every step written is new, so nothing is counted twice.
ADD_TO_BLOCKS = """
INSERT INTO scalar_blocks(series_id, block, n, n_values, total, lo, hi, first_step)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(series_id, block) DO UPDATE SET
    n = n + excluded.n,
    n_values = n_values + excluded.n_values,
    total = coalesce(total + excluded.total, total, excluded.total),
    lo = coalesce(min(lo, excluded.lo), lo, excluded.lo),
    hi = coalesce(max(hi, excluded.hi), hi, excluded.hi),
    first_step = min(first_step, excluded.first_step)
"""


def _block_sums(rows: list[tuple[int, int, float | None]]) -> list[tuple]:
    """Rows for :data:`ADD_TO_BLOCKS`: per (series, block) count, values, sum, min, max."""
    acc: dict[tuple[int, int], list] = {}
    for sid, step, v in rows:
        key = (sid, step >> BLOCK_SHIFT)
        a = acc.get(key)
        if a is None:
            a = acc[key] = [0, 0, None, None, None, step]
        a[0] += 1
        if v is not None:
            a[1] += 1
            a[2] = v if a[2] is None else a[2] + v
            a[3] = v if a[3] is None else min(a[3], v)
            a[4] = v if a[4] is None else max(a[4], v)
        a[5] = min(a[5], step)
    return [(sid, block, *a) for (sid, block), a in acc.items()]


def _block_ranges(rows: list[tuple[int, int, float | None]]) -> list[tuple[int, int, int]]:
    """``(series_id, first_step, last_step)`` covering the whole blocks each series touched."""
    spans: dict[int, tuple[int, int]] = {}
    for sid, step, _ in rows:
        lo, hi = spans.get(sid, (step, step))
        spans[sid] = (min(lo, step), max(hi, step))
    mask = BLOCK_STEPS - 1
    return [(sid, lo & ~mask, hi | mask) for sid, (lo, hi) in spans.items()]


def _nan_to_none(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def _json_float(v: float) -> float | str:
    v = float(v)
    if math.isfinite(v):
        return v
    return str(v)  # "nan", "inf", "-inf": JSON has no literals for them


__all__ = ["DB_NAME", "STATUS_CRASHED", "STATUS_FINISHED", "STATUS_TRAINING", "RunWriter"]

"""The read side of a run store: the only way the dashboard, the reports and replay read a run.

Reads are incremental (``since_step``) so a live view fetches only what is new, and
can be downsampled in SQL (``max_points``) so a 100,000-step run never loads whole.
The database is opened read-only; nothing here modifies a run.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gandiag.store.schema import (
    BLOCK_SHIFT,
    BLOCK_STEPS,
    RUN_TABLES,
    SCHEMA_VERSION,
    CorruptRunError,
    NotARunError,
    SchemaVersionError,
    connect,
    db_path,
    is_run_dir,
)
from gandiag.types import Alert, Histogram, MetricProtocol, MetricResult, Severity, StepRecord

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11


@dataclass(frozen=True)
class Series:
    """A scalar series: ``steps`` and ``values`` (NaN where the value was NaN).

    When downsampled, each point is a bucket: ``steps`` its first step, ``values`` the
    mean of the finite values in it, ``lo``/``hi`` their min and max.
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@dataclass(frozen=True)
class SampleGrid:
    step: int
    name: str
    path: Path


@dataclass(frozen=True)
class SamplePoints:
    """2-D samples of one grid, with what they are drawn against.

    ``reference``: real points stored with them (``[M, 2]``, or None); ``centers``: the
    known mode centres of the run's data (``[K, 2]``, from its metadata ``data_modes``).
    """

    points: np.ndarray
    reference: np.ndarray | None = None
    centers: np.ndarray | None = None


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    name: str
    kind: str
    status: str  # "training", "finished" or "crashed"
    config: dict[str, Any]
    created: float
    heartbeat: float
    last_step: int | None
    num_steps: int
    schema_version: int
    extra: dict[str, Any] = field(default_factory=dict)


class RunReader:
    """Reads one run directory; safe while a writer is appending to it.

    Raises :class:`NotARunError`, :class:`CorruptRunError` or :class:`SchemaVersionError`
    with a message that says what to do.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise NotARunError(f"{self.run_dir} does not exist or is not a directory")
        if not is_run_dir(self.run_dir):
            raise NotARunError(
                f"{self.run_dir} is not a gandiag run (no run.sqlite in it); point at a directory "
                "written by `gandiag train`, `gandiag demo` or gandiag.Monitor"
            )
        path = db_path(self.run_dir)
        self._path = path
        try:
            self._conn = connect(path, readonly=True)
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise CorruptRunError(
                f"the run database {path} cannot be read ({exc}); it may be truncated. Recover "
                f"what it holds with `sqlite3 {path} .recover | sqlite3 recovered.sqlite`; "
                "nothing was modified."
            ) from exc
        missing = sorted(RUN_TABLES - tables)
        if missing:
            self._conn.close()
            raise NotARunError(
                f"{path} is an SQLite database but not a gandiag run store (it has no "
                f"{', '.join(missing)} table{'s' if len(missing) > 1 else ''}); point at a "
                "directory written by `gandiag train`, `gandiag demo` or gandiag.Monitor. "
                "Nothing was modified."
            )
        self._refresh_meta()
        version = self._meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.run_dir} was written with run-store schema {version}; this gandiag reads "
                f"schema {SCHEMA_VERSION}. Open it with the gandiag version that wrote it."
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- run-level --------------------------------------------------------------------------
    def info(self) -> RunInfo:
        self._refresh_meta()
        m = self._meta
        num, last = self._conn.execute("SELECT COUNT(*), MAX(step) FROM steps").fetchone()
        return RunInfo(
            run_dir=self.run_dir,
            name=str(m.get("name", self.run_dir.name)),
            kind=str(m.get("kind", "gan")),
            status=self._status(),
            config=dict(m.get("config", {})),
            created=float(m.get("created", 0.0)),
            heartbeat=float(m.get("heartbeat", 0.0)),
            last_step=None if last is None else int(last),
            num_steps=int(num),
            schema_version=int(m.get("schema_version", 0)),
            extra={k: v for k, v in m.items() if k not in _KNOWN_META},
        )

    def meta(self, key: str, default: Any = None) -> Any:
        self._refresh_meta()
        return self._meta.get(key, default)

    def last_step(self) -> int | None:
        (last,) = self._conn.execute("SELECT MAX(step) FROM steps").fetchone()
        return None if last is None else int(last)

    # -- series -----------------------------------------------------------------------------
    def scalar_names(self) -> list[str]:
        return [
            r[0]
            for r in self._conn.execute("SELECT name FROM series WHERE kind='scalar' ORDER BY name")
        ]

    def histogram_names(self) -> list[str]:
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT name FROM series WHERE kind='histogram' ORDER BY name"
            )
        ]

    def read_scalars(
        self,
        names: list[str] | None = None,
        *,
        since_step: int | None = None,
        until_step: int | None = None,
        max_points: int | None = None,
        prefix: str | None = None,
    ) -> dict[str, Series]:
        """Scalar series by name, with steps strictly after ``since_step``.

        ``max_points`` caps the points per series by averaging equal-width step buckets
        in SQL; ``prefix`` selects every series whose name starts with it.
        """
        ids = self._series_ids("scalar", names, prefix)
        lo_step = -(2**62) if since_step is None else int(since_step) + 1
        hi_step = 2**62 if until_step is None else int(until_step)
        out: dict[str, Series] = {}
        for name, sid in ids.items():
            if max_points is None:
                rows = self._conn.execute(
                    "SELECT step, value FROM scalars WHERE series_id=? AND step>=? AND step<=? "
                    "ORDER BY step",
                    (sid, lo_step, hi_step),
                ).fetchall()
                steps = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                values = np.fromiter(
                    (math.nan if r[1] is None else r[1] for r in rows),
                    dtype=np.float64,
                    count=len(rows),
                )
                out[name] = Series(name, steps, values)
                continue
            # Two single-aggregate queries: SQLite answers each from the key in O(log n).
            (first,) = self._conn.execute(
                "SELECT MIN(step) FROM scalars WHERE series_id=? AND step>=? AND step<=?",
                (sid, lo_step, hi_step),
            ).fetchone()
            if first is None:
                out[name] = Series(
                    name, np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0)
                )
                continue
            (last,) = self._conn.execute(
                "SELECT MAX(step) FROM scalars WHERE series_id=? AND step>=? AND step<=?",
                (sid, lo_step, hi_step),
            ).fetchone()
            width = max(1, -(-(last - first + 1) // max(1, int(max_points))))
            whole = since_step is None and (until_step is None or until_step >= last)
            if whole and width >= BLOCK_STEPS and self._has_blocks():
                # Buckets of whole blocks: the same bucket statistics from ~1/32 of the rows.
                b0 = first >> BLOCK_SHIFT
                n_blocks = (last >> BLOCK_SHIFT) - b0 + 1
                per = -(-n_blocks // max(1, int(max_points)))
                rows = self._conn.execute(
                    "SELECT MIN(first_step), SUM(total) / SUM(n_values), MIN(lo), MAX(hi) "
                    "FROM scalar_blocks WHERE series_id=? GROUP BY (block - ?) / ? ORDER BY 1",
                    (sid, b0, per),
                ).fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT MIN(step), AVG(value), MIN(value), MAX(value) "
                    "FROM scalars WHERE series_id=? AND step>=? AND step<=? "
                    "GROUP BY (step - ?) / ? ORDER BY 1",
                    (sid, lo_step, hi_step, first, width),
                ).fetchall()
            steps = np.array([r[0] for r in rows], dtype=np.int64)
            # A bucket whose values were all NaN (stored NULL) reads back as NaN.
            values = np.array([math.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
            lo = np.array([math.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
            hi = np.array([math.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
            out[name] = Series(name, steps, values, lo, hi)
        return out

    def read_histograms(
        self, name: str, *, since_step: int | None = None, max_points: int | None = None
    ) -> list[tuple[int, Histogram]]:
        ids = self._series_ids("histogram", [name], None)
        if not ids:
            return []
        sid = ids[name]
        lo_step = -(2**62) if since_step is None else int(since_step) + 1
        rows = self._conn.execute(
            "SELECT step, lo, hi, counts FROM histograms WHERE series_id=? AND step>=? ORDER BY step",
            (sid, lo_step),
        ).fetchall()
        if max_points is not None and len(rows) > max_points:
            stride = -(-len(rows) // int(max_points))
            rows = rows[::stride]
        return [(int(s), Histogram(lo, hi, tuple(json.loads(c)))) for s, lo, hi, c in rows]

    def read_records(
        self, *, since_step: int | None = None, chunk_steps: int = 2048
    ) -> Iterator[StepRecord]:
        """Step records in step order, as the monitor produced them (for replay).

        Linear in the run's length: ``chunk_steps`` steps at a time, each series read by
        its ``(series_id, step)`` key over the chunk's step range, so memory stays bounded
        and no query scans the whole table. Steps a concurrent writer commits while this
        iterates are included when their chunk is reached.
        """
        lo_step = -(2**62) if since_step is None else int(since_step) + 1
        chunk_steps = max(1, int(chunk_steps))
        series = self._conn.execute("SELECT id, name, kind FROM series ORDER BY id").fetchall()
        scalar_ids = [(sid, n) for sid, n, k in series if k == "scalar"]
        hist_ids = [(sid, n) for sid, n, k in series if k == "histogram"]
        while True:
            steps = self._conn.execute(
                "SELECT step, wall_time FROM steps WHERE step>=? ORDER BY step LIMIT ?",
                (lo_step, chunk_steps),
            ).fetchall()
            if not steps:
                return
            first, last = steps[0][0], steps[-1][0]
            scalars: dict[int, dict[str, float]] = {st: {} for st, _ in steps}
            for sid, name in scalar_ids:
                for st, value in self._conn.execute(
                    "SELECT step, value FROM scalars WHERE series_id=? AND step>=? AND step<=?",
                    (sid, first, last),
                ):
                    row = scalars.get(st)
                    if row is not None:
                        row[name] = math.nan if value is None else float(value)
            hists: dict[int, dict[str, Histogram]] = {}
            for sid, name in hist_ids:
                for st, lo, hi, counts in self._conn.execute(
                    "SELECT step, lo, hi, counts FROM histograms WHERE series_id=? AND step>=? "
                    "AND step<=?",
                    (sid, first, last),
                ):
                    hists.setdefault(st, {})[name] = Histogram(lo, hi, tuple(json.loads(counts)))
            for st, wall in steps:
                yield StepRecord(st, scalars[st], hists.get(st, {}), wall)
            lo_step = last + 1

    # -- alerts, metrics, samples -----------------------------------------------------------
    def read_alerts(self, *, since_step: int | None = None) -> list[Alert]:
        lo_step = -(2**62) if since_step is None else int(since_step) + 1
        rows = self._conn.execute(
            "SELECT step, onset_step, detector, severity, diagnosis, evidence, remedies FROM alerts "
            "WHERE step>=? ORDER BY step, id",
            (lo_step,),
        ).fetchall()
        return [
            Alert(
                detector=det,
                severity=Severity(sev),
                step=int(step),
                onset_step=int(onset),
                diagnosis=diag,
                evidence={k: float(v) for k, v in json.loads(ev).items()},
                remedies=tuple(json.loads(rem)),
            )
            for step, onset, det, sev, diag, ev, rem in rows
        ]

    def read_metrics(self, name: str | None = None) -> list[MetricResult]:
        sql = "SELECT step, name, value, uncertainty, ci_lo, ci_hi, protocol FROM metrics"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE name = ?"
            args = (name,)
        out = []
        for step, mname, value, unc, lo, hi, proto in self._conn.execute(
            sql + " ORDER BY id", args
        ):
            out.append(
                MetricResult(
                    name=mname,
                    value=math.nan if value is None else float(value),
                    uncertainty=unc,
                    interval=None if lo is None or hi is None else (float(lo), float(hi)),
                    step=step,
                    protocol=MetricProtocol.from_dict(json.loads(proto)),
                )
            )
        return out

    def sample_grids(self, name: str | None = None) -> list[SampleGrid]:
        sql = "SELECT step, name, path FROM samples"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE name = ?"
            args = (name,)
        root = self.run_dir.resolve()
        out = []
        for step, gname, rel in self._conn.execute(sql + " ORDER BY name, step", args):
            path = (root / rel).resolve()
            # Only files inside the run directory are ever handed out.
            if root in path.parents and path.is_file():
                out.append(SampleGrid(int(step), gname, path))
        return out

    def sample_points(self, grid: SampleGrid) -> SamplePoints | None:
        """The 2-D points behind ``grid`` (stored beside its PNG), or None for image grids
        and for runs written before points were stored."""
        path = grid.path.with_suffix(".npz")
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                points = np.asarray(data["points"], np.float64)
                reference = (
                    np.asarray(data["reference"], np.float64) if "reference" in data else None
                )
        except (OSError, ValueError, KeyError):
            return None  # a torn or foreign file: the PNG is still there
        modes = self.meta("data_modes")
        centers = None
        if isinstance(modes, dict) and modes.get("centers"):
            centers = np.asarray(modes["centers"], np.float64).reshape(-1, 2)
        return SamplePoints(points, reference, centers)

    # -- internals --------------------------------------------------------------------------
    def _series_ids(self, kind: str, names: list[str] | None, prefix: str | None) -> dict[str, int]:
        rows = self._conn.execute("SELECT name, id FROM series WHERE kind = ?", (kind,)).fetchall()
        ids = dict(rows)
        if names is not None:
            return {n: ids[n] for n in names if n in ids}
        if prefix is not None:
            return {n: i for n, i in ids.items() if n.startswith(prefix)}
        return ids

    def _has_blocks(self) -> bool:
        """Whether the writer kept scalar blocks for this run (runs before them did not)."""
        return self._meta.get("scalar_blocks") == BLOCK_STEPS

    def _refresh_meta(self) -> None:
        try:
            rows = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise CorruptRunError(
                f"the run database {self._path} cannot be read ({exc}); it may be truncated. "
                f"Recover what it holds with `sqlite3 {self._path} .recover | sqlite3 "
                "recovered.sqlite`; nothing was modified."
            ) from exc
        meta = {}
        for key, value in rows.items():
            try:
                meta[key] = json.loads(value)
            except (TypeError, ValueError) as exc:
                raise CorruptRunError(
                    f"the run database {self._path} holds invalid JSON in its meta table "
                    f"(key {key!r}: {exc}); it was edited or damaged outside gandiag. Fix that "
                    f'row (`sqlite3 {self._path} "SELECT * FROM meta"`) or open another run; '
                    "nothing was modified."
                ) from None
        self._meta = meta

    def _status(self) -> str:
        status = str(self._meta.get("status", "training"))
        if status != "training":
            return status
        # A writer that died without closing leaves "training" behind: check its process.
        pid = self._meta.get("pid")
        host = self._meta.get("host")
        if pid is not None and host == socket.gethostname() and not _pid_alive(int(pid)):
            return "crashed"
        return status


_KNOWN_META = {
    "status",
    "pid",
    "host",
    "heartbeat",
    "schema_version",
    "created",
    "name",
    "kind",
    "config",
    "scalar_blocks",
}


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_runs(root: str | Path) -> list[Path]:
    """Run directories at ``root`` or below it (depth-first, sorted by path)."""
    root = Path(root)
    if not root.is_dir():
        raise NotARunError(f"{root} does not exist or is not a directory")
    if is_run_dir(root):
        return [root]
    return sorted(p.parent for p in root.rglob("run.sqlite") if p.is_file())

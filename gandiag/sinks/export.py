"""Export a stored run: tables (CSV or Parquet) or a TensorBoard log directory.

Tables, one file each in the output folder:

* ``scalars``: one row per step, ``step``, ``wall_time`` and one column per signal
  (empty/NaN where a signal was not measured at that step);
* ``histograms``: long form, one row per bin: ``name``, ``step``, ``bin_lo``, ``bin_hi``, ``count``;
* ``alerts``: ``step``, ``onset_step``, ``detector``, ``severity``, ``diagnosis``,
  ``evidence`` (JSON), ``remedies`` (JSON list);
* ``metrics``: ``name``, ``step``, ``value``, ``uncertainty``, ``ci_lo``, ``ci_hi``,
  ``protocol`` (JSON).

CSV needs nothing beyond the standard library; Parquet needs ``pyarrow``
(``pip install gandiag[parquet]``); TensorBoard replays the run through
:class:`~gandiag.sinks.TensorBoardSink` (``pip install gandiag[tensorboard]``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gandiag.store import RunReader

FORMATS = ("csv", "parquet", "tensorboard")


def export_run(run_dir: str | Path, out_dir: str | Path, fmt: str) -> list[Path]:
    """Write ``run_dir`` to ``out_dir`` in ``fmt``; returns the files or folder written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    with RunReader(run_dir) as reader:
        if fmt == "tensorboard":
            return [_tensorboard(reader, out)]
        tables = run_tables(reader)
    out.mkdir(parents=True, exist_ok=True)
    write = _write_csv if fmt == "csv" else _write_parquet
    return [write(out / f"{name}.{fmt}", cols, rows) for name, (cols, rows) in tables.items()]


def run_tables(reader: RunReader) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The four tables of a run as (column names, rows)."""
    records = list(reader.read_records())
    names = sorted({n for r in records for n in r.scalars})
    scalars = [[r.step, r.wall_time, *(r.scalars.get(n, math.nan) for n in names)] for r in records]
    hists = []
    for r in records:
        for name, h in sorted(r.histograms.items()):
            edges = h.edges
            hists += [[name, r.step, edges[i], edges[i + 1], c] for i, c in enumerate(h.counts)]
    alerts = [
        [
            a.step,
            a.onset_step,
            a.detector,
            a.severity.value,
            a.diagnosis,
            json.dumps(dict(a.evidence)),
            json.dumps(list(a.remedies)),
        ]
        for a in reader.read_alerts()
    ]
    metrics = [
        [
            m.name,
            m.step,
            m.value,
            m.uncertainty,
            None if m.interval is None else m.interval[0],
            None if m.interval is None else m.interval[1],
            json.dumps(m.protocol.to_dict()),
        ]
        for m in reader.read_metrics()
    ]
    return {
        "scalars": (["step", "wall_time", *names], scalars),
        "histograms": (["name", "step", "bin_lo", "bin_hi", "count"], hists),
        "alerts": (
            ["step", "onset_step", "detector", "severity", "diagnosis", "evidence", "remedies"],
            alerts,
        ),
        "metrics": (
            ["name", "step", "value", "uncertainty", "ci_lo", "ci_hi", "protocol"],
            metrics,
        ),
    }


def _write_csv(path: Path, columns: Sequence[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows([["" if v is None else v for v in row] for row in rows])
    return path


def _write_parquet(path: Path, columns: Sequence[str], rows: list[list[Any]]) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(
            "--format parquet needs pyarrow; install it with `pip install gandiag[parquet]` "
            "or export --format csv"
        ) from exc
    data = {c: [row[i] for row in rows] for i, c in enumerate(columns)}
    schema = None
    if not rows:  # an empty table still gets its columns (typed as strings)
        schema = pa.schema([(c, pa.string()) for c in columns])
    pq.write_table(pa.Table.from_pydict(data, schema=schema), path)
    return path


def _tensorboard(reader: RunReader, out: Path) -> Path:
    from gandiag.sinks.tensorboard import TensorBoardSink

    sink = TensorBoardSink(out)
    try:
        batch = []
        for rec in reader.read_records():
            batch.append(rec)
            if len(batch) >= 1000:
                sink.write_steps(batch)
                batch = []
        sink.write_steps(batch)
        sink.write_alerts(reader.read_alerts())
        sink.write_metrics(reader.read_metrics())
        for grid in reader.sample_grids():
            sink.write_image(grid.step, grid.name, grid.path.read_bytes())
    finally:
        sink.close()
    return out

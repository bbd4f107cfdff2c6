"""``gandiag export RUN --format csv|parquet|tensorboard``: a stored run in other tools' formats."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("csv", "parquet", "tensorboard")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a run as CSV/Parquet tables or a TensorBoard log directory",
        description=(
            "Write a stored run as tables (scalars, histograms, alerts, metrics; one CSV or "
            "Parquet file each, readable with pandas.read_csv / read_parquet) or as a "
            "TensorBoard log directory (scalars, histograms, sample grids, alert text). The run "
            "is only read."
        ),
    )
    p.add_argument("run", type=Path, metavar="RUN", help="a run directory")
    p.add_argument("--format", required=True, choices=FORMATS, help="output format")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: RUN-<format> beside the run)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gandiag.sinks.export import export_run

    out = args.output or args.run.with_name(f"{args.run.name}-{args.format}")
    written = export_run(args.run, out, args.format)
    for path in written:
        print(f"wrote {path}")
    return 0

"""``gandiag report RUN [RUN ...] -o FILE.html``: a self-contained HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report on one or several runs",
        description=(
            "Write one HTML file that works offline: a verdict per run, alerts with evidence "
            "and remedies, training curves and diagnostic panels, metrics with their protocol "
            "and intervals, sample grids, and, given several runs (a GAN and a VAE, say), a "
            "side-by-side comparison. Runs are only read."
        ),
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE.html",
        help="where to write the report",
    )
    p.add_argument("--title", default=None, help="report title (default: the run names)")
    p.add_argument(
        "--max-points",
        type=int,
        default=500,
        help="points per series; longer runs are averaged into buckets (default 500)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for r in args.runs:
        if not r.is_dir():
            raise FileNotFoundError(
                f"run directory {r} does not exist; pass a folder written "
                "by `gandiag train` or gandiag.Monitor"
            )
    if args.max_points < 10:
        raise ValueError(f"--max-points must be at least 10, not {args.max_points}")
    from gandiag.reports import write_report

    path = write_report(args.runs, args.output, title=args.title, max_points=args.max_points)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0

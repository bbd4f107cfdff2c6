"""``gandiag demo --out DIR [--quick]``."""

from __future__ import annotations

import argparse
import shlex


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train a small DCGAN and VAE on bundled glyphs, score them, write an HTML report",
        description=(
            "Train a small DCGAN and a small VAE on the bundled procedural glyph digits with the "
            "monitor attached, score both with the bundled glyph classifier, and write a "
            "self-contained HTML report comparing them. Needs no network and no GPU."
        ),
    )
    p.add_argument(
        "--out", required=True, help="directory for the two runs and report.html (created)"
    )
    p.add_argument(
        "--quick", action="store_true", help="a reduced version that runs in well under a minute"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed for data, models and sampling (default 0)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gandiag.demo import run_demo

    report = run_demo(args.out, quick=args.quick, seed=args.seed, progress=not args.no_progress)
    from gandiag.cli.summary import summary_lines
    from gandiag.demo import FULL, QUICK, demo_configs

    names = demo_configs(QUICK if args.quick else FULL, seed=args.seed)
    for line in summary_lines([report.parent / name for name in names]):
        print(line)
    print(f"report: {report}")
    print(f"dashboard: gandiag dashboard {shlex.quote(str(args.out))}")
    return 0

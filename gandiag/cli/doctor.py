"""``gandiag doctor RUN``: test the remedies for a run's alert from its last healthy state."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="fork the remedies for a run's first alert from its last healthy checkpoint",
        description=(
            "For a run of `gandiag train` with a warning or critical alert: start one short\n"
            "branch per remedy the alert names and the model supports, plus the untouched\n"
            "continuation as the control, from the last checkpoint before the alert's onset\n"
            "(train with [checkpoint] ring = 4 to keep them; without one, branches start from\n"
            "the initialisation). Branches run side by side; each is scored by whether the\n"
            "alert clears, what else fires and its final FID or mode coverage, and a report\n"
            "ranks them."
        ),
        epilog=(
            "examples:\n"
            "  gandiag doctor runs/collapse\n"
            "  gandiag doctor runs/collapse --budget 800 --workers 2 --alert mode_collapse"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", type=Path, metavar="RUN", help="run directory of gandiag train")
    p.add_argument("--budget", type=int, default=None, help="steps per branch after the fork")
    p.add_argument("--workers", type=int, default=None, help="branches run at once (cores)")
    p.add_argument("--alert", default=None, metavar="DETECTOR", help="treat this detector's alert")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN/doctor)")
    p.add_argument(
        "--json", default=None, metavar="PATH", help="write the result as JSON ('-': stdout)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gandiag.doctor import NothingToTreat, doctor

    try:
        result = doctor(
            args.run,
            budget=args.budget,
            workers=args.workers,
            detector=args.alert,
            out_dir=args.out,
        )
    except NothingToTreat as exc:  # the run is as it is: nothing doctor can try on it
        print(f"nothing to treat: {exc}")
        return 0
    for why in result.passed_over:
        print(f"passed over {why}")
    fork = "initialisation" if result.fork_step < 0 else f"step {result.fork_step}"
    if result.evidence_onset < result.onset_step:
        fork += f" (evidence replayed back to step {result.evidence_onset})"
    print(
        f"{result.detector} ({result.severity}, onset {result.onset_step}): "
        f"{len(result.branches)} branches of {result.budget} steps from the {fork}"
    )
    for rank, b in enumerate(result.branches, 1):
        quality = "" if b.quality is None else f"  {b.quality_name}={b.quality:.4g}"
        state = "cleared" if b.cleared else "fired again"
        others = f"  also: {', '.join(b.other_findings)}" if b.other_findings else ""
        print(f"  {rank}. {b.name:<20} {state:<12}{quality}{others}")
    print(f"best remedy: {result.best or 'none cleared the alert and beat the control'}")
    print(f"report: {result.report}")
    if args.json == "-":
        json.dump(result.to_dict(), sys.stdout, indent=1, default=str)
    elif args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1, default=str))
    return 0

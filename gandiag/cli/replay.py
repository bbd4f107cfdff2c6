"""``gandiag replay RUN``: re-run detectors, with overridden thresholds, over a stored run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gandiag.detectors import DetectorSuite


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="re-run failure detectors over a stored run (optionally with other thresholds)",
        description=(
            "Feed a stored run's step records through a set of detectors, exactly as the\n"
            "Monitor did live, and print one line per alert. Use it to try other thresholds\n"
            "(--set), other detectors (--detectors), or detectors added after the run.\n"
            "The run is only read unless --write is given."
        ),
        epilog=(
            "examples:\n"
            "  gandiag replay runs/dcgan\n"
            "  gandiag replay runs/dcgan --detectors mode_collapse,vanishing_gradients\n"
            "  gandiag replay runs/dcgan --set mode_collapse.pdist_max=0.5 --set "
            "d_overfitting.rv_max=0.3\n"
            "  gandiag replay --list"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="?", type=Path, metavar="RUN", help="run directory")
    p.add_argument(
        "--detectors",
        default=None,
        metavar="A,B",
        help="comma-separated detector names (default: the set the run was monitored with)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="DETECTOR.PARAM=VALUE",
        help="override a detector parameter (repeatable); see --list for the parameters",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="replace the alerts stored in the run with the replayed ones",
    )
    p.add_argument(
        "--list", action="store_true", help="list the detectors and their parameters, then exit"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gandiag.detectors import DETECTORS, parse_overrides

    if args.list:
        for name in sorted(DETECTORS):
            cls = DETECTORS[name]
            params = getattr(cls, "params", {})
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            print(f"{name}: {shown}" if shown else name)
        return 0
    if args.run is None:
        raise ValueError("give a run directory (gandiag replay RUN), or --list")
    if not args.run.is_dir():
        raise FileNotFoundError(
            f"run directory {args.run} does not exist; pass a folder written by "
            "`gandiag train` or gandiag.Monitor"
        )
    from gandiag.store import STATUS_TRAINING, RunReader, RunWriter

    params = parse_overrides(args.overrides)
    with RunReader(args.run) as reader:
        info = reader.info()
        suite = _suite(args.detectors, params, reader.meta("detectors"), info.kind)
        # the roles and stages the Monitor recorded
        suite.bind(reader.meta("networks"), reader.meta("network_stages"))
        before = len(reader.read_alerts())
        alerts = []
        steps = 0
        for rec in reader.read_records():
            steps += 1
            new = suite.update(rec)
            for a in new:
                print(a.one_line())
            alerts.extend(new)
    detectors = suite.detectors
    names = ",".join(d.name for d in detectors)
    print(
        f"replayed {steps} steps of {info.name} through {len(detectors)} detectors ({names}): "
        f"{len(alerts)} alerts; {before} stored"
    )
    if args.write:
        if info.status == STATUS_TRAINING:
            raise ValueError(
                f"{args.run} is still being written (status 'training'); replay without "
                "--write, or wait until the run finishes"
            )
        writer = RunWriter(args.run, resume=True)
        try:
            writer.clear_alerts()
            writer.write_alerts(alerts)
        finally:
            writer.close(status=info.status)
        print(f"wrote {len(alerts)} alerts to {args.run} (replacing {before})")
    return 0


def _suite(
    chosen: str | None, params: dict[str, dict[str, Any]], recorded: Any, kind: str
) -> DetectorSuite:
    """``--detectors`` if given; else the set the run recorded (the live one), else the
    defaults for the run's kind (runs written before the set was recorded)."""
    from gandiag.detectors import DetectorSuite, build_detectors, default_detectors
    from gandiag.monitor.runtime import default_set

    if chosen:
        names = [n.strip() for n in chosen.split(",") if n.strip()]
        names += [n for n in params if n not in names]
        return DetectorSuite(build_detectors(names, params))
    if recorded is not None:
        return DetectorSuite.from_spec(recorded, params)
    # the set a Monitor of this kind runs (a reference model's name: that model's set)
    set_kind, family = default_set(kind, "vae" if kind == "vae" else "gan")
    return DetectorSuite(default_detectors(set_kind, **{**family, **params}))

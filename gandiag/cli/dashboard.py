"""``gandiag dashboard RUNS_DIR``: the live Dash dashboard over a folder of runs."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="serve the live dashboard over a folder of runs",
        description=(
            "Serve a Dash dashboard over every run under RUNS_DIR: a runs page, a page per run "
            "(losses, D outputs, gradient heatmaps, sample grids, alerts, VAE panels) and a "
            "compare page. Pages update while runs train. Runs are only read. It listens on "
            "127.0.0.1 unless --host says otherwise (it has no authentication); it serves only "
            "PNG/JPEG/GIF images from inside RUNS_DIR."
        ),
    )
    p.add_argument("runs_dir", type=Path, metavar="RUNS_DIR", help="folder holding run directories")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)",
    )
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument(
        "--refresh",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often open pages look for new steps (default 2)",
    )
    p.add_argument(
        "--max-points",
        type=int,
        default=600,
        help="points drawn per series; longer runs are averaged into buckets (default 600)",
    )
    p.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, error overlay)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.runs_dir.is_dir():
        raise FileNotFoundError(
            f"runs folder {args.runs_dir} does not exist; pass the folder your runs are written "
            "to, e.g. `gandiag dashboard ./runs`"
        )
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, not {args.port}")
    if args.refresh <= 0 or args.max_points < 10:
        raise ValueError("--refresh must be positive and --max-points at least 10")
    if not is_loopback(args.host):
        if args.debug:
            raise ValueError(
                f"--debug is refused with --host {args.host}: Dash's debug mode lets anyone who "
                "can reach the port run code on this machine. Use --debug only on 127.0.0.1."
            )
        log.warning(
            "the dashboard has no authentication: with --host %s anyone who can reach port %d "
            "sees every run under %s. Prefer 127.0.0.1 and an SSH tunnel "
            "(ssh -L %d:127.0.0.1:%d HOST).",
            args.host,
            args.port,
            args.runs_dir,
            args.port,
            args.port,
        )
    from gandiag.dashboards import create_app

    app = create_app(
        args.runs_dir, live_interval_ms=int(args.refresh * 1000), max_points=args.max_points
    )
    if not args.debug:  # not a line per request (the pages poll every few seconds)
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"gandiag dashboard on http://{args.host}:{args.port}/ (Ctrl+C to stop)")
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only listens on this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface

"""The ``gandiag`` command line.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
taking the parsed arguments and returning an exit code. Imports of heavy modules
(torch, dash) happen inside those functions so ``gandiag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order shown by ``gandiag --help``.
SUBCOMMANDS = (
    "demo",
    "train",
    "evaluate",
    "report",
    "dashboard",
    "replay",
    "export",
    "doctor",
    "list_models",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gandiag",
        description="Detect GAN and VAE training failures and score sample quality.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"gandiag.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gandiag.cli.{name}":
                raise
            continue  # tests/test_cli.py asserts that every subcommand is present
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError, OSError) as exc:
        # Bad input: one clear line (the exception's message names the fix), no traceback.
        print(f"gandiag {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gandiag")
    except PackageNotFoundError:  # not installed (running from a checkout)
        return "unknown"

"""The ``gandiag`` command line.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
taking the parsed arguments and returning an exit code. Imports of heavy modules
(torch, dash) happen inside those functions so ``gandiag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dis
import importlib
import sys

# Order is the order shown by ``gandiag --help``.
SUBCOMMANDS = (
    "demo",
    "train",
    "evaluate",
    "sample",
    "report",
    "dashboard",
    "replay",
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
    except Exception as exc:
        if not is_usage_error(exc):
            raise  # a bug, or something gandiag did not foresee: the traceback says where
        # Bad input or environment: one clear line (the message names the fix).
        print(f"gandiag {args.command}: error: {exc}", file=sys.stderr)
        return 2


# Refusals gandiag raises on purpose, with a message that names the fix.
_REFUSALS = (ValueError, TypeError, LookupError, OSError, RuntimeError)


def is_usage_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a problem with the user's input or machine (one line) rather than
    a bug (a traceback).

    Usage errors are the exceptions gandiag raises itself, with a ``raise`` statement in
    gandiag's own code (a ValueError from numpy, a KeyError from a lookup, or an unpacking
    error are bugs), and operating-system errors about files (missing, not permitted, disk
    full), which carry the file's name.
    """
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is not None:
        return True
    if isinstance(exc, RecursionError) or not isinstance(exc, _REFUSALS):
        return False
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    if not str(frame.f_globals.get("__name__", "")).startswith("gandiag"):
        return False
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == tb.tb_lasti:
            return ins.opname == "RAISE_VARARGS"
    return False


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gandiag")
    except PackageNotFoundError:  # not installed (running from a checkout)
        return "unknown"

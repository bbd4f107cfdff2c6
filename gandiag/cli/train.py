"""``gandiag train CONFIG.toml --out DIR [--resume]``: train a reference model, monitored."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a reference GAN/VAE from a TOML config, with the monitor attached",
        description=(
            "Train a reference model (see `gandiag list-models`) on a registered dataset. The "
            "TOML config names the model, data, losses, optimisers, schedule and evaluation "
            "cadence; every option has a default (see configs/ for one example per model). "
            "DIR becomes the run directory: its run store, sample grids and checkpoint.pt."
        ),
        epilog="example: gandiag train configs/wgan_gp_ring8.toml --out runs/wgan_gp",
    )
    p.add_argument("config", help="path to a TOML training config")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory to create")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in DIR from its checkpoint (same store, same step)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="override the config's total number of steps (e.g. to extend a run)",
    )
    p.add_argument("--device", default=None, help="override the device (auto, cpu, cuda, mps)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from gandiag.train import load_config, train

    cfg = load_config(args.config)
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    if args.device is not None:
        cfg = dataclasses.replace(cfg, device=args.device)
    run_dir = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    from gandiag.cli.summary import summary_lines

    for line in summary_lines([run_dir]):
        print(line)
    print(f"run written to {run_dir}; view it with `gandiag dashboard {run_dir}`")
    return 0

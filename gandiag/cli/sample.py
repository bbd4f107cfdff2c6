"""``gandiag sample``: draw samples from a trained run's checkpoint into a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = """Draw N samples from the generator (GANs, with its EMA weights when the run kept
them) or the decoder (VAEs, from the prior) saved in RUN/checkpoint.pt, and write them to
OUT as numbered PNG files (images; --grid PATH also writes a grid of the first 64), or
points.npy (2-D data). The folder can go straight to `gandiag evaluate --fake OUT`.

example:
  gandiag sample runs/dcgan --n 2000 --out samples/dcgan
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sample",
        help="draw samples from a trained run into a folder",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", type=Path, help="run directory written by `gandiag train`")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--grid", type=Path, default=None, help="also write a PNG grid of 64 here")
    p.add_argument("--batch-size", type=int, default=500, help="samples per forward pass")
    p.set_defaults(func=run)


def load_sampler(run_dir: Path, device: str = "cpu") -> Any:
    """The run's model bundle with its trained weights (EMA generator when saved), in eval mode."""
    import torch

    from gandiag.reference_models import build_model
    from gandiag.train.checkpoint import checkpoint_path

    path = checkpoint_path(run_dir)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: only runs trained with `gandiag train` (which save a "
            "checkpoint) can be sampled; for your own loop, call your generator directly"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = ckpt["model"]
    bundle = build_model(model["name"], **model["options"])
    state = ckpt["stepper"]
    if bundle.kind == "gan":
        weights = state["ema"]["module"] if "ema" in state else state["G"]
        bundle.generator.load_state_dict(weights)
    else:
        bundle.model.load_state_dict(state["model"])
    bundle.to(device)
    for net in bundle.networks().values():
        net.eval().requires_grad_(False)
    return bundle


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from gandiag.images import grid_png, to_uint8

    if args.n < 1 or args.batch_size < 1:
        raise ValueError("--n and --batch-size must be at least 1")
    bundle = load_sampler(args.run, args.device)
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    chunks = []
    with torch.no_grad():
        for start in range(0, args.n, args.batch_size):
            n = min(args.batch_size, args.n - start)
            z, y = bundle.sample_latent(n, generator=gen, device=args.device)
            chunks.append(bundle.generate(z, y).float().cpu())
    x = torch.cat(chunks).numpy()
    args.out.mkdir(parents=True, exist_ok=True)
    if x.ndim == 2:  # 2-D points
        np.save(args.out / "points.npy", x)
        print(f"wrote {len(x)} points to {args.out / 'points.npy'}")
        return 0
    images = to_uint8(x)  # [-1, 1] -> 0..255, NCHW
    width = len(str(len(images) - 1))
    for i, img in enumerate(images):
        arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        Image.fromarray(arr).save(args.out / f"{i:0{width}d}.png")
    if args.grid is not None:
        args.grid.write_bytes(grid_png(x[:64]))
    print(f"wrote {len(images)} samples to {args.out}")
    return 0

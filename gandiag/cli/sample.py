"""``gandiag sample``: draw samples from a trained run's checkpoint into a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = """Draw N samples from the generator (GANs, with its EMA weights when the run kept
them) or the decoder (VAEs, from the prior) saved in RUN/checkpoint.pt, and write them to
OUT as numbered PNG files (images; --grid PATH also writes a grid of the first 64), or
points.npy (2-D data). The folder can go straight to `gandiag evaluate --fake OUT`.

Image-to-image runs (CycleGAN, pix2pix, SRGAN) translate the first N inputs of the run's
held-out set (the run's data and seed, as its training loop held them out) with
--generator (default: the first, e.g. G_AB); --grid writes input -> output -> target (or
reconstruction) triplets. Video runs write each clip as a frame strip (one PNG per clip,
frames left to right) and all clips to clips.npy [N, T, C, H, W] in [-1, 1].

examples:
  gandiag sample runs/dcgan --n 2000 --out samples/dcgan
  gandiag sample runs/cyclegan --generator G_BA --n 200 --out samples/cyclegan_ba
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
    p.add_argument(
        "--generator",
        default=None,
        help="image-to-image runs: the generator that translates (default: the first)",
    )
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
    if bundle.kind == "translation":  # several networks by name
        for name, net in bundle.networks().items():
            net.load_state_dict(state["nets"][name])
    elif bundle.kind == "gan":
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

    from gandiag.images import grid_png

    if args.n < 1 or args.batch_size < 1:
        raise ValueError("--n and --batch-size must be at least 1")
    bundle = load_sampler(args.run, args.device)
    if bundle.kind == "translation":
        return _translate(args, bundle)
    if args.generator is not None:
        raise ValueError("--generator applies to image-to-image runs only")
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    chunks = []
    with torch.no_grad():
        for start in range(0, args.n, args.batch_size):
            n = min(args.batch_size, args.n - start)
            z, y = bundle.sample_latent(n, generator=gen, device=args.device)
            chunks.append(bundle.generate(z, y).float().cpu())
    x = torch.cat(chunks).numpy()
    args.out.mkdir(parents=True, exist_ok=True)
    if x.ndim == 5:  # clips [N, T, C, H, W]: a frame strip per clip, and the array
        np.save(args.out / "clips.npy", x)
        n, t = x.shape[:2]
        strips = x.transpose(0, 2, 3, 1, 4).reshape(n, x.shape[2], x.shape[3], t * x.shape[4])
        _write_pngs(args.out, strips)
        if args.grid is not None:  # the first 16 clips, one row each
            args.grid.write_bytes(grid_png(x[:16].reshape(-1, *x.shape[2:]), nrow=t))
        print(f"wrote {n} clips of {t} frames to {args.out} (frame strips and clips.npy)")
        return 0
    if x.ndim == 2:  # 2-D points
        np.save(args.out / "points.npy", x)
        print(f"wrote {len(x)} points to {args.out / 'points.npy'}")
        return 0
    _write_pngs(args.out, x)
    if args.grid is not None:
        args.grid.write_bytes(grid_png(x[:64]))
    print(f"wrote {len(x)} samples to {args.out}")
    return 0


def _write_pngs(out: Path, x: Any) -> None:
    """Images ``[N, C, H, W]`` in [-1, 1] as ``out/000.png``, ``out/001.png``, ..."""
    from PIL import Image

    from gandiag.images import to_uint8

    images = to_uint8(x)  # [-1, 1] -> 0..255, NCHW
    width = len(str(len(images) - 1))
    for i, img in enumerate(images):
        arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        Image.fromarray(arr).save(out / f"{i:0{width}d}.png")


def _translate(args: argparse.Namespace, bundle: Any) -> int:
    """An image-to-image run: its held-out inputs, translated (see HELP)."""
    import torch

    from gandiag.data import load_dataset
    from gandiag.train.config import stored_config
    from gandiag.train.translation import held_out
    from gandiag.train.translation_eval import triplet_grid

    name = args.generator or next(iter(bundle.generators))
    if name not in bundle.generators:
        raise ValueError(
            f"--generator {name!r}: this run's generators are {', '.join(bundle.generators)}"
        )
    cfg = stored_config(args.run)
    held = held_out(cfg, load_dataset(cfg.data.name, **cfg.data.options), torch.device(args.device))
    # the inverse generator translates the other domain's held-out images
    inputs = held.x if name == next(iter(bundle.generators)) else held.y
    if args.n > len(inputs):
        print(f"the run holds out {len(inputs)} inputs: translating all of them, not {args.n}")
    x = inputs[: args.n]
    net = bundle.generators[name]
    with torch.no_grad():
        out = torch.cat([net(c).float().cpu() for c in x.split(args.batch_size)]).numpy()
    args.out.mkdir(parents=True, exist_ok=True)
    _write_pngs(args.out, out)
    if args.grid is not None:
        args.grid.write_bytes(triplet_grid(bundle, held))
    print(
        f"wrote {len(out)} outputs of {name} on the run's held-out inputs "
        f"({cfg.data.name}, seed {cfg.seed}) to {args.out}"
    )
    return 0

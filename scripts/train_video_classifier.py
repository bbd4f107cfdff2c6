"""Train the bundled video classifier and write ``gandiag/assets/video_classifier.pt``.

The network (``gandiag.features.video.VideoClassifier``) learns each moving-glyph clip's
glyph class and initial direction of motion (two cross-entropy terms, summed); its
penultimate features are the space of the FVD-lite Fréchet distance. Deterministic and
seeded like ``scripts/train_glyph_classifier.py``: training and held-out clips are
``make_moving_glyphs`` with fixed seeds, initialisation and batch order come from seeded
generators, torch runs with a fixed thread count and deterministic algorithms. The SHA-256
it prints goes into ``gandiag/features/video.py`` (``VIDEO_CLASSIFIER_SHA256``).

    python scripts/train_video_classifier.py [--out PATH] [--epochs 3] [--n-train 8000]

Takes several minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gandiag.data.moving_glyphs import make_moving_glyphs
from gandiag.features.glyph import sha256_file
from gandiag.features.video import WEIGHTS_PATH, VideoClassifier

TRAIN_SEED = 3003
HELDOUT_SEED = 4004


def to_input(clips: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(clips, dtype=np.float32)) / 127.5 - 1.0


def accuracy(model: VideoClassifier, x: torch.Tensor, y: torch.Tensor, d: torch.Tensor):
    with torch.no_grad():
        out = [model(xb) for xb in x.split(500)]
    cls = torch.cat([o[0].argmax(1) for o in out])
    dirs = torch.cat([o[1].argmax(1) for o in out])
    return float((cls == y).float().mean()), float((dirs == d).float().mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n-train", type=int, default=8000)
    p.add_argument("--n-heldout", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)

    t0 = time.perf_counter()
    xtr, ytr, dtr = make_moving_glyphs(args.n_train, seed=TRAIN_SEED)
    xte, yte, dte = make_moving_glyphs(args.n_heldout, seed=HELDOUT_SEED)
    xtr, xte = to_input(xtr), to_input(xte)
    ytr, yte, dtr, dte = (torch.from_numpy(np.array(a)) for a in (ytr, yte, dtr, dte))
    print(f"data: {len(xtr)} train, {len(xte)} held out ({time.perf_counter() - t0:.1f}s)")

    model = VideoClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(xtr) + args.batch_size - 1) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for idx in perm.split(args.batch_size):
            # light pixel noise: generated clips are noisier than the procedural ones
            xb = xtr[idx] + 0.05 * torch.randn(xtr[idx].shape, generator=gen)
            cls, dirs = model(xb.clamp(-1, 1))
            loss = F.cross_entropy(cls, ytr[idx]) + F.cross_entropy(dirs, dtr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        acc_c, acc_d = accuracy(model, xte, yte, dte)
        print(
            f"epoch {epoch + 1}/{args.epochs}: train loss {total / len(xtr):.4f}, held-out "
            f"class accuracy {acc_c:.4f}, direction accuracy {acc_d:.4f} "
            f"({time.perf_counter() - t0:.0f}s)"
        )

    acc_c, acc_d = accuracy(model, xte, yte, dte)
    buf = io.BytesIO()
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, buf)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buf.getvalue())
    print(
        f"held-out class accuracy {acc_c:.4f}, direction accuracy {acc_d:.4f}; wrote "
        f"{args.out} ({args.out.stat().st_size} bytes)"
    )
    print(f"SHA-256 {sha256_file(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

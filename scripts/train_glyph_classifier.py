"""Train the bundled glyph classifier and write ``gandiag/assets/glyph_classifier.pt``.

Deterministic and seeded: the training and held-out sets are ``make_glyphs`` with fixed
seeds, the initialisation and the batch order come from one seeded ``torch.Generator``,
and torch runs with a fixed number of threads and deterministic algorithms. The same
script on the same torch version and thread count reproduces the same file; the SHA-256
it prints goes into ``gandiag/features/glyph.py`` (``GLYPH_CLASSIFIER_SHA256``).

    python scripts/train_glyph_classifier.py [--out PATH] [--epochs 4] [--n-train 20000]

Takes a few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gandiag.data.glyphs import make_glyphs
from gandiag.features.glyph import WEIGHTS_PATH, GlyphClassifier, sha256_file

TRAIN_SEED = 1001
HELDOUT_SEED = 2002


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float ``[N, 1, 28, 28]`` in [-1, 1] (the classifier's input)."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1) / 127.5 - 1.0


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[N, 1, H, W]`` with reflect padding."""
    r = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Generic photometric and geometric jitter of a batch in [-1, 1].

    Each image independently gets, with probability 1/2 each: a shift of up to 2 pixels,
    a contrast change (x0.6-1), a Gaussian blur (sigma 0.3-1.2 px) and additive Gaussian
    pixel noise (sigma up to 0.2 of the [0, 1] range). Samples from a generator are
    noisier, blurrier and less centred than the glyphs; a feature space trained without
    this puts any such sample outside every real k-NN ball, so precision collapses to ~0
    for images a person reads as good (see ``tests/features/test_glyph_ladder.py``).
    """
    n = x.shape[0]

    def pick(p: float) -> torch.Tensor:
        return torch.rand(n, generator=gen) < p

    x = x.clone()
    for i in torch.nonzero(pick(0.5)).flatten().tolist():
        dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
        x[i] = torch.roll(x[i], shifts=(dy, dx), dims=(1, 2))
    c = pick(0.5)
    scale = 0.6 + 0.4 * torch.rand(n, generator=gen)
    x[c] = (x[c] + 1) * scale[c].view(-1, 1, 1, 1) - 1
    b = torch.nonzero(pick(0.5)).flatten()
    if len(b):
        sig = 0.3 + 0.9 * torch.rand(len(b), generator=gen)
        for j, i in enumerate(b.tolist()):
            x[i : i + 1] = gaussian_blur(x[i : i + 1], float(sig[j]))
    s = pick(0.5).float() * 0.4 * torch.rand(n, generator=gen)  # sigma 0.2 in [0, 1] units
    x = x + s.view(-1, 1, 1, 1) * torch.randn(x.shape, generator=gen)
    return x.clamp(-1, 1)


def accuracy(model: GlyphClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        pred = torch.cat([model.logits(xb).argmax(1) for xb in x.split(1000)])
    return float((pred == y).float().mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--n-heldout", type=int, default=5000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)  # nn.Module init draws from the global generator

    t0 = time.perf_counter()
    xtr, ytr = make_glyphs(args.n_train, seed=TRAIN_SEED)
    xte, yte = make_glyphs(args.n_heldout, seed=HELDOUT_SEED)
    xtr, xte = to_input(xtr), to_input(xte)
    ytr, yte = torch.from_numpy(np.array(ytr)), torch.from_numpy(np.array(yte))
    print(f"data: {len(xtr)} train, {len(xte)} held out ({time.perf_counter() - t0:.1f}s)")

    model = GlyphClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(xtr) + args.batch_size - 1) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for idx in perm.split(args.batch_size):
            xb = augment(xtr[idx], gen)
            loss = F.cross_entropy(model.logits(xb), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        print(
            f"epoch {epoch + 1}/{args.epochs}: train loss {total / len(xtr):.4f}, "
            f"held-out accuracy {accuracy(model, xte, yte):.4f} ({time.perf_counter() - t0:.0f}s)"
        )

    acc = accuracy(model, xte, yte)
    buf = io.BytesIO()
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, buf)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buf.getvalue())
    print(f"held-out accuracy {acc:.4f}; wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f"SHA-256 {sha256_file(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

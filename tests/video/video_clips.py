"""Clip streams for the video tests: real moving glyphs against transformed ones.

Each transform produces one video failure from real clips, so the monitor's video signals
and the detectors are tested on clips, not on hand-written signal values.
"""

from __future__ import annotations

import numpy as np
import torch

from gandiag.data.moving_glyphs import make_moving_glyphs
from gandiag.features.glyph import load_glyph_classifier
from gandiag.monitor.video import clip_stats
from gandiag.types import StepRecord


def clips(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y, _ = make_moving_glyphs(n, seed=seed)
    return torch.from_numpy(np.array(x)).float() / 127.5 - 1.0, torch.from_numpy(np.array(y))


def frozen(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return x[:, :1].expand_as(x).clone()


def looping(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Period-2 loop: frames 0, 1, 0, 1, ... (moves as much as a real clip, then repeats)."""
    idx = torch.arange(x.shape[1]) % 2
    return x[:, idx]


def shuffled(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return x[:, torch.from_numpy(rng.permutation(x.shape[1]))]


def chunked(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A clip's first four frames played twice (DVD-GAN-lite's ``state_reset=4``)."""
    idx = torch.arange(x.shape[1]) % 4
    return x[:, idx]


def redrawn(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each clip's frames in an order of its own: the same glyph, about as much change per
    frame as real motion (1.4x), but no frame follows from the one before."""
    order = torch.from_numpy(np.stack([rng.permutation(x.shape[1]) for _ in range(len(x))]))
    return x[torch.arange(len(x))[:, None], order]


def flicker(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Every frame from another clip: the glyph jumps and changes identity."""
    out = x.clone()
    for t in range(x.shape[1]):
        out[:, t] = x[torch.from_numpy(rng.permutation(len(x))), t]
    return out


def identity(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return x


def one_class(x: torch.Tensor, rng: np.random.Generator, y: torch.Tensor) -> torch.Tensor:
    """Mode collapse onto one class: every clip replaced by a clip of the first clip's class
    (other clips of it, so they still move and differ from each other)."""
    pool = torch.nonzero(y == y[0]).flatten().numpy()
    return x[torch.from_numpy(rng.choice(pool, len(x)))]


TRANSFORMS = {
    "healthy": identity,
    "frozen": frozen,
    "looping": looping,
    "flicker": flicker,
    "shuffled": shuffled,
    "chunked": chunked,
    "redrawn": redrawn,
}


def video_stream(
    kind: str, steps: int = 260, every: int = 10, batch: int = 16, seed: int = 0
) -> list[StepRecord]:
    """Records of the monitor's video signals: reals against ``TRANSFORMS[kind]`` of other
    real clips (from a disjoint pool), one record every ``every`` steps."""
    real_pool, _ = clips(256, seed=100 + seed)
    fake_pool, fake_y = clips(256, seed=200 + seed)
    clf = load_glyph_classifier()
    rng = np.random.default_rng(seed)
    out = []
    for step in range(0, steps, every):
        i = torch.from_numpy(rng.choice(len(real_pool), batch, replace=False))
        j = torch.from_numpy(rng.choice(len(fake_pool), batch, replace=False))
        if kind == "one_class":  # drawn from the whole pool's clips of class fake_y[0]
            fake = one_class(fake_pool, rng, fake_y)[:batch]
        else:
            fake = TRANSFORMS[kind](fake_pool[j], rng)
        with torch.no_grad():
            sums, finalise = clip_stats(real_pool[i], fake, fake_y[j], clf)
        out.append(StepRecord(step, dict(finalise(sums.numpy(), 1))))
    return out

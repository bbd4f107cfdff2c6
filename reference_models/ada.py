"""Adaptive discriminator augmentation (Karras et al. 2020), usable in any training loop.

The heuristic of NVlabs/stylegan2-ada-pytorch (training/training_loop.py): every
``interval`` steps, ``r_t = E[sign(D(x_real))]`` over those steps is compared with
``target`` (0.6) and the augmentation probability ``p`` moves by
``sign(r_t - target) * batch * interval / (speed_kimg * 1000)``; ``p`` is clamped at 0
from below only, as in the reference, so an over-fitting discriminator can push it past
1 (the runaway users report, NVlabs/stylegan2-ada#27). Augmentations are applied with
probability ``min(p, 1)`` per image and transform, and every transform here is
differentiable, so the same pipeline runs on reals and on fakes in G's pass.

The pipeline is the reference's "bgc" subset that makes sense for glyphs: horizontal
flip, 90-degree rotations, integer translation (1/8 of the size, zero padded),
brightness and contrast.

>>> ada = AdaptiveAugment(batch_size=64)                               # doctest: +SKIP
>>> d_real = D(ada(x_real)); d_fake = D(ada(fake))                       # doctest: +SKIP
>>> ada.accumulate(d_real); ada.update()                                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class AdaptiveAugment:
    def __init__(
        self,
        batch_size: int,
        *,
        target: float = 0.6,
        interval: int = 4,
        speed_kimg: float = 500.0,
        p: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        if not 0.0 < target < 1.0:
            raise ValueError(f"ADA target must be in (0, 1), got {target}; the paper uses 0.6")
        if interval < 1 or speed_kimg <= 0:
            raise ValueError("ADA interval must be >= 1 and speed_kimg > 0")
        self.batch_size, self.target, self.interval = batch_size, target, interval
        self.speed_kimg, self.p = speed_kimg, float(p)
        self.generator = generator
        self._sign_sum, self._count, self._calls = 0.0, 0, 0
        self.last_rt: float | None = None

    def _mask(self, n: int, device: torch.device) -> Tensor:
        prob = min(self.p, 1.0)
        return (torch.rand(n, device=device, generator=self._gen(device)) < prob).float()

    def _gen(self, device: torch.device) -> torch.Generator | None:
        g = self.generator
        return g if g is not None and g.device.type == device.type else None

    def __call__(self, x: Tensor) -> Tensor:
        if self.p <= 0.0:
            return x
        n, dev = x.shape[0], x.device
        gen = self._gen(dev)
        shape = (n, 1, 1, 1)
        m = self._mask(n, dev).view(shape)
        x = torch.lerp(x, x.flip(-1), m)  # horizontal flip
        m = self._mask(n, dev)
        k = torch.randint(0, 4, (n,), device=dev, generator=gen) * m.long()
        x = torch.stack([torch.rot90(xi, int(ki), dims=(-2, -1)) for xi, ki in zip(x, k)])
        m = self._mask(n, dev)
        shift = max(1, x.shape[-1] // 8)
        t = torch.randint(-shift, shift + 1, (n, 2), device=dev, generator=gen) * m[:, None].long()
        x = torch.stack([_translate(xi, int(a), int(b)) for xi, (a, b) in zip(x, t.tolist())])
        m = self._mask(n, dev).view(shape)
        b = torch.randn(shape, device=dev, generator=gen) * 0.2
        x = x + b * m
        m = self._mask(n, dev).view(shape)
        c = torch.exp2(torch.randn(shape, device=dev, generator=gen) * 0.5)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return torch.lerp(x, (x - mean) * c + mean, m)

    def accumulate(self, d_real: Tensor) -> None:
        """Add a batch of raw D outputs on (augmented) reals to the r_t estimate."""
        d = d_real.detach().float()
        self._sign_sum += float(torch.sign(d).sum())
        self._count += d.numel()

    def update(self) -> float | None:
        """Call once per step; every ``interval`` calls, move ``p`` and return that ``r_t``."""
        self._calls += 1
        if self._calls % self.interval or not self._count:
            return None
        rt = self._sign_sum / self._count
        adjust = (1.0 if rt > self.target else -1.0) * self.batch_size * self.interval
        self.p = max(0.0, self.p + adjust / (self.speed_kimg * 1000.0))
        self._sign_sum, self._count, self.last_rt = 0.0, 0, rt
        return rt

    def state_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "sign_sum": self._sign_sum,
            "count": self._count,
            "calls": self._calls,
            "last_rt": self.last_rt,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.p, self._sign_sum = float(sd["p"]), float(sd["sign_sum"])
        self._count, self._calls, self.last_rt = int(sd["count"]), int(sd["calls"]), sd["last_rt"]


def _translate(x: Tensor, dy: int, dx: int) -> Tensor:
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    pad = torch.nn.functional.pad(x, (abs(dx), abs(dx), abs(dy), abs(dy)))
    y0, x0 = abs(dy) - dy, abs(dx) - dx
    return pad[..., y0 : y0 + h, x0 : x0 + w]

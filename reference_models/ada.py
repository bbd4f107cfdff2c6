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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gandiag.state import DeclaredState, dump_state, load_state


@dataclass
class AdaState(DeclaredState):
    """What the controller carries from step to step, and across a resume."""

    p: float = 0.0  # augmentation probability (not clamped at 1, as in the reference)
    sign_sum: float = 0.0  # sum of sign(D(real)) since the last adjustment
    count: int = 0  # D outputs in that sum
    calls: int = 0  # update() calls
    last_rt: float | None = None  # r_t at the last adjustment


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
        self.speed_kimg = speed_kimg
        self.generator = generator
        self.state = AdaState(p=float(p))

    @property
    def p(self) -> float:
        """The augmentation probability (each transform applies with ``min(p, 1)``)."""
        return self.state.p

    @property
    def last_rt(self) -> float | None:
        """``r_t`` at the last adjustment (None before the first)."""
        return self.state.last_rt

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
        self.state.sign_sum += float(torch.sign(d).sum())
        self.state.count += d.numel()

    def update(self) -> float | None:
        """Call once per step; every ``interval`` calls, move ``p`` and return that ``r_t``."""
        st = self.state
        st.calls += 1
        if st.calls % self.interval or not st.count:
            return None
        rt = st.sign_sum / st.count
        adjust = (1.0 if rt > self.target else -1.0) * self.batch_size * self.interval
        st.p = max(0.0, st.p + adjust / (self.speed_kimg * 1000.0))
        st.sign_sum, st.count, st.last_rt = 0.0, 0, rt
        return rt

    def state_dict(self) -> dict[str, Any]:
        return {"version": AdaState.version, "state": dump_state("ADA", self.state)}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore a ``state_dict``; also reads the flat dict of fields saved before
        the state was declared."""
        if "state" in sd:
            self.state = load_state("ADA", AdaState, sd["state"], sd.get("version"))
        else:
            self.state = load_state("ADA", AdaState, sd, None)


def _translate(x: Tensor, dy: int, dx: int) -> Tensor:
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    pad = torch.nn.functional.pad(x, (abs(dx), abs(dx), abs(dy), abs(dy)))
    y0, x0 = abs(dy) - dy, abs(dx) - dx
    return pad[..., y0 : y0 + h, x0 : x0 + w]

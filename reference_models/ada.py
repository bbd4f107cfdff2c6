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
brightness and contrast. As in the reference's ``AugmentPipe``, a transform that fires
draws its parameter at random, the identity included: a flip that fires flips on a coin
toss and a rotation that fires turns by 0-3 quarter turns, so at ``p >= 1`` the reals'
orientation is uniform and no longer tells D which way is up: the leak regime the
ADA paper warns of (its section 2.2), not a deterministic (invertible) flip of every
image.

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
        self._pending: Tensor | None = None  # sign sum not yet read to the host

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
        """Augment a batch ``[N, C, H, W]`` (square images: the 90-degree rotations keep the
        shape). Every transform is batched: no per-image loop and no read of the random
        draws on the host, so the pipeline does not stall an accelerator's queue."""
        if self.p <= 0.0:
            return x
        n, dev = x.shape[0], x.device
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(
                f"ADA's 90-degree rotations need square images, got {tuple(x.shape[-2:])}; "
                "crop or pad the batch to square before augmenting, or train without ADA"
            )
        gen = self._gen(dev)
        shape = (n, 1, 1, 1)
        # horizontal flip: with probability p, a fair coin decides (the reference's
        # ``floor(rand * 2)``), so even at p >= 1 half the images keep their orientation
        m = self._mask(n, dev) * torch.randint(0, 2, (n,), device=dev, generator=gen)
        x = torch.lerp(x, x.flip(-1), m.view(shape))
        m = self._mask(n, dev)
        k = torch.randint(0, 4, (n,), device=dev, generator=gen) * m.long()
        x = _rotate90(x, k)
        m = self._mask(n, dev)
        shift = max(1, x.shape[-1] // 8)
        t = torch.randint(-shift, shift + 1, (n, 2), device=dev, generator=gen) * m[:, None].long()
        x = _translate(x, t, shift)
        m = self._mask(n, dev).view(shape)
        b = torch.randn(shape, device=dev, generator=gen) * 0.2
        x = x + b * m
        m = self._mask(n, dev).view(shape)
        c = torch.exp2(torch.randn(shape, device=dev, generator=gen) * 0.5)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return torch.lerp(x, (x - mean) * c + mean, m)

    def accumulate(self, d_real: Tensor) -> None:
        """Add a batch of raw D outputs on (augmented) reals to the r_t estimate. The sum
        stays on D's device until :meth:`update` adjusts ``p`` (one read per ``interval``
        steps, as in the reference's training loop)."""
        d = d_real.detach().float()
        total = torch.sign(d).sum()
        self._pending = total if self._pending is None else self._pending + total
        self.state.count += d.numel()

    def _fold(self) -> None:
        """Move the device-side sign sum into the declared state (a host read)."""
        if self._pending is not None:
            self.state.sign_sum += float(self._pending)
            self._pending = None

    def update(self) -> float | None:
        """Call once per step; every ``interval`` calls, move ``p`` and return that ``r_t``."""
        st = self.state
        st.calls += 1
        if st.calls % self.interval or not st.count:
            return None
        self._fold()
        rt = st.sign_sum / st.count
        adjust = (1.0 if rt > self.target else -1.0) * self.batch_size * self.interval
        st.p = max(0.0, st.p + adjust / (self.speed_kimg * 1000.0))
        st.sign_sum, st.count, st.last_rt = 0.0, 0, rt
        return rt

    def state_dict(self) -> dict[str, Any]:
        self._fold()
        return {"version": AdaState.version, "state": dump_state("ADA", self.state)}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore a ``state_dict``; also reads the flat dict of fields saved before
        the state was declared."""
        if "state" in sd:
            self.state = load_state("ADA", AdaState, sd["state"], sd.get("version"))
        else:
            self.state = load_state("ADA", AdaState, sd, None)
        self._pending = None


def _rotate90(x: Tensor, k: Tensor) -> Tensor:
    """Rotate image i of a square batch by ``k[i]`` quarter turns (as ``torch.rot90`` with
    ``dims=(-2, -1)``), all at once: the four rotations are stacked and each image picks its
    own, so the gradient reaches only the chosen one."""
    turns = torch.stack([torch.rot90(x, q, dims=(-2, -1)) for q in range(4)])
    return turns[k, torch.arange(x.shape[0], device=x.device)]


def _translate(x: Tensor, t: Tensor, shift: int) -> Tensor:
    """Shift image i by ``t[i] = (dy, dx)`` pixels (|dy|, |dx| <= ``shift``), zero filled:
    ``out[i, :, r, c] = x[i, :, r - dy, c - dx]``. One padded copy and one gather for the
    whole batch."""
    n, _, h, w = x.shape
    pad = torch.nn.functional.pad(x, (shift, shift, shift, shift))
    rows = torch.arange(h, device=x.device) + (shift - t[:, :1])  # [n, h]
    cols = torch.arange(w, device=x.device) + (shift - t[:, 1:])  # [n, w]
    idx = torch.arange(n, device=x.device)[:, None, None, None]
    ch = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return pad[idx, ch, rows[:, None, :, None], cols[:, None, None, :]]

"""Perceptual path length (Karras et al. 2019, section 4.1) with glyph features, not LPIPS.

``PPL = E[ d(G(i(l1, l2; t)), G(i(l1, l2; t + eps))) / eps^2 ]`` over random latent pairs
and ``t ~ U(0, 1)`` (the "full" path sampling of NVlabs/stylegan
``metrics/perceptual_path_length.py``), with ``eps = 1e-4``, ``i`` spherical interpolation
(slerp) in Z (of the directions, with the norm interpolated linearly; see :func:`slerp`) or
linear interpolation (lerp) in W, and the values below the 1st and above
the 99th percentile discarded before the mean, as the reference does.

**The distance is not LPIPS**: LPIPS needs VGG/AlexNet weights downloaded. Here ``d`` is
the squared Euclidean distance between unit-normalised feature vectors of a feature
function (by default gandiag's bundled glyph classifier's 128-d features), the same form
as LPIPS' normalised-feature distance on one layer. Values are comparable between models
on glyphs with the same features, not with published PPL numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

SPACES = ("z", "w")


def slerp(a: Tensor, b: Tensor, t: Tensor, *, keep_norm: bool = True) -> Tensor:
    """Spherical interpolation of the directions of ``a`` and ``b``.

    The reference returns unit vectors, which StyleGAN's mapping network (it normalises z
    first) does not notice; a generator fed ``N(0, I)`` latents directly would see latents
    far off its prior, so by default the norm is interpolated linearly between ``|a|`` and
    ``|b|`` (``keep_norm=False``: unit vectors, as the reference).
    """
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na, b / nb
    d = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    p = t * torch.acos(d)
    c = ub - d * ua
    c = c / c.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    out = ua * torch.cos(p) + c * torch.sin(p)
    out = out / out.norm(dim=-1, keepdim=True)
    return out * (na + (nb - na) * t) if keep_norm else out


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    return a + (b - a) * t


def feature_distance(features: Callable[[Tensor], Tensor], x0: Tensor, x1: Tensor) -> Tensor:
    """Squared L2 distance of unit-normalised features, per pair."""
    f0, f1 = features(x0).flatten(1).double(), features(x1).flatten(1).double()
    f0 = f0 / f0.norm(dim=1, keepdim=True).clamp_min(1e-12)
    f1 = f1 / f1.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (f0 - f1).pow(2).sum(dim=1)


@torch.no_grad()
def perceptual_path_length(
    generate: Callable[[Tensor], Tensor],
    latent_dim: int,
    *,
    features: Callable[[Tensor], Tensor] | None = None,
    num_samples: int = 1000,
    epsilon: float = 1e-4,
    space: str = "z",
    mapping: Callable[[Tensor], Tensor] | None = None,
    batch_size: int = 100,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """PPL of ``generate`` (latent -> images) over ``num_samples`` latent pairs.

    ``space="z"``: latents ``z ~ N(0, I)``, slerp between them, ``generate(z)``.
    ``space="w"``: ``w = mapping(z)``, lerp in W, ``generate(w)`` (the synthesis network).
    ``features``: images -> feature vectors; default: the bundled glyph classifier's.
    Latents come from a generator seeded with ``seed``, never the global RNG.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if space == "w" and mapping is None:
        raise ValueError("space='w' needs mapping= (z -> w); for a generator of z use space='z'")
    if epsilon <= 0 or num_samples < 1:
        raise ValueError("epsilon must be > 0 and num_samples >= 1")
    if features is None:
        from gandiag.features import get_extractor

        ext = get_extractor("glyph", device=device)
        features = ext
    gen = torch.Generator().manual_seed(seed)
    dists = []
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        z = torch.randn(2 * n, latent_dim, generator=gen, dtype=torch.float64)
        t = torch.rand(n, 1, generator=gen, dtype=torch.float64)
        z = z.to(device) if device is not None else z
        t = t.to(z.device)
        if space == "z":
            a, b = z[:n], z[n:]
            e0, e1 = slerp(a, b, t), slerp(a, b, t + epsilon)
        else:
            w = mapping(z.float()).double()  # type: ignore[misc]
            a, b = w[:n], w[n:]
            e0, e1 = lerp(a, b, t), lerp(a, b, t + epsilon)
        x0, x1 = generate(e0.float()), generate(e1.float())
        dists.append(feature_distance(features, x0, x1).cpu() / epsilon**2)
    d = torch.cat(dists).numpy()
    lo, hi = np.percentile(d, 1, method="lower"), np.percentile(d, 99, method="higher")
    kept = d[(d >= lo) & (d <= hi)]
    return float(kept.mean())

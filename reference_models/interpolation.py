"""Latent interpolation grids: each row walks from one latent to another.

GANs walk between prior draws along the great circle (slerp; White 2016), which keeps
Gaussian latents at a typical norm; autoencoders walk linearly between the encodings
of two real items, which shows whether the latent space is smooth between data.
"""

from __future__ import annotations

import torch
from torch import Tensor


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``z0`` and ``z1`` at fractions ``t`` ``[T]``.

    Returns ``[B, T, D]``; falls back to linear interpolation for (anti)parallel pairs.
    """
    a, b = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    omega = torch.acos((a * b).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]
    t = t[None, :, None]
    so = torch.sin(omega)
    w0 = torch.where(so.abs() < 1e-6, 1 - t, torch.sin((1 - t) * omega) / so)
    w1 = torch.where(so.abs() < 1e-6, t, torch.sin(t * omega) / so)
    return w0 * z0[:, None, :] + w1 * z1[:, None, :]


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation, ``[B, T, D]``."""
    t = t[None, :, None]
    return (1 - t) * z0[:, None, :] + t * z1[:, None, :]


@torch.no_grad()
def interpolation_grid(
    decode,
    z0: Tensor,
    z1: Tensor,
    steps: int = 8,
    spherical: bool = True,
) -> Tensor:
    """Images ``[rows * steps, ...]``: row ``i`` decodes ``steps`` latents from ``z0[i]`` to ``z1[i]``.

    ``decode`` maps ``[N, D]`` latents to samples (a generator, or a VAE's decoder).
    Lay the result out with ``nrow=steps``.
    """
    if z0.shape != z1.shape or z0.dim() != 2:
        raise ValueError(f"z0 {tuple(z0.shape)} and z1 {tuple(z1.shape)} must both be [rows, D]")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (both end points), got {steps}")
    t = torch.linspace(0, 1, steps, device=z0.device, dtype=z0.dtype)
    path = (slerp if spherical else lerp)(z0, z1, t)
    return decode(path.reshape(-1, z0.shape[1]))

"""Small layer helpers shared by the reference networks."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "layer", "none")


def maybe_spectral_norm(layer: nn.Module, enabled: bool) -> nn.Module:
    """``layer`` with spectral normalisation of its weight (Miyato et al. 2018) if ``enabled``."""
    if not enabled:
        return layer
    return nn.utils.parametrizations.spectral_norm(layer)


def norm_2d(kind: str, channels: int) -> nn.Module:
    """A normalisation layer for ``[B, C, H, W]`` activations.

    ``"layer"`` normalises each sample over all its channels and positions, the
    batch-independent choice WGAN-GP recommends for critics (its penalty is per sample).
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")

"""The StyleGAN family's diagnostic signals, measured on a fixed probe batch (no grad).

* ``style/w_std``: mean over w's dimensions of its std across the batch; it falls by
  orders of magnitude when the mapping network's output stops varying
  (rosinality/stylegan2-pytorch#261 reports std(w) ~ 1e-5).
* ``style/noise_share``: the share of image variance due to the noise inputs,
  ``v_noise / (v_noise + v_latent)``, where ``v_latent`` is the variance across latents
  with one noise draw shared by all, and ``v_noise`` the variance across noise draws
  with the latents fixed. Near 1: diversity comes from the noise, not from z.
* ``style/mixing_effect``: ``|G(mix(w1, w2, k)) - G(w1)| / |G(w2) - G(w1)|`` with the
  crossover ``k`` at the middle layer and shared noise; near 0: mixing has no effect
  (NVlabs/stylegan2-ada-pytorch#208).
* ``style/channel_spike``: max over channels of the mean |activation| of the 8x8
  features, over its median across channels; a few channels spiking precede droplet
  artifacts (rosinality/stylegan2-pytorch#257).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gandiag.monitor.style import style_probe, w_spread

__all__ = ["style_signals", "w_spread", "w_std"]


def w_std(w: Tensor) -> float:
    """:func:`w_spread` as a number."""
    return float(w_spread(w))


@torch.no_grad()
def style_signals(G: nn.Module, z: Tensor, noise_draws: int = 4) -> dict[str, float]:
    """:func:`gandiag.monitor.style.style_probe` on StyleGAN-lite, plus the channel spike
    of its 8x8 features, recorded during the shared-noise pass on ``z``."""
    syn = G.synthesis
    was = G.training
    G.eval()
    n = z.shape[0]
    shared: list[Tensor] = []
    chans: list[Tensor | None] = []

    def synthesis(ws: Tensor, random: bool) -> Tensor:
        if random:
            return syn(ws, [torch.randn(s, device=z.device) for s in syn.noise_shapes(n)])
        if not shared:  # one noise draw for every sample and every shared-noise pass
            shared.extend(
                torch.randn(s, device=z.device).expand(n, -1, -1, -1) for s in syn.noise_shapes(1)
            )
            syn.record_channels = True
            try:
                return syn(ws, shared)
            finally:
                syn.record_channels = False
                chans.append(syn.last_channel_means)
        return syn(ws, shared)

    try:
        out = style_probe(lambda v: G.broadcast(G.map(v)), synthesis, z, noise_draws=noise_draws)
        c = chans[0] if chans else None
        if c is not None and c.numel() > 1:
            out["style/channel_spike"] = float(c.max() / (c.median() + 1e-12))
        return out
    finally:
        G.train(was)

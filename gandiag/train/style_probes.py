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


def w_spread(w: Tensor) -> Tensor:
    """Mean over dimensions of the std of ``w`` ``[N, w_dim]`` across the batch, as a
    tensor on ``w``'s device (no host read)."""
    return w.detach().float().std(0).mean()


def w_std(w: Tensor) -> float:
    """:func:`w_spread` as a number."""
    return float(w_spread(w))


@torch.no_grad()
def style_signals(G: nn.Module, z: Tensor, noise_draws: int = 4) -> dict[str, float]:
    syn = G.synthesis
    was = G.training
    G.eval()
    try:
        n = z.shape[0]
        w = G.map(z)
        ws = G.broadcast(w)
        shared = [
            torch.randn(s, device=z.device).expand(n, -1, -1, -1) for s in syn.noise_shapes(1)
        ]
        syn.record_channels = True
        base = syn(ws, shared)
        chans = syn.last_channel_means
        syn.record_channels = False
        v_latent = base.var(0).mean()
        draws = torch.stack(
            [
                syn(ws, [torch.randn(s, device=z.device) for s in syn.noise_shapes(n)])
                for _ in range(noise_draws)
            ]
        )
        v_noise = draws.var(0).mean()
        other = ws.roll(1, dims=0)
        mixed = syn(G.mix(ws, other, G.num_ws // 2), shared)
        target = syn(other, shared)
        denom = (target - base).abs().mean()
        out = {
            "style/w_std": w_std(w),
            "style/noise_share": float(v_noise / (v_noise + v_latent + 1e-20)),
            "style/mixing_effect": float((mixed - base).abs().mean() / (denom + 1e-12)),
        }
        if chans is not None and chans.numel() > 1:
            out["style/channel_spike"] = float(chans.max() / (chans.median() + 1e-12))
        return out
    finally:
        G.train(was)

"""The StyleGAN family's signals for any loop: W-space spread, noise share, style mixing.

:func:`style_probe` reads a generator through two callables, so it serves
NVlabs/stylegan2-ada-pytorch, rosinality/stylegan2-pytorch and gandiag's StyleGAN-lite
alike; log its result with ``mon.log_scalars(step, ...)`` every few hundred steps and a
Monitor of ``kind="stylegan"`` (or with ``w_collapse``, ``noise_dominated`` and
``mixing_no_effect`` added to its detectors) watches them::

    # NVlabs/stylegan2-ada-pytorch
    signals = style_probe(
        lambda z: G.mapping(z, None),  # ws [N, num_ws, w_dim]
        lambda ws, random: G.synthesis(ws, noise_mode="random" if random else "const"),
        z_probe,  # a fixed batch of latents
    )
    # rosinality/stylegan2-pytorch
    signals = style_probe(
        lambda z: g.get_latent(z)[:, None].expand(-1, g.n_latent, -1),
        lambda ws, random: g([ws], input_is_latent=True, randomize_noise=random)[0],
        z_probe,
    )
    mon.log_scalars(step, signals)

* ``style/w_std``: mean over w's dimensions of its std across the batch; it falls by
  orders of magnitude when the mapping network's output stops varying
  (rosinality/stylegan2-pytorch#261 reports std(w) ~ 1e-5).
* ``style/noise_share``: the share of image variance due to the noise inputs,
  ``v_noise / (v_noise + v_latent)``, where ``v_latent`` is the variance across latents
  with one noise draw shared by all, and ``v_noise`` the variance across noise draws
  with the latents fixed. Near 1: diversity comes from the noise, not from z.
* ``style/mixing_effect`` (per-layer ws only): ``|G(mix(w1, w2, k)) - G(w1)| /
  |G(w2) - G(w1)|`` with the crossover ``k`` at the middle layer and shared noise; near 0:
  mixing has no effect (NVlabs/stylegan2-ada-pytorch#208).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def w_spread(w: Tensor) -> Tensor:
    """Mean over dimensions of the std of ``w`` ``[N, w_dim]`` across the batch, as a
    tensor on ``w``'s device (no host read)."""
    return w.detach().float().std(0).mean()


@torch.no_grad()
def style_probe(
    mapping: Callable[[Tensor], Tensor],
    synthesis: Callable[[Tensor, bool], Tensor],
    z: Tensor,
    *,
    noise_draws: int = 4,
) -> dict[str, float]:
    """The style signals of a generator (module docstring) on the latents ``z``.

    ``mapping(z)``: ``ws`` ``[N, num_ws, w_dim]`` (one w per synthesis layer), or ``w``
    ``[N, w_dim]`` (then no mixing effect is measured). ``synthesis(ws, random)``: images;
    ``random=False`` must give every sample, and every such call, the same noise
    (NVlabs' ``noise_mode="const"``, rosinality's ``randomize_noise=False``), ``True``
    fresh noise per sample. Put the networks in eval mode first if they hold batch
    statistics."""
    if noise_draws < 2:
        raise ValueError(f"noise_draws must be at least 2 (a variance), got {noise_draws}")
    ws = mapping(z)
    if ws.dim() not in (2, 3) or ws.shape[0] < 2:
        raise ValueError(
            f"mapping(z) must give [N, w_dim] or [N, num_ws, w_dim], N >= 2; got {tuple(ws.shape)}"
        )
    w = ws if ws.dim() == 2 else ws[:, 0]
    base = synthesis(ws, False)
    v_latent = base.float().var(0).mean()
    draws = torch.stack([synthesis(ws, True).float() for _ in range(noise_draws)])
    v_noise = draws.var(0).mean()
    out = {
        "style/w_std": float(w_spread(w)),
        "style/noise_share": float(v_noise / (v_noise + v_latent + 1e-20)),
    }
    if ws.dim() == 3 and ws.shape[1] >= 2:
        other = ws.roll(1, dims=0)
        mixed = ws.clone()
        mixed[:, ws.shape[1] // 2 :] = other[:, ws.shape[1] // 2 :]
        mixed_out = synthesis(mixed, False).float()
        denom = (synthesis(other, False).float() - base.float()).abs().mean()
        out["style/mixing_effect"] = float(
            (mixed_out - base.float()).abs().mean() / (denom + 1e-12)
        )
    return out

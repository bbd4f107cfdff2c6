"""``style_probe``: the StyleGAN signals of any generator, through two callables."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gandiag
from gandiag.monitor import Cadence
from gandiag.monitor.style import style_probe
from gandiag.store import RunReader

NUM_WS, W_DIM = 4, 8


class ToyStyleG:
    """A generator with NVlabs' calling convention: ``mapping(z)`` gives ws
    ``[N, num_ws, w_dim]``; ``synthesis(ws, noise_mode)`` a 16-pixel image whose layer l
    reads ws[:, l], plus noise of strength ``noise`` ("const": one buffer for all)."""

    def __init__(self, noise: float, latent: float = 1.0, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.map_w = torch.randn(W_DIM, W_DIM, generator=g)
        self.layers = torch.randn(NUM_WS, W_DIM, 16, generator=g)
        self.const = torch.randn(16, generator=g)
        self.noise, self.latent = noise, latent

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.map_w)[:, None].expand(-1, NUM_WS, -1) * self.latent

    def synthesis(self, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        img = torch.einsum("nlw,lwp->np", ws, self.layers)
        if noise_mode == "const":
            return img + self.noise * self.const
        return img + self.noise * torch.randn(img.shape)


def _probe(G: ToyStyleG, z: torch.Tensor) -> dict[str, float]:
    return style_probe(
        G.mapping, lambda ws, random: G.synthesis(ws, "random" if random else "const"), z
    )


def test_the_signals_say_where_the_diversity_comes_from():
    z = torch.randn(32, W_DIM, generator=torch.Generator().manual_seed(1))
    latent_only = _probe(ToyStyleG(noise=0.0), z)
    assert latent_only["style/noise_share"] == 0.0
    assert latent_only["style/w_std"] > 1.0
    # mixing the second half of the layers moves the image part of the way to the other w
    assert 0.3 < latent_only["style/mixing_effect"] < 0.9
    # a mapping whose output stopped varying: all the diversity is the noise's
    collapsed = _probe(ToyStyleG(noise=1.0, latent=1e-6), z)
    assert collapsed["style/w_std"] < 1e-4
    assert collapsed["style/noise_share"] > 0.99
    # w [N, w_dim] without per-layer ws: no mixing is measured
    G = ToyStyleG(noise=0.5)
    only_w = style_probe(
        lambda v: G.mapping(v)[:, 0],
        lambda w, random: G.synthesis(
            w[:, None].expand(-1, NUM_WS, -1), "random" if random else "const"
        ),
        z,
    )
    assert "style/mixing_effect" not in only_w and 0 < only_w["style/noise_share"] < 1
    with pytest.raises(ValueError, match="N >= 2"):
        _probe(G, z[:1])


def test_a_users_loop_of_kind_stylegan_finds_its_mapping_collapse(tmp_path):
    # a loop of one's own: the probe's signals, logged every 10 steps, reach the
    # w_collapse detector a Monitor of kind "stylegan" runs by default
    z_probe = torch.randn(32, W_DIM, generator=torch.Generator().manual_seed(2))
    G = ToyStyleG(noise=0.2)
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=nn.Linear(2, 2),
        discriminator=nn.Linear(2, 1),
        kind="stylegan",
        cadence=Cadence(samples=0, layers=0, grid=0, coverage=0, flush=10),
    )
    alerts = []
    for step in range(300):
        G.latent = 1.0 if step < 100 else 1e-4  # the mapping stops varying at step 100
        d = torch.randn(8)
        alerts += mon.step(step, losses={"G": 1.0, "D": 1.0}, d_real=d, d_fake=d - 1)
        if step % 10 == 0:
            mon.log_scalars(step, _probe(G, z_probe))
    alerts += mon.close()
    fired = {a.detector: a for a in alerts}
    assert "w_collapse" in fired and fired["w_collapse"].onset_step >= 100
    assert "noise_dominated" in fired  # the diversity left is the noise's
    assert RunReader(tmp_path / "run").info().kind == "stylegan"

"""VAE signals: reconstruction, KL total and per dimension, active units, decoder sensitivity."""

from __future__ import annotations

import pytest
import torch
from monitor_toy import TinyVAE

import gandiag
from gandiag import signals
from gandiag.monitor import SENSITIVITY_EPS, Cadence
from gandiag.store import RunReader


def test_vae_signals_match_their_definitions(tmp_path):
    torch.manual_seed(0)
    vae = TinyVAE(dim=16, latent=4)
    with torch.no_grad():  # latent dims 2 and 3 ignore the input: posterior collapse
        vae.enc.weight[2:4].zero_()
    cad = Cadence(samples=2, grid=2, flush=2, probe_size=32)
    mon = gandiag.Monitor(tmp_path / "run", model=vae, cadence=cad, detectors=None)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    x_all = torch.randn(64, 16)
    expected = {}
    for step in range(3):
        x = x_all[step * 16 : step * 16 + 16]
        recon, mu, logvar = vae(x)
        kl_dim = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean(0).detach()
        rec = ((x - recon) ** 2).sum(1).mean()
        loss = rec + kl_dim.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(
            step,
            losses={"recon": rec, "kl": kl_dim.sum()},
            mu=mu,
            logvar=logvar,
            inputs=x,
            recon=recon,
        )
        expected[step] = (rec.item(), kl_dim)
    # decoder sensitivity of a linear decoder: E ||W delta|| / ||delta|| on the fixed probe
    g = torch.Generator().manual_seed(0)
    torch.randn(32, 4, generator=g)
    delta = SENSITIVITY_EPS * torch.randn(32, 4, generator=g)
    gain = (delta @ vae.dec.weight.detach().T).norm(dim=1) / delta.norm(dim=1)
    mon.close()
    records = {r.step: r for r in RunReader(tmp_path / "run").read_records()}
    for step, (rec, kl_dim) in expected.items():
        s = records[step].scalars
        assert s[signals.VAE_RECON] == pytest.approx(rec, rel=1e-5)
        assert s[signals.VAE_KL] == pytest.approx(float(kl_dim.sum()), rel=1e-5)
        if step % 2 == 0:
            for j in range(4):
                assert s[signals.vae_kl_dim(j)] == pytest.approx(
                    float(kl_dim[j]), rel=1e-4, abs=1e-7
                )
            assert s[signals.VAE_ACTIVE_UNITS] == 2
            assert s[signals.VAE_ACTIVE_FRACTION] == 0.5
        else:
            assert signals.vae_kl_dim(0) not in s and signals.VAE_ACTIVE_UNITS not in s
    assert records[2].scalars[signals.VAE_DECODER_SENSITIVITY] == pytest.approx(
        float(gain.mean()), rel=1e-4
    )
    assert RunReader(tmp_path / "run").info().kind == "vae"
    assert [g.step for g in RunReader(tmp_path / "run").sample_grids()] == []  # 1-D outputs


def test_active_units_fall_back_to_the_batch_without_an_encoder(tmp_path):
    model = torch.nn.Linear(3, 3)
    mon = gandiag.Monitor(
        tmp_path / "run", model=model, generate=model, cadence=Cadence(samples=1), detectors=None
    )
    mu = torch.cat([torch.randn(64, 1), torch.zeros(64, 2)], dim=1)
    x = torch.randn(64, 3)
    mon.step(0, losses={"elbo": 1.0}, mu=mu, logvar=torch.zeros(64, 3), inputs=x, recon=x)
    mon.close()
    s = next(RunReader(tmp_path / "run").read_records()).scalars
    assert s[signals.VAE_ACTIVE_UNITS] == 1
    assert s[signals.VAE_RECON] == 0.0
    assert s[signals.VAE_KL] == pytest.approx(0.5 * float((mu**2).mean(0).sum()), rel=1e-5)

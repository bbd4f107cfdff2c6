"""Label-free coverage in the monitor: reservoir, embedding, PRDC and bin occupancy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monitor_toy import ConvD, ConvG, TinyVAE
from torch import nn

import gandiag
from gandiag import signals
from gandiag.metrics.prdc import prdc
from gandiag.monitor import Cadence
from gandiag.monitor.coverage import (
    Reservoir,
    assign,
    bin_occupancy,
    coverage_scalars,
    kmeans,
    penultimate_layer,
    resolve_features,
)
from gandiag.store import RunReader


def test_reservoir_is_uniform_over_everything_seen() -> None:
    counts = np.zeros(1000)
    for seed in range(200):
        r = Reservoir(50, seed)
        for start in range(0, 1000, 40):
            r.add(torch.arange(start, start + 40, dtype=torch.float32)[:, None])
        assert r.count == 50 and r.seen == 1000
        counts[r.samples().reshape(-1).long().numpy()] += 1
    # each item kept with probability 50/1000: 10 expected per item over 200 draws
    early, late = counts[:500].mean(), counts[500:].mean()
    assert abs(early - 10) < 1.0 and abs(late - 10) < 1.0
    assert len(set(r.samples().reshape(-1).tolist())) == 50  # no item twice


def test_bin_occupancy_null_and_concentration() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 2)) * 4
    real = centres[rng.integers(8, size=512)] + 0.2 * rng.normal(size=(512, 2))
    same = centres[rng.integers(8, size=256)] + 0.2 * rng.normal(size=(256, 2))
    c, rb = kmeans(real, 16, 0)
    null = bin_occupancy(rb, assign(same, c), 16, c)
    assert null[signals.COVERAGE_TOP_BIN_EXCESS] < 0.1
    assert null[signals.COVERAGE_BINS_MISSED] < 0.1
    # 60% of the fakes on one mode, the rest like the data
    modes = np.where(rng.random(256) < 0.6, 0, rng.integers(8, size=256))
    partial = centres[modes] + 0.2 * rng.normal(size=(256, 2))
    out = bin_occupancy(rb, assign(partial, c), 16, c)
    assert out[signals.COVERAGE_TOP_BIN_EXCESS] > 0.3
    assert out[signals.COVERAGE_NDB] > null[signals.COVERAGE_NDB]
    # two modes of eight: most of the real mass is missed
    two = centres[rng.integers(2, size=256)] + 0.2 * rng.normal(size=(256, 2))
    assert bin_occupancy(rb, assign(two, c), 16, c)[signals.COVERAGE_BINS_MISSED] > 0.6


def test_coverage_scalars_use_the_projects_prdc() -> None:
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 5)), rng.normal(size=(200, 5)) + 0.5
    out = coverage_scalars(real, fake, 16, 0)
    ref = prdc(real, fake, k_pr=3, k_dc=5)
    assert out[signals.COVERAGE_RECALL] == ref.recall
    assert out[signals.COVERAGE_COVERAGE] == ref.coverage


def test_fake_shift_measures_how_far_the_fakes_moved() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(8, 2)) * 4
    real = centres[rng.integers(8, size=512)] + 0.2 * rng.normal(size=(512, 2))
    on_one = centres[np.zeros(256, dtype=int)] + 0.2 * rng.normal(size=(256, 2))
    on_other = centres[np.full(256, 5)] + 0.2 * rng.normal(size=(256, 2))
    assert signals.COVERAGE_FAKE_SHIFT not in coverage_scalars(real, on_one, 16, 0)
    # the same samples again: nothing moved
    same = coverage_scalars(real, on_one, 16, 0, previous_fake=on_one)
    assert same[signals.COVERAGE_FAKE_SHIFT] == 0.0
    # hopped to another mode: every sample is in other bins
    hop = coverage_scalars(real, on_other, 16, 0, previous_fake=on_one)
    assert hop[signals.COVERAGE_FAKE_SHIFT] == 1.0
    # a fresh draw of a spread generator moves only by sampling noise: two 256-sample
    # histograms over 16 bins differ by a TV distance of ~0.13 on average, far below the
    # 0.5 that non_convergence counts as a hop
    a = centres[rng.integers(8, size=256)] + 0.2 * rng.normal(size=(256, 2))
    b = centres[rng.integers(8, size=256)] + 0.2 * rng.normal(size=(256, 2))
    assert coverage_scalars(real, b, 16, 0, previous_fake=a)[signals.COVERAGE_FAKE_SHIFT] < 0.3


def test_default_embedding() -> None:
    D = ConvD()
    fn, name = resolve_features(None, (2,), {"D": D})
    assert name == "identity"
    fn, name = resolve_features(None, (1, 16, 16), {"D": D})
    assert name == "discriminator_penultimate"
    assert penultimate_layer(D) is D.net[-1]
    x = torch.randn(5, 1, 8, 8)
    D.eval()
    feats = fn(x)
    assert feats.shape == (5, 8 * 4 * 4)
    # the hook exists only during the call
    assert not D.net[-1]._forward_pre_hooks
    expected = D.net[:-1](x)
    assert torch.allclose(feats, expected)
    _, name = resolve_features(None, (1, 28, 28), {})
    assert name == "pooled_pixels"
    user = lambda x: x.mean((2, 3))
    assert resolve_features(user, (1, 28, 28), {"D": D}) == (user, "user")


def _gan_run(tmp_path, collapse: bool, **kw):
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    mon = gandiag.Monitor(
        tmp_path / ("c" if collapse else "h"),
        generator=G,
        discriminator=D,
        latent_dim=8,
        cadence=Cadence(coverage=20, coverage_reservoir=128, coverage_probe=64, flush=10),
        detectors=None,
        **kw,
    )
    rng = torch.Generator().manual_seed(1)
    centres = torch.randn(8, 1, 8, 8, generator=rng) * 2
    with mon:
        for step in range(61):
            real = centres[torch.randint(0, 8, (32,), generator=rng)]
            real = real + 0.1 * torch.randn(real.shape, generator=rng)
            fake = centres[:1].expand(32, -1, -1, -1) if collapse else real
            mon.step(
                step,
                losses={"G": 1.0, "D": 1.0},
                d_real=torch.zeros(32),
                d_fake=torch.zeros(32),
                real=real,
                fake=fake,
            )
    with RunReader(mon.run_dir) as r:
        return {rec.step: rec.scalars for rec in r.read_records()}


def test_monitor_writes_coverage_signals_at_its_cadence(tmp_path) -> None:
    recs = _gan_run(tmp_path, collapse=False)
    steps = sorted(s for s, sc in recs.items() if signals.COVERAGE_RECALL in sc)
    assert steps == [20, 40, 60]
    for s in steps:
        for name in (signals.COVERAGE_NDB, signals.COVERAGE_TOP_BIN_EXCESS):
            assert np.isfinite(recs[s][name])
    # the probe latents are fixed and G is not trained here: from the second evaluation
    # on, the probe fakes did not move at all
    assert signals.COVERAGE_FAKE_SHIFT not in recs[20]
    assert [recs[s][signals.COVERAGE_FAKE_SHIFT] for s in (40, 60)] == [0.0, 0.0]


def test_user_features_see_a_collapsed_generator(tmp_path) -> None:
    # the generator's probe batch comes from its fixed latents; a generator that ignores
    # them and draws one point is as collapsed as it gets
    class OnePoint(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return torch.zeros(z.shape[0], 1, 8, 8) + self.w

    torch.manual_seed(0)
    mon = gandiag.Monitor(
        tmp_path / "r",
        generator=OnePoint(),
        discriminator=ConvD(),
        latent_dim=8,
        features=lambda x: x.reshape(x.shape[0], -1)[:, :4],
        cadence=Cadence(coverage=10, coverage_reservoir=64, coverage_probe=32, flush=5),
        detectors=None,
    )
    with mon:
        for step in range(21):
            real = torch.randn(16, 1, 8, 8)
            mon.step(
                step,
                losses={"G": 1.0, "D": 1.0},
                d_real=torch.zeros(16),
                d_fake=torch.zeros(16),
                real=real,
                fake=real,
            )
    with RunReader(mon.run_dir) as r:
        sc = {rec.step: rec.scalars for rec in r.read_records()}
    assert sc[20][signals.COVERAGE_TOP_BIN_SHARE] == 1.0
    assert sc[20][signals.COVERAGE_RECALL] < 0.1


def test_per_discriminator_outputs_are_recorded(tmp_path) -> None:
    torch.manual_seed(0)
    G, Da, Db = ConvG(), ConvD(), ConvD()
    mon = gandiag.Monitor(
        tmp_path / "r",
        generator=G,
        discriminator={"Da": Da, "Db": Db},
        cadence=Cadence(coverage=0, samples=0, flush=2),
        detectors=None,
    )
    with mon:
        for step in range(3):
            mon.step(
                step,
                losses={"G": 1.0, "D": 1.0},
                d_real={"Da": torch.full((4,), 2.0), "Db": torch.full((4,), -1.0)},
                d_fake={"Da": torch.full((4,), -3.0), "Db": torch.full((4,), 0.5)},
            )
    with RunReader(mon.run_dir) as r:
        sc = next(iter(r.read_records())).scalars
    assert sc[signals.d_net("Da", "real", "raw_mean")] == 2.0
    assert sc[signals.d_net("Db", "fake", "raw_mean")] == 0.5
    assert (
        abs(sc[signals.d_net("Da", "fake", "prob_mean")] - float(torch.sigmoid(torch.tensor(-3.0))))
        < 1e-6
    )
    # the pool is still there
    assert abs(sc[signals.D_REAL_RAW_MEAN] - 0.5) < 1e-9
    assert signals.d_nets(set(sc)) == ["Da", "Db"]


def test_vae_gets_sample_statistics_and_coverage(tmp_path) -> None:
    torch.manual_seed(0)
    vae = TinyVAE()
    mon = gandiag.Monitor(
        tmp_path / "v",
        model=vae,
        cadence=Cadence(samples=5, coverage=10, coverage_reservoir=64, coverage_probe=32, flush=5),
        detectors=None,
    )
    with mon:
        for step in range(21):
            x = torch.randn(16, 16)
            recon, mu, logvar = vae(x)
            mon.step(
                step,
                losses={"vae": 1.0},
                mu=mu.detach(),
                logvar=logvar.detach(),
                inputs=x,
                recon=recon.detach(),
            )
    with RunReader(mon.run_dir) as r:
        sc = {rec.step: rec.scalars for rec in r.read_records()}
    assert np.isfinite(sc[5][signals.SAMPLES_PDIST_RATIO])
    assert np.isfinite(sc[20][signals.COVERAGE_TOP_BIN_EXCESS])


def test_null_floor_of_the_bin_statistics() -> None:
    """Fakes drawn like the reals: the region excess and missed mass stay near zero (the
    floor docs/detectors.md quotes, from a larger run of this simulation)."""
    rng = np.random.default_rng(0)
    excess, missed = [], []
    for t in range(40):
        d = (2, 16)[t % 2]
        if t % 3 == 0:
            c = rng.normal(size=(8, d)) * 3
            x = c[rng.integers(8, size=768)] + 0.3 * rng.normal(size=(768, d))
        else:
            x = rng.normal(size=(768, d))
        centres, labels = kmeans(x[:512], 16, t)
        out = bin_occupancy(labels, assign(x[512:], centres), 16, centres)
        excess.append(out[signals.COVERAGE_TOP_BIN_EXCESS])
        missed.append(out[signals.COVERAGE_BINS_MISSED])
    assert max(excess) < 0.12 and max(missed) < 0.1
    assert min(excess) > 0.0  # some excess always exists by chance


def test_wide_features_are_projected_keeping_distances() -> None:
    from gandiag.monitor.coverage import PROJECT_DIM, CoverageProbe

    probe = CoverageProbe(
        every=1,
        reservoir=8,
        probe=8,
        bins=2,
        generate=None,
        latent_dim=lambda: None,
        discriminators={},
        modules=[],
        features=None,
        device=torch.device("cpu"),
        seed=0,
        samples_every=1,
    )
    probe.features = lambda x: x
    x = torch.randn(10, 1000, generator=torch.Generator().manual_seed(0))
    f = probe._embed(x)
    assert f.shape == (10, PROJECT_DIM)
    d0, d1 = torch.cdist(x.double(), x.double()), torch.cdist(f, f)
    ratio = d1[d0 > 0] / d0[d0 > 0]
    assert 0.7 < float(ratio.min()) and float(ratio.max()) < 1.3
    assert torch.equal(probe._embed(x), f)  # the same matrix every time


def test_a_discriminator_on_input_output_pairs_falls_back_to_pooled_pixels(tmp_path) -> None:
    # pix2pix's discriminator sees (input, output) stacked on channels: it cannot embed
    # samples alone, so the probe uses pooled pixels instead of turning itself off
    class PairD(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(2, 4, 4, 2, 1), nn.Flatten(), nn.Linear(64, 1))

        def forward(self, pair: torch.Tensor) -> torch.Tensor:
            return self.net(pair).view(-1)

    torch.manual_seed(0)
    mon = gandiag.Monitor(
        tmp_path / "r",
        generator=ConvG(),
        discriminator=PairD(),
        cadence=Cadence(coverage=10, coverage_reservoir=64, coverage_probe=32, flush=5),
        detectors=None,
    )
    with mon:
        for step in range(21):
            real = torch.randn(16, 1, 16, 16)
            mon.step(
                step,
                losses={"G": 1.0, "D": 1.0},
                d_real=torch.zeros(16),
                d_fake=torch.zeros(16),
                real=real,
                fake=real,
            )
    with RunReader(mon.run_dir) as r:
        sc = {rec.step: rec.scalars for rec in r.read_records()}
    assert np.isfinite(sc[20][signals.COVERAGE_RECALL])
    assert mon._coverage.embedding == "pooled_pixels"


def _small_probe(generate):
    """A probe every 10 steps of 32 fakes against a reservoir of 64 reals, 4 bins."""
    from gandiag.monitor.coverage import CoverageProbe

    return CoverageProbe(
        every=10,
        reservoir=64,
        probe=32,
        bins=4,
        generate=generate,
        latent_dim=lambda: 8,
        discriminators={},
        modules=[],
        features=None,
        device=torch.device("cpu"),
        seed=0,
        samples_every=50,
    )


def test_a_resolution_switch_restarts_the_probe_instead_of_turning_it_off() -> None:
    # progressive growing: reals and fakes change resolution together at a switch, while the
    # reservoir still holds reals of the old one. The probe waits for the new reals and
    # chooses its embedding again (4x4 is embedded as pixels, 16x16 no longer is)

    res = {"size": 4}

    def generate(z: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(z.shape[0]))
        return torch.rand(z.shape[0], 1, res["size"], res["size"], generator=g) * 2 - 1

    probe = _small_probe(generate)
    rng = torch.Generator().manual_seed(1)
    readings = {}
    for step in range(1, 61):
        if step == 31:
            res["size"] = 16  # the switch
        real = torch.rand(16, 1, res["size"], res["size"], generator=rng) * 2 - 1
        probe.observe(step, real, None)
        if probe.due(step):
            readings[step] = probe.evaluate(step)
    assert probe.enabled  # not turned off by the switch
    assert readings[10] and readings[30]  # 4x4: read
    assert readings[40] and readings[60]  # 16x16: read again once the reservoir holds 64
    assert probe.reservoir.samples() is not None
    assert tuple(probe.reservoir.samples().shape[1:]) == (1, 16, 16)
    assert probe.embedding == "pooled_pixels"  # chosen again for the new resolution


def test_fakes_shown_at_the_final_resolution_are_read_at_the_reals_resolution() -> None:
    # a progressive-growing generator shows its 4x4 phase nearest-upsampled to 16x16 while
    # the reals it trains on are 4x4: the probe pools the fakes back, and reads exactly
    # what it reads from the 4x4 images themselves
    import torch.nn.functional as F

    def small(z: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(z.shape[0]))
        return torch.rand(z.shape[0], 1, 4, 4, generator=g) * 2 - 1

    def shown(z: torch.Tensor) -> torch.Tensor:
        return F.interpolate(small(z), scale_factor=4, mode="nearest")

    a, b = _small_probe(small), _small_probe(shown)
    rng = torch.Generator().manual_seed(1)
    for step in range(1, 11):
        real = torch.rand(16, 1, 4, 4, generator=rng) * 2 - 1
        a.observe(step, real, None)
        b.observe(step, real, None)
    ra, rb = a.evaluate(10), b.evaluate(10)
    assert ra and rb == pytest.approx(ra)

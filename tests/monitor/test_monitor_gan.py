"""GAN signals land in the store with the right values; the monitor never changes training."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from monitor_toy import ConvD, ConvG, ThresholdDetector, data, gan_loop
from torch import nn

import gandiag
from gandiag import signals
from gandiag.monitor import Cadence
from gandiag.store import RunReader

FAST = Cadence(layers=4, histograms=4, samples=4, grid=4, flush=3)


def _monitor(tmp_path, G, D, **kw):
    kw.setdefault("cadence", FAST)
    kw.setdefault("detectors", None)
    return gandiag.Monitor(tmp_path / "run", generator=G, discriminator=D, **kw)


def _grad_norm(module: nn.Module) -> float:
    return math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in module.parameters()))


def test_values_match_an_independent_computation(tmp_path):
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    mon = _monitor(tmp_path, G, D, latent_dim=8)
    optG = torch.optim.Adam(G.parameters(), lr=1e-3)
    optD = torch.optim.Adam(D.parameters(), lr=1e-3)
    bce = nn.BCEWithLogitsLoss()
    real_all = data(64, 1)
    expected = {}
    for step in range(6):
        real = real_all[step * 8 : step * 8 + 8]
        fake = G(torch.randn(8, 8))
        optD.zero_grad()
        out_real, out_fake = D(real), D(fake.detach())
        loss_d = bce(out_real, torch.ones(8)) + bce(out_fake, torch.zeros(8))
        loss_d.backward()
        nd = _grad_norm(D)  # what optD.step uses ...
        nn.utils.clip_grad_norm_(D.parameters(), 1e-3)  # ... before clipping hides it
        optD.step()
        optG.zero_grad()
        loss_g = bce(D(fake), torch.ones(8))  # also accumulates into D's .grad
        loss_g.backward()
        ng = _grad_norm(G)
        optG.step()
        mon.step(
            step,
            losses={"G": loss_g, "D": loss_d},
            d_real=out_real,
            d_fake=out_fake,
            real=real,
            fake=fake,
        )
        r = out_real.detach().double()
        if step == 4:
            weight_norm_4 = math.sqrt(
                sum(p.detach().double().pow(2).sum().item() for p in G.parameters())
            )
        expected[step] = {
            "loss/G": loss_g.item(),
            "loss/D": loss_d.item(),
            "grad/D/norm": nd,
            "grad/G/norm": ng,
            "d/real/raw_mean": float(r.mean()),
            "d/real/raw_std": float(r.std()),
            "d/r_t": float(torch.sign(r).mean()),
            "d/fake/prob_mean": float(torch.sigmoid(out_fake.detach().double()).mean()),
            "samples/std_ratio": float(
                fake.detach().reshape(8, -1).std(0).mean() / real.reshape(8, -1).std(0).mean()
            ),
            "samples/pdist_ratio": float(
                torch.pdist(fake.detach().reshape(8, -1)).mean()
                / torch.pdist(real.reshape(8, -1)).mean()
            ),
        }
    mon.close()
    records = {r.step: r for r in RunReader(tmp_path / "run").read_records()}
    assert sorted(records) == list(range(6))
    for step, exp in expected.items():
        rec = records[step]
        for key, value in exp.items():
            if key.startswith("samples/") and step % 4:
                assert key not in rec.scalars
                continue
            assert rec.scalars[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (step, key)
    rec = records[4]
    assert rec.scalars[signals.grad_nonfinite("D")] == 0
    layer_sq = sum(
        v**2
        for k, v in rec.scalars.items()
        if k.startswith("grad/D/layer/") and k.endswith("/norm")
    )
    assert math.sqrt(layer_sq) == pytest.approx(rec.scalars["grad/D/norm"], rel=1e-5)
    assert rec.scalars[signals.weight_norm("G")] == pytest.approx(weight_norm_4, rel=1e-6)
    for hist in (signals.HIST_D_REAL, signals.HIST_D_FAKE):
        h = rec.histograms[hist]
        assert (h.lo, h.hi) == (0.0, 1.0) and h.total == 8
    assert 0 < rec.scalars[signals.SAMPLES_LATENT_SENSITIVITY] < 100
    assert rec.scalars[signals.update_ratio("D")] > 0
    assert -1 <= rec.scalars[signals.update_cosine("D")] <= 1
    assert 5 not in [s for s, r in records.items() if signals.update_ratio("D") in r.scalars]


def test_histogram_counts_match_numpy_for_raw_critic_values(tmp_path):
    G, D = ConvG(), ConvD()
    mon = _monitor(tmp_path, G, D, loss="wasserstein", cadence=Cadence(samples=0, grid=0))
    d_real = torch.linspace(-3, 5, 101)
    d_fake = torch.tensor([-10.0, 0.0, float("nan"), 2.0])
    mon.step(0, losses={"D": 1.0}, d_real=d_real, d_fake=d_fake)
    mon.close()
    rec = next(RunReader(tmp_path / "run").read_records())
    h = rec.histograms[signals.HIST_D_REAL]
    assert (h.lo, h.hi) == (-10.0, 5.0)  # one range shared by real and fake
    counts, _ = np.histogram(d_real.numpy(), bins=20, range=(-10.0, 5.0))
    assert list(h.counts) == counts.tolist()
    assert rec.histograms[signals.HIST_D_FAKE].total == 3  # the NaN is not counted
    assert signals.D_REAL_PROB_MEAN not in rec.scalars  # critic values have no probability
    assert math.isnan(rec.scalars[signals.D_FAKE_RAW_MEAN])


def test_sample_statistics_on_collapsed_and_perfect_generators(tmp_path):
    real = data(32, 3)
    G, D = ConvG(), ConvD()
    mon = _monitor(tmp_path, G, D, cadence=Cadence(samples=1, grid=0))
    out = torch.zeros(32)
    mon.step(
        0, losses={"G": 0.0}, d_real=out, d_fake=out, real=real, fake=real[:1].repeat(32, 1, 1, 1)
    )
    mon.step(1, losses={"G": 0.0}, d_real=out, d_fake=out, real=real, fake=real.flip(0))
    mon.close()
    collapsed, perfect = list(RunReader(tmp_path / "run").read_records())
    assert collapsed.scalars[signals.SAMPLES_DUP_RATE] == 1.0
    assert collapsed.scalars[signals.SAMPLES_PDIST_RATIO] == 0.0
    assert collapsed.scalars[signals.SAMPLES_STD_RATIO] == 0.0
    assert perfect.scalars[signals.SAMPLES_DUP_RATE] == 0.0
    assert perfect.scalars[signals.SAMPLES_PDIST_RATIO] == pytest.approx(1.0, rel=1e-5)
    assert perfect.scalars[signals.SAMPLES_STD_RATIO] == pytest.approx(1.0, rel=1e-5)


def test_latent_sensitivity_of_a_linear_generator_is_its_gain(tmp_path):
    lin = nn.Linear(4, 2, bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0]]))
    const = nn.Linear(4, 2)
    with torch.no_grad():
        const.weight.zero_()
    cad = Cadence(samples=1, grid=0, layers=0, histograms=0)
    for i, (gen, check) in enumerate(((lin, "gain"), (const, "zero"))):
        mon = gandiag.Monitor(
            tmp_path / f"r{i}",
            generator=gen,
            discriminator=nn.Linear(2, 1),
            latent_dim=4,
            cadence=cad,
            detectors=None,
        )
        x = torch.randn(8, 2)
        mon.step(0, losses={"G": 0.0}, d_real=torch.zeros(8), d_fake=torch.zeros(8), real=x, fake=x)
        mon.close()
        value = next(RunReader(tmp_path / f"r{i}").read_records()).scalars[
            signals.SAMPLES_LATENT_SENSITIVITY
        ]
        if check == "zero":
            assert value == 0.0
        else:
            # ||W d|| / ||d|| for W = 3 * [I_2 0]: between 0 and 3, and the exact mean over the probe
            from gandiag.monitor import SENSITIVITY_EPS

            g = torch.Generator().manual_seed(0)
            torch.randn(cad.probe_size, 4, generator=g)
            delta = SENSITIVITY_EPS * torch.randn(cad.probe_size, 4, generator=g)
            exp = (3 * delta[:, :2].norm(dim=1) / delta.norm(dim=1)).mean()
            assert value == pytest.approx(float(exp), rel=1e-4)


def test_training_is_bit_identical_with_and_without_the_monitor(tmp_path):
    G0, D0, _ = gan_loop(12, seed=5)
    rng_bare = torch.get_rng_state()
    torch.manual_seed(5)
    G1, D1 = ConvG(), ConvD()
    mon = _monitor(
        tmp_path,
        G1,
        D1,
        latent_dim=8,
        cadence=Cadence(layers=3, histograms=2, samples=2, grid=5, flush=4),
    )
    gan_loop(12, mon, seed=5, models=(G1, D1))
    rng_mon = torch.get_rng_state()
    mon.close()
    for a, b in zip(
        list(G0.state_dict().values()) + list(D0.state_dict().values()),
        list(G1.state_dict().values()) + list(D1.state_dict().values()),
    ):
        assert torch.equal(a, b)  # parameters and BatchNorm buffers
    assert torch.equal(rng_bare, rng_mon)
    assert G1.training and D1.training


def test_step_consumes_no_randomness_and_restores_modes(tmp_path):
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    G.net[0].eval()  # a submodule the user froze stays frozen
    mon = _monitor(tmp_path, G, D, latent_dim=8, cadence=Cadence(samples=1, grid=1, flush=1))
    real = data(8, 0)
    fake = G(torch.randn(8, 8))
    state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    mon.step(
        0, losses={"G": 1.0}, d_real=torch.zeros(8), d_fake=torch.zeros(8), real=real, fake=fake
    )
    mon.step(
        1, losses={"G": 1.0}, d_real=torch.zeros(8), d_fake=torch.zeros(8), real=real, fake=fake
    )
    assert torch.equal(state, torch.get_rng_state())
    if cuda_state is not None:
        assert all(torch.equal(a, b) for a, b in zip(cuda_state, torch.cuda.get_rng_state_all()))
    assert G.training and not G.net[0].training and G.net[3].training
    mon.close()
    grids = RunReader(tmp_path / "run").sample_grids("samples")
    assert [g.step for g in grids] == [0, 1]
    assert grids[0].path.read_bytes() == grids[1].path.read_bytes()  # same latents, same weights


def test_nan_is_recorded_and_alerted_never_raised(tmp_path):
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    det = ThresholdDetector("loss/D", threshold=100.0)
    mon = _monitor(tmp_path, G, D, detectors=[det], quiet=True)
    _, _, alerts = gan_loop(6, mon, models=(G, D), nan_at=3)
    alerts += mon.close()
    rec = {r.step: r for r in RunReader(tmp_path / "run").read_records()}
    assert rec[2].scalars["loss/nonfinite"] == 0
    # D's NaN loss poisons D's gradients, then D's weights, then G's loss on the same step.
    assert rec[3].scalars["loss/nonfinite"] == 2 and math.isnan(rec[3].scalars["loss/D"])
    assert rec[3].scalars[signals.grad_nonfinite("D")] == sum(p.numel() for p in D.parameters())
    assert rec[2].scalars[signals.grad_nonfinite("D")] == 0
    assert [a.step for a in alerts] == [3]


def test_nonfinite_gradients_are_counted_before_a_sanitiser(tmp_path):
    lin = nn.Linear(3, 1)
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=nn.Linear(2, 3),
        discriminator=lin,
        cadence=Cadence(layers=1, samples=0, grid=0),
        detectors=None,
    )
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    out = lin(torch.tensor([[float("inf"), 1.0, 1.0]]))
    out.sum().backward()
    for p in lin.parameters():
        p.grad.nan_to_num_(0.0, 0.0, 0.0)  # what some trainers do silently
    opt.step()
    mon.step(0, losses={"D": out.sum()}, d_real=out.reshape(-1), d_fake=out.reshape(-1))
    mon.close()
    rec = next(RunReader(tmp_path / "run").read_records())
    assert rec.scalars[signals.grad_nonfinite("D")] == 1  # the weight's inf entry
    assert rec.scalars[signals.grad_layer_nonfinite("D", "root")] == 1
    assert math.isinf(rec.scalars[signals.grad_norm("D")])


def test_several_optimizer_steps_and_hand_written_updates(tmp_path):
    lin = nn.Linear(2, 1, bias=False)
    gen = nn.Linear(2, 2, bias=False)
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=gen,
        discriminator=lin,
        cadence=Cadence(samples=0, grid=0),
        detectors=None,
    )
    opt = torch.optim.SGD(lin.parameters(), lr=0.0)
    norms = []
    for scale in (1.0, 3.0):  # two critic steps in one iteration: the mean norm is recorded
        opt.zero_grad()
        (scale * lin(torch.ones(1, 2))).sum().backward()
        norms.append(float(lin.weight.grad.norm()))
        opt.step()
    gen.weight.grad = None
    gen(torch.ones(1, 2)).sum().backward()  # a hand-written update: no optimizer
    with torch.no_grad():
        gen.weight -= 0.1 * gen.weight.grad
    mon.step(0, losses={"D": 0.0}, d_real=torch.zeros(2), d_fake=torch.zeros(2))
    mon.close()
    rec = next(RunReader(tmp_path / "run").read_records())
    assert rec.scalars["grad/D/norm"] == pytest.approx(np.mean(norms), rel=1e-6)
    assert rec.scalars["grad/G/norm"] == pytest.approx(2.0, rel=1e-6)  # ones(2,2)


@pytest.mark.parametrize("as_module_dict", [False, True])
def test_several_named_networks(tmp_path, as_module_dict):
    gens = {"G_AB": nn.Linear(2, 2), "G_BA": nn.Linear(2, 2)}
    # an nn.ModuleDict (how a module usually holds several networks) counts as its entries
    held = nn.ModuleDict(gens) if as_module_dict else gens
    discs = {"D_A": nn.Linear(2, 1), "D_B": nn.Linear(2, 1)}
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=held,
        discriminator=discs,
        cadence=Cadence(grid=0, samples=1),
        detectors=None,
    )
    x = torch.randn(4, 2)
    loss = sum(m(x).sum() for m in list(gens.values()) + list(discs.values()))
    loss.backward()
    mon.step(
        0,
        losses={"G": loss},
        d_real={"A": torch.zeros(4), "B": torch.ones(4, 1)},
        d_fake=[torch.zeros(4), torch.zeros(4)],
        real=x,
        fake=x + 1,
    )
    mon.close()
    rec = next(RunReader(tmp_path / "run").read_records())
    assert signals.nets_with_prefix(set(rec.scalars), "D") == ["D_A", "D_B"]
    assert signals.nets_with_prefix(set(rec.scalars), "G") == ["G_AB", "G_BA"]
    assert rec.scalars[signals.D_REAL_RAW_MEAN] == pytest.approx(0.5)


def test_two_dimensional_data_gets_a_scatter_grid(tmp_path):
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=G,
        discriminator=nn.Linear(2, 1),
        latent_dim=4,
        cadence=Cadence(grid=1, samples=1),
        detectors=None,
    )
    x = torch.randn(16, 2)
    mon.step(0, losses={"G": 0.0}, d_real=torch.zeros(16), d_fake=torch.zeros(16), real=x, fake=x)
    mon.close()
    (grid,) = RunReader(tmp_path / "run").sample_grids()
    assert grid.path.read_bytes().startswith(b"\x89PNG")


def test_log_scalars_merge_into_the_step_record(tmp_path):
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=nn.Linear(2, 2),
        discriminator=nn.Linear(2, 1),
        cadence=Cadence(samples=0, flush=2),
        detectors=None,
    )
    z = torch.zeros(2)
    mon.log_scalars(0, {signals.EVAL_MODES_COVERED: 3})  # before the step is fine
    mon.step(0, losses={"G": 1.0}, d_real=z, d_fake=z)
    mon.step(1, losses={"G": 1.0}, d_real=z, d_fake=z)
    mon.log_scalars(1, {signals.eval_metric("fid"): 12.5})
    mon.step(2, losses={"G": 1.0}, d_real=z, d_fake=z)  # flushes steps 0 and 1
    with pytest.raises(ValueError, match="already flushed"):
        mon.log_scalars(1, {signals.EVAL_MODES_COVERED: 4})
    with pytest.raises(ValueError, match="signal name"):
        mon.log_scalars(2, {"fid": 1.0})
    mon.close()
    recs = list(RunReader(tmp_path / "run").read_records())
    assert [r.step for r in recs] == [0, 1, 2]
    assert recs[0].scalars[signals.EVAL_MODES_COVERED] == 3 and "loss/G" in recs[0].scalars
    assert recs[1].scalars["eval/fid"] == 12.5


def test_log_scalars_takes_one_element_tensors_read_at_the_flush(tmp_path, monkeypatch):
    """A family's device values are logged without a host sync per step: the tensors are
    kept and read with the flush's others (one transfer per device), at the values they
    had when logged."""
    import gandiag.monitor.monitor as monitor_module

    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=nn.Linear(2, 2),
        discriminator=nn.Linear(2, 1),
        cadence=Cadence(samples=0, flush=3),
        detectors=None,
    )
    z = torch.zeros(2)
    reads = []
    on_host = monitor_module._on_host

    def counting(extra):
        reads.append(sum(torch.is_tensor(v) for row in extra.values() for v in row.values()))
        return on_host(extra)

    monkeypatch.setattr(monitor_module, "_on_host", counting)
    kl = torch.tensor([0.25, 0.5])
    for step in range(3):
        mon.step(step, losses={"G": 1.0}, d_real=z, d_fake=z)
        mon.log_scalars(step, {signals.CA_KL: kl.sum() * (step + 1), signals.ca_kl_dim(1): kl[1]})
    kl.mul_(10.0)  # changed in place after logging: the logged values stand
    assert reads == []  # nothing read before the flush
    mon.log_scalars(2, {signals.EVAL_MODES_COVERED: 3})  # numbers and tensors mix
    with pytest.raises(ValueError, match="one number"):
        mon.log_scalars(2, {signals.CA_KL: kl})
    mon.step(3, losses={"G": 1.0}, d_real=z, d_fake=z)  # flushes steps 0-2
    assert reads == [6]  # the six tensors of three steps, read at the one flush
    mon.close()
    recs = list(RunReader(tmp_path / "run").read_records())
    assert [r.scalars[signals.CA_KL] for r in recs[:3]] == [0.75, 1.5, 2.25]
    assert all(r.scalars[signals.ca_kl_dim(1)] == 0.5 for r in recs[:3])
    assert recs[2].scalars[signals.EVAL_MODES_COVERED] == 3
    assert all(isinstance(v, float) for r in recs for v in r.scalars.values())


def test_flushes_by_step_count_or_age_and_alerts_arrive_later(tmp_path):
    import time

    det = ThresholdDetector("loss/G", threshold=0.5)
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=nn.Linear(2, 2),
        discriminator=nn.Linear(2, 1),
        cadence=Cadence(samples=0, flush=1000, flush_seconds=0.05),
        detectors=[det],
        quiet=True,
    )
    z = torch.zeros(2)
    assert mon.step(0, losses={"G": 1.0}, d_real=z, d_fake=z) == []  # buffered, not yet seen
    time.sleep(0.1)
    # step 0 is old enough: flushed; its alert comes back from this call or the next
    alerts = mon.step(1, losses={"G": 0.0}, d_real=z, d_fake=z)
    mon._worker.drain()
    alerts += mon.step(2, losses={"G": 0.0}, d_real=z, d_fake=z)
    assert [a.step for a in alerts] == [0] and det.seen == 1
    mon.close()
    assert det.seen == 3


def test_default_detectors_run_on_the_records(tmp_path):
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    mon = gandiag.Monitor(
        tmp_path / "run", generator=G, discriminator=D, latent_dim=8, cadence=FAST, quiet=True
    )
    assert mon.detectors, "gandiag.detectors.default_detectors('gan') returned none"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a detector failing would warn
        gan_loop(8, mon, models=(G, D))
        state = mon.state_dict()
        mon.close()
    assert list(state["detectors"]) == [d.name for d in mon.detectors]


def _scaled_loop(tmp_path, name, scaler, *, pass_scaler):
    torch.manual_seed(0)
    G, D = nn.Linear(4, 6), nn.Linear(6, 1)
    mon = gandiag.Monitor(
        tmp_path / name,
        generator=G,
        discriminator=D,
        cadence=Cadence(layers=1, samples=0, grid=0),
        detectors=None,
        grad_scaler=scaler if pass_scaler else None,
    )
    opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=0.05) for m in (G, D))
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(1))
    for step in range(5):
        z = torch.randn(32, 4, generator=torch.Generator().manual_seed(step))
        loss_d = (
            nn.functional.softplus(D(G(z).detach())).mean() + nn.functional.softplus(-D(x)).mean()
        )
        opt_d.zero_grad()
        scaler.scale(loss_d).backward()
        scaler.step(opt_d)
        loss_g = nn.functional.softplus(-D(G(z))).mean()
        opt_g.zero_grad()
        scaler.scale(loss_g).backward()
        scaler.step(opt_g)
        scaler.update()
        mon.step(step, losses={"D": loss_d, "G": loss_g}, d_real=D(x), d_fake=D(G(z)))
    mon.close()
    return list(RunReader(tmp_path / name).read_records())


def test_grad_scaler_norms_are_unscaled(tmp_path):
    def scaler(enabled):  # growth every step: the scale changes, and the norms must not
        return torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1, enabled=enabled)

    plain = _scaled_loop(tmp_path, "plain", scaler(False), pass_scaler=True)
    unscaled = _scaled_loop(tmp_path, "unscaled", scaler(True), pass_scaler=True)
    raw = _scaled_loop(tmp_path, "raw", scaler(True), pass_scaler=False)
    for a, b, c in zip(plain, unscaled, raw):
        for net in ("G", "D"):
            key = signals.grad_norm(net)
            assert b.scalars[key] == pytest.approx(a.scalars[key], rel=1e-5)
            layer = signals.grad_layer_norm(net, "root")
            assert b.scalars[layer] == pytest.approx(a.scalars[layer], rel=1e-5)
        assert c.scalars[signals.grad_norm("D")] == pytest.approx(
            1024.0 * 2**a.step * a.scalars[signals.grad_norm("D")], rel=1e-5
        )
    with pytest.raises(TypeError, match="GradScaler"):
        _monitor(tmp_path, nn.Linear(1, 1), nn.Linear(1, 1), grad_scaler=object())
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("kind", "expected", "absent"),
    [
        ("cyclegan", {"identity_mapping", "steganography", "content_lost"}, {"d_overfitting"}),
        ("dvdgan", {"frozen_video", "temporal_flicker", "mode_collapse"}, set()),
        ("stylegan", {"w_collapse", "mixing_no_effect", "augment_runaway", "mode_collapse"}, set()),
        ("progan", {"fade_in", "transition_instability"}, set()),
        ("my_family", {"mode_collapse"}, {"w_collapse", "identity_mapping"}),
    ],
)
def test_kind_naming_a_reference_model_runs_its_default_set(tmp_path, kind, expected, absent):
    # a user's own loop names its model: kind="cyclegan" gets the translation detectors and
    # kind="stylegan" StyleGAN's own, as `gandiag train` runs them; another name records
    # the kind and runs the set its signals follow
    mon = gandiag.Monitor(
        tmp_path / "run", generator=nn.Linear(2, 2), discriminator=nn.Linear(2, 1), kind=kind
    )
    mon.close()
    names = {d["name"] for d in RunReader(tmp_path / "run").meta("detectors")}
    assert expected <= names and not (absent & names)
    assert RunReader(tmp_path / "run").info().kind == kind

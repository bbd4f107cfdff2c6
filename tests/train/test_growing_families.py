"""ProGAN and StyleGAN-lite train a few steps from a config, record phases and family signals."""

import contextlib

import pytest
import torch

from gandiag import signals as S
from gandiag.phases import read_phases
from gandiag.reference_models import build_model
from gandiag.reference_models.progan import fade_reals
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.checkpoint import checkpoint_path
from gandiag.train.progan_step import ProGANSettings, schedule


def _cfg(model, steps, gan_options, **model_options):
    return {
        "steps": steps,
        "model": {"name": model, "options": {"width": 8, "latent_dim": 16, **model_options}},
        "data": {"name": "glyphs", "options": {"n": 64, "image_size": 32}, "batch_size": 8},
        "gan": {"options": gan_options},
        "eval": {"every": 0, "num_samples": 16, "metrics": [], "interpolation": False},
        "checkpoint": {"every": 0},
        "monitor": {"cadence": {"flush": 4, "samples": 2, "layers": 2, "grid": 0}},
    }


def test_progan_grows_through_phases_and_records_them(tmp_path):
    run = train(
        _cfg("progan", 9, {"phase_steps": 2, "fade_steps": 2}), tmp_path / "p", progress=False
    )
    reader = RunReader(run)
    phases = read_phases(reader)
    assert [p.name for p in phases] == ["res4", "res8", "res16"]
    assert [p.start_step for p in phases] == [0, 2, 6]
    alpha = reader.read_scalars([S.PHASE_ALPHA])[S.PHASE_ALPHA].values.tolist()
    assert alpha == [1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0]
    index = reader.read_scalars([S.PHASE_INDEX])[S.PHASE_INDEX].values.tolist()
    assert index == [0, 0, 1, 1, 1, 1, 2, 2, 2]
    sd = torch.load(checkpoint_path(run), weights_only=True)["stepper"]
    assert sd["level"] == 2


def test_progan_resume_continues_the_phase_list(tmp_path):
    cfg = _cfg("progan", 4, {"phase_steps": 2, "fade_steps": 2})
    run = train(cfg, tmp_path / "p", progress=False)
    train({**cfg, "steps": 8}, run, resume=True, progress=False)
    names = [p.name for p in read_phases(RunReader(run))]
    assert names == ["res4", "res8", "res16"]


def test_progan_schedule_and_fade_reals():
    s = ProGANSettings(phase_steps=3, fade_steps=4)
    assert [schedule(t, 4, s) for t in (0, 2, 3, 5, 7, 9, 10)] == [
        (0, 1.0),
        (0, 1.0),
        (1, 0.0),
        (1, 0.5),
        (1, 1.0),
        (1, 1.0),
        (2, 0.0),
    ]
    stuck = ProGANSettings(phase_steps=3, fade_steps=4, alpha_schedule="truncated")
    assert [schedule(t, 4, stuck)[1] for t in range(3, 10)] == [0, 0, 0, 0, 1, 1, 1]
    assert schedule(10_000, 4, s) == (3, 1.0)
    x = torch.randn(2, 1, 32, 32)
    assert fade_reals(x, 1, 1.0, 4).shape == (2, 1, 8, 8)
    # alpha 0: the faded-in level shows only the previous level's content
    torch.testing.assert_close(
        fade_reals(x, 2, 0.0, 4),
        torch.nn.functional.interpolate(
            torch.nn.functional.avg_pool2d(fade_reals(x, 2, 1.0, 4), 2), scale_factor=2
        ),
    )


def test_progan_fade_in_blends_generator_levels():
    g = build_model("progan", width=8, latent_dim=16, seed=0).generator
    z = torch.randn(3, 16)
    with torch.no_grad():
        new, old = g.forward_at(z, 2, 1.0), g.forward_at(z, 1, 1.0)
        half = g.forward_at(z, 2, 0.5)
        up = torch.nn.functional.interpolate(old, scale_factor=2)
    torch.testing.assert_close(half, 0.5 * new + 0.5 * up)
    g.set_level(1, 1.0)
    assert g(z).shape == (3, 1, 32, 32)  # the plain forward is full size at any level


@pytest.mark.parametrize("options", [{}, {"ada": True, "ada_kimg": 0.01, "ada_interval": 1}])
def test_stylegan_trains_and_logs_its_signals(tmp_path, options):
    gan = {"probe_every": 2, "r1_interval": 2, "pl_interval": 2, **options}
    run = train(_cfg("stylegan", 4, gan, w_dim=16), tmp_path / "s", progress=False)
    names = set(RunReader(run).scalar_names())
    expected = {
        S.STYLE_W_STD,
        S.STYLE_NOISE_SHARE,
        S.STYLE_MIXING_EFFECT,
        S.STYLE_CHANNEL_SPIKE,
        S.REG_R1,
        S.REG_PL_LENGTH,
        S.REG_PL_MEAN,
    }
    assert expected <= names
    if options:
        assert {S.ADA_P, S.ADA_RT} <= names


def test_stylegan_unknown_option_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="r1_gamma"):
        train(_cfg("stylegan", 2, {"r1_gama": 1.0}, w_dim=16), tmp_path / "s", progress=False)


def test_modulated_conv_demodulation_normalises_output_scale():
    from gandiag.reference_models.stylegan import ModulatedConv2d

    torch.manual_seed(0)
    conv = ModulatedConv2d(16, 16, 3, 8)
    x = torch.randn(4, 16, 8, 8)
    w = torch.randn(4, 8)
    y1, y2 = conv(x, w), conv(x, 10 * w)  # demodulation cancels the style's overall scale
    std1, std2 = y1.std().item(), y2.std().item()
    assert 0.3 < std1 < 3 and 0.3 < std2 < 3
    plain = ModulatedConv2d(16, 16, 3, 8, demodulate=False)
    assert plain(x, 10 * w).std() > 3 * plain(x, w).std()


def test_truncation_pulls_w_toward_its_mean():
    g = build_model("stylegan", width=8, latent_dim=16, w_dim=16, seed=0).generator
    g.mapping.w_avg.fill_(0.5)
    z = torch.randn(8, 16)
    with torch.no_grad():
        w, w0 = g.map(z), g.map(z, psi=0.0)
    torch.testing.assert_close(w0, torch.full_like(w0, 0.5))
    assert g.map(z, psi=0.5).sub(0.5).abs().mean() < w.sub(0.5).abs().mean()


def test_lapgan_trains_levels_and_reports_copy_ratios(tmp_path):
    run = train(_cfg("lapgan", 3, {}), tmp_path / "l", progress=False)
    names = set(RunReader(run).scalar_names())
    assert {S.level_copy_ratio(1), S.level_copy_ratio(2), "loss/G_level0", "loss/D_level2"} <= names
    copy = train(_cfg("lapgan", 3, {"residual_scale": 0.0}), tmp_path / "c", progress=False)
    ratio = RunReader(copy).read_scalars([S.level_copy_ratio(2)])[S.level_copy_ratio(2)]
    assert ratio.values.max() == 0.0


def test_lapgan_samples_coarse_to_fine():
    from gandiag.reference_models.lapgan import down, up

    g = build_model("lapgan", width=8, latent_dim=16, seed=0).generator.eval()
    with torch.no_grad():
        levels = g(torch.randn(4, 16), return_levels=True)
    assert [lv.shape[-1] for lv in levels] == [8, 16, 32]
    # each level is the upsampled level below plus a residual of its own
    assert (levels[2] - up(levels[1])).abs().mean() > 0
    assert down(levels[1]).shape == levels[0].shape


@pytest.mark.parametrize(
    ("model", "stages"),
    [
        ("progan", ["res4", "res8", "res16", "res32"]),
        ("lapgan", ["level0", "level1", "level2"]),
        ("stackgan", ["stage1", "stage2"]),
    ],
)
def test_stages_partition_the_trainable_parameters(model, stages):
    from gandiag.train.family import watched_networks

    b = build_model(model, seed=0, width=8, latent_dim=16)
    watched = watched_networks(b.generator, b.discriminator)
    for prefix, net in (("G", b.generator), ("D", b.discriminator)):
        parts = watched["generator" if prefix == "G" else "discriminator"]
        assert list(parts) == [f"{prefix}_{s}" for s in stages]
        ids = [id(p) for part in parts.values() for p in part.parameters()]
        assert len(ids) == len(set(ids))  # no parameter in two stages
        assert set(ids) == {id(p) for p in net.parameters() if p.requires_grad}
    assert set(watched["stages"].values()) == set(stages)


def test_progan_stages_are_watched_by_role_with_gradients_from_their_phase(tmp_path):
    run = train(
        _cfg("progan", 8, {"phase_steps": 2, "fade_steps": 2}), tmp_path / "p", progress=False
    )
    reader = RunReader(run)
    networks, stages = reader.meta("networks"), reader.meta("network_stages")
    assert networks["G_res8"] == "generator" and networks["D_res8"] == "discriminator"
    assert stages["G_res8"] == stages["D_res8"] == "res8"
    grads = reader.read_scalars([S.grad_norm("G_res4"), S.grad_norm("G_res16")])
    assert grads[S.grad_norm("G_res4")].steps.tolist() == list(range(8))
    # res16 fades in at step 6: no gradient before its phase
    assert grads[S.grad_norm("G_res16")].steps.tolist() == [6, 7]


def test_lapgan_copy_samples_copy_too():
    """The residual scale is the generator's: its samples copy as its training does."""
    from gandiag.reference_models.lapgan import up
    from gandiag.train.lapgan_step import LAPGANStepper

    b = build_model("lapgan", seed=0, width=8, latent_dim=16)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    LAPGANStepper(
        b,
        {"residual_scale": 0.0},
        lambda params, _which: torch.optim.Adam(params, lr=1e-3),
        lambda: (x, None),
        torch.Generator().manual_seed(0),
        contextlib.nullcontext,
    )
    with torch.no_grad():
        levels = b.generator(torch.randn(4, 16), return_levels=True)
    torch.testing.assert_close(levels[2], up(levels[1]), rtol=0, atol=0)
    torch.testing.assert_close(levels[1], up(levels[0]), rtol=0, atol=0)


def test_stylegan_discriminator_keeps_unit_activation_scale():
    """Each hidden leaky ReLU carries stylegan2-ada's gain sqrt(2) (``bias_act``'s def_gain):
    with equalised weights, unit-scale inputs give unit-scale features at the last hidden
    layer. Without the gain they shrink ~0.7x per layer (~0.05 after nine layers)."""
    torch.manual_seed(0)
    d = build_model("stylegan", seed=0).discriminator
    seen = {}
    d.final_dense.register_forward_hook(lambda m, i, o: seen.update(rms=o.pow(2).mean().sqrt()))
    with torch.no_grad():
        d(torch.randn(64, 1, 32, 32))
    assert 0.3 < float(seen["rms"]) < 3.0


def test_stylegan_ema_follows_stylegan2_ada_schedule():
    from gandiag.train.stylegan_step import ema_beta

    assert ema_beta(16, 0, None, 0.05) == 0.0  # the first step copies G
    # ramp-up: the half-life is 5% of the images seen so far (4,800 -> 240 images)
    assert ema_beta(16, 4800, None, 0.05) == pytest.approx(0.5 ** (16 / 240), rel=1e-12)
    # then the 'auto' half-life batch * 10 / 32 kimg (5,000 images at batch 16)
    assert ema_beta(16, 10**7, None, 0.05) == pytest.approx(0.5 ** (16 / 5000), rel=1e-12)
    assert ema_beta(32, 0, 2.0, None) == pytest.approx(0.5 ** (32 / 2000), rel=1e-12)


def _glyph_stepper(family: str, bundle, options: dict, lr: float):
    """A family stepper on 32 glyphs, batch 8, Adam (0, 0.99) at ``lr``, seed 0, on the CPU."""
    import numpy as np

    from gandiag.data import load_dataset
    from gandiag.train.family import stepper_class
    from gandiag.train.trainer import Batches

    ds = load_dataset("glyphs", n=32, image_size=32, seed=0)
    return stepper_class(family)(
        bundle,
        options,
        lambda params, which: torch.optim.Adam(params, lr=lr, betas=(0.0, 0.99)),
        Batches(ds, np.arange(len(ds)), 8, torch.device("cpu"), 0),
        torch.Generator().manual_seed(0),
        contextlib.nullcontext,
    )


def test_stylegan_ema_tracks_the_generator_from_the_start():
    """At step 0 the EMA copies G (beta 0), so it never lags at its initialisation; a fixed
    0.999 kept ~74% of the initial weights after 300 steps at batch 16."""
    bundle = build_model("stylegan", width=8, latent_dim=16, w_dim=16, seed=0)
    st = _glyph_stepper("stylegan", bundle, {"probe_every": 0}, 2.5e-3)
    st.step(0)
    for p_ema, p in zip(st.ema.module.parameters(), bundle.generator.parameters(), strict=True):
        torch.testing.assert_close(p_ema, p, rtol=0, atol=0)
    st.step(1)  # beta 0.5 ** (8 / 0.4) ~ 1e-6 after 8 images: still (almost) a copy
    assert st.nimg == 16 and st.state_dict()["nimg"] == 16


def test_stylegan_resumes_a_checkpoint_saved_before_the_ema_schedule():
    """A checkpoint without the image count (saved before the EMA schedule) loads, with its
    EMA treated as past the ramp-up rather than copied from G again."""
    from gandiag.train.stylegan_step import ema_beta

    bundle = build_model("stylegan", width=8, latent_dim=16, w_dim=16, seed=0)

    def make():
        return _glyph_stepper("stylegan", bundle, {"probe_every": 0}, 2.5e-3)

    st = make()
    st.step(0)
    old = {k: v for k, v in st.state_dict().items() if k != "nimg"}
    resumed = make()
    resumed.load_state_dict(old)
    beta = ema_beta(8, resumed.nimg, None, 0.05)
    assert beta == pytest.approx(0.5 ** (8 / 2500.0))


def test_progan_ema_ramps_up_so_a_short_run_does_not_evaluate_its_initialisation():
    """ProGAN's EMA (0.999, the reference's) with stylegan2-ada's ramp-up: after 40 steps it
    is near the generator, where the constant decay leaves it ~96% at its initialisation."""
    import copy

    def run(rampup):
        bundle = build_model("progan", seed=0, width=8, latent_dim=16)
        init = copy.deepcopy(bundle.generator)
        options = {"phase_steps": 20, "fade_steps": 20, "ema_rampup": rampup}
        st = _glyph_stepper("progan", bundle, options, 1e-3)
        for step in range(40):
            st.step(step)

        def dist(a, b):
            with torch.no_grad():
                pairs = zip(a.parameters(), b.parameters(), strict=True)
                return sum(float((p - q).norm() ** 2) for p, q in pairs) ** 0.5

        G = bundle.generator
        return dist(st.ema.module, G) / dist(init, G), st

    ramped, st = run(0.05)
    constant, other = run(0.0)  # 0 (or None): the constant decay, as a TOML config can say it
    assert st.ema.updates == 40 and st.ema.rampup == 0.05 and other.ema.rampup is None
    assert constant > 0.9  # 0.999**40: the EMA is still (almost) the initial weights
    assert ramped < 0.5 * constant  # it follows G


def test_progan_refuses_a_negative_ema_rampup_and_says_what_it_takes():
    from gandiag.train.progan_step import ProGANSettings

    with pytest.raises(ValueError, match="0 for the constant decay"):
        ProGANSettings(ema_rampup=-0.05)

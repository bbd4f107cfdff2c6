import pytest
import torch

from gandiag.reference_models import build_model
from gandiag.reference_models.dvdgan import SPATIAL, TEMPORAL


def test_shapes_and_two_discriminators():
    b = build_model("dvdgan", seed=0)
    z, y = b.sample_latent(3, torch.Generator().manual_seed(0))
    assert y is not None  # class-conditional
    x = b.generator(z, y)
    assert x.shape == (3, 8, 1, 32, 32) and x.abs().max() <= 1
    out = b.discriminator(x, y)
    assert set(out) == {SPATIAL, TEMPORAL}
    assert all(v.shape == (3,) for v in out.values())
    assert set(b.discriminator.parts()) == {SPATIAL, TEMPORAL}


def test_spatial_d_scores_only_the_sampled_frames():
    b = build_model("dvdgan", seed=0, temporal=False, k_frames=2)
    d = b.discriminator
    x = torch.rand(2, 8, 1, 32, 32) * 2 - 1
    y = torch.tensor([1, 2])
    frames = torch.tensor([1, 5])
    d.eval()
    ref = d(x, y, frames)[SPATIAL]
    x2 = x.clone()
    x2[:, [0, 2, 3, 4, 6, 7]] = 0  # frames D_S does not see
    torch.testing.assert_close(d(x2, y, frames)[SPATIAL], ref)
    x2[:, 5] = 0
    assert not torch.allclose(d(x2, y, frames)[SPATIAL], ref)
    idx = d.sample_frames(torch.Generator().manual_seed(0))
    assert len(idx) == 2 and bool((idx[1:] > idx[:-1]).all())


def test_temporal_d_sees_frame_order():
    b = build_model("dvdgan", seed=0, spatial=False)
    d = b.discriminator.eval()
    x = torch.rand(2, 8, 1, 32, 32) * 2 - 1
    y = torch.tensor([0, 3])
    a = d(x, y)[TEMPORAL]
    rev = d(x.flip(1), y)[TEMPORAL]
    assert not torch.allclose(a, rev)


def test_spectral_norm_everywhere_in_d():
    d = build_model("dvdgan", seed=0).discriminator
    convs = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)


def test_options_checked():
    with pytest.raises(ValueError, match="at least one discriminator"):
        build_model("dvdgan", spatial=False, temporal=False)
    with pytest.raises(ValueError, match="k_frames"):
        build_model("dvdgan", k_frames=9)


def test_a_conv_gru_at_every_resolution():
    """Clark et al. 2019 put a Conv-GRU before each resolution's residual blocks; with one
    at 4x4 fed the same input at every frame, the state reached its fixed point after a
    frame or two and the clips stood still after their first transition."""
    g = build_model("dvdgan", seed=0).generator
    assert len(g.grus) == len(g.blocks) == 3
    assert len(build_model("dvdgan", seed=0, image_size=16).generator.grus) == 2
    assert len(build_model("dvdgan", seed=0, gru_levels=1).generator.grus) == 1


def test_the_latent_and_the_class_condition_every_batch_norm_of_g():
    """Clark et al. 2019 feed [z; e(y)] to every conditional batch norm of G (BigGAN's
    class-conditional BN with the latent as well); ``latent_bn=False`` gives them the class
    alone. The maps start at zero, so an untrained G's batch norms are plain ones."""
    g = build_model("dvdgan", seed=0).generator
    bn = g.blocks[0].bn1
    assert isinstance(bn.gain, torch.nn.Linear) and bn.gain.in_features == 64 + 64
    assert float(bn.gain.weight.abs().sum() + bn.bias.weight.abs().sum()) == 0.0
    with torch.no_grad():
        for blk in g.blocks:
            for m in (blk.bn1, blk.bn2):
                m.gain.weight.normal_(0, 0.1)
    g.eval()
    y = torch.tensor([3, 3])
    z = torch.randn(2, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = g(z, y)
        # the same class, another latent in the norms only: the frames change
        zy = torch.cat([z, g.embed(y)], 1)
        other = torch.cat([torch.randn_like(z), g.embed(y)], 1)
        h1 = g.blocks[0].bn1(torch.ones(2, 32, 4, 4), zy)
        h2 = g.blocks[0].bn1(torch.ones(2, 32, 4, 4), other)
    assert base.shape == (2, 8, 1, 32, 32) and not torch.allclose(h1, h2)
    old = build_model("dvdgan", seed=0, latent_bn=False).generator
    assert isinstance(old.blocks[0].bn1.gain, torch.nn.Embedding)


@pytest.mark.slow
def test_clips_still_move_at_the_end_of_the_clip_after_a_few_dozen_steps():
    """30 steps of DVD-GAN training: the fakes change over their last three transitions
    (frames 4..7) at least 0.35x as much as real clips. A Conv-GRU fed the same input at
    every frame settles to a fixed point, its change shrinking about 2x per frame: the
    single-GRU generator (``gru_levels=1``) gave 5.5, 2.0, 0.85, 0.40, 0.20, 0.11, 0.06x
    per transition at step 60 (0.15x over the last three at step 30); this one 0.65x."""
    import contextlib

    import numpy as np

    from gandiag.data import load_dataset
    from gandiag.train.trainer import Batches
    from gandiag.train.video_step import VideoGANSettings, VideoGANStepper

    torch.manual_seed(0)
    ds = load_dataset("moving_glyphs", n=256, seed=0)
    bundle = build_model("dvdgan", seed=0)
    lrs = {"g": 1e-4, "d": 5e-4}

    def make_opt(params, which, lr=None):
        return torch.optim.Adam(params, lr=lrs[which] if lr is None else lr, betas=(0.0, 0.999))

    stepper = VideoGANStepper(
        bundle,
        VideoGANSettings("hinge", 1, None),
        make_opt,
        Batches(ds, np.arange(len(ds)), 16, torch.device("cpu"), 0),
        torch.Generator().manual_seed(7),
        contextlib.nullcontext,
    )
    for step in range(30):
        stepper.step(step)
    g = bundle.generator.eval()
    real = torch.from_numpy(ds.batch(np.arange(64)))
    with torch.no_grad():
        z, _ = bundle.sample_latent(64, torch.Generator().manual_seed(1))
        fake = g(z, torch.from_numpy(np.array(ds.labels[:64])))

    def motion(x):
        return float((x[:, 1:] - x[:, :-1]).abs().mean())

    last_three = float((fake[:, 5:] - fake[:, 4:-1]).abs().mean())
    assert last_three >= 0.35 * motion(real)


@pytest.mark.slow
def test_temporal_d_can_learn_to_tell_moving_clips_from_frozen_ones():
    """Capacity check of the motion signal D_T must supply (Clark et al. 2019): trained on
    its own, with the hinge loss, on real moving-glyph clips against other real clips frozen
    (first frame repeated), D_T scores held-out moving clips above frozen ones with AUC > 0.9
    after 200 steps. Every frame of a frozen clip is a real frame, so only the
    3-D blocks, which mix neighbouring frames before anything is pooled, can tell the two
    apart: with its 3-D convolutions made per-frame (kernel 1 in time) the same procedure
    reached AUC 0.56.

    Unconditional (no class projection) to stay cheap: with the projection and random
    classes the same check took about 400 steps (AUC 0.59 at 200, 0.999 at 400), the
    class-dependent offsets in the scores slowing what is learnt about motion."""
    import numpy as np

    from gandiag.data.moving_glyphs import make_moving_glyphs

    def clips(n: int, seed: int) -> torch.Tensor:
        return torch.from_numpy(np.array(make_moving_glyphs(n, seed=seed)[0])) / 127.5 - 1.0

    def frozen(x: torch.Tensor) -> torch.Tensor:
        return x[:, :1].expand_as(x)

    torch.manual_seed(0)
    d = build_model("dvdgan", seed=0, spatial=False).discriminator
    train, held = clips(512, seed=1), clips(128, seed=2)
    opt = torch.optim.Adam(d.parameters(), lr=5e-4, betas=(0.0, 0.999))
    rng = np.random.default_rng(0)
    for _ in range(200):
        moving = train[torch.from_numpy(rng.choice(len(train), 16, replace=False))]
        still = frozen(train[torch.from_numpy(rng.choice(len(train), 16, replace=False))])
        loss = (1 - d(moving)[TEMPORAL]).relu().mean() + (1 + d(still)[TEMPORAL]).relu().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    d.eval()
    with torch.no_grad():
        s_moving, s_still = d(held)[TEMPORAL], d(frozen(held))[TEMPORAL]
    auc = float((s_moving[:, None] > s_still[None, :]).double().mean())
    assert auc > 0.9, f"D_T separates moving from frozen clips with AUC {auc:.2f} only"


def test_state_reset_repeats_the_clip_with_its_period():
    """``state_reset=k``: the Conv-GRUs forget their state every k frames (a chunked unroll),
    so with the same input at every frame the clip repeats with period k and the Monitor's
    recurrence signal reads a loop; the default unroll does not repeat."""
    from gandiag.monitor.video import recurrence_by_lag

    for k in (2, 4):
        b = build_model("dvdgan", seed=0, state_reset=k)
        z, y = b.sample_latent(6, torch.Generator().manual_seed(1))
        with torch.no_grad():
            x = b.generator(z, y)
        torch.testing.assert_close(x[:, k:], x[:, : 8 - k], rtol=0, atol=0)
        assert (x[:, 1:k] - x[:, : k - 1]).abs().amax() > 0.01  # it moves within a period
        lags = recurrence_by_lag(x)
        assert float(lags[k - 1]) == pytest.approx(1.0, abs=1e-5)
        assert float(lags[1:].max() - lags[0]) > 0.5
    b = build_model("dvdgan", seed=0)
    z, y = b.sample_latent(6, torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = b.generator(z, y)
    assert (x[:, 4:] - x[:, :4]).abs().amax() > 0.01
    with pytest.raises(ValueError, match="state_reset"):
        build_model("dvdgan", state_reset=8)
    with pytest.raises(ValueError, match="framewise"):
        build_model("dvdgan", state_reset=4, framewise=True)


def test_framewise_generator_draws_each_frame_from_its_own_code():
    """``framewise=True``: an image generator applied frame by frame, one latent code per
    frame and no recurrence. Frame t depends on code t only (and the class)."""
    b = build_model("dvdgan", seed=0, framewise=True)
    g = b.generator.eval()
    assert len(g.grus) == 0 and b.latent_dim == 8 * 64
    z, y = b.sample_latent(3, torch.Generator().manual_seed(0))
    assert z.shape == (3, 8 * 64)
    with torch.no_grad():
        x = g(z, y)
        z2 = z.clone().view(3, 8, 64)
        z2[:, 5] = torch.randn(3, 64, generator=torch.Generator().manual_seed(9))
        x2 = g(z2.view(3, -1), y)
    assert x.shape == (3, 8, 1, 32, 32)
    changed = (x2 - x).flatten(2).abs().amax(2)  # [B, T]
    assert bool((changed[:, 5] > 1e-3).all())
    assert float(changed[:, [0, 1, 2, 3, 4, 6, 7]].max()) == 0.0

"""The DVD-GAN speed-ups leave the mathematics unchanged.

Each fast path is compared with the straightforward version it replaced, written out here
as the reference: the Conv-GRU on ``[x; h]`` unrolled frame by frame from a zero state,
``F.interpolate`` for the up-sampling, the 1x1 skip convolved after up-sampling, separate
discriminator forwards for reals and fakes, FVD-lite recomputing the real features.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from agreement import assert_agrees, frechet_scale
from torch.nn.utils import parametrize

from gandiag.features.video import FVDLite, fvd_lite, load_video_classifier, video_features
from gandiag.metrics.frechet import frechet_distance
from gandiag.reference_models import build_model
from gandiag.reference_models import losses as L
from gandiag.reference_models.dvdgan import ConvGRUCell, DVDGenerator, UpBlock, upsample2x
from gandiag.train.video_step import VideoGANSettings, VideoGANStepper


def _gru_reference(gru: ConvGRUCell, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    reset, update = torch.sigmoid(gru.gates(torch.cat([x, h], 1))).chunk(2, dim=1)
    cand = torch.tanh(gru.candidate(torch.cat([x, reset * h], 1)))
    return update * h + (1.0 - update) * cand


def _upblock_reference(block: UpBlock, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    h = F.interpolate(F.relu(block.bn1(x, y)), scale_factor=2.0)
    h = block.conv2(F.relu(block.bn2(block.conv1(h), y)))
    return h + block.skip(F.interpolate(x, scale_factor=2.0))


def _generator_reference(g: DVDGenerator, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """DVDGenerator.forward as first written: every Conv-GRU step on ``[x; h]``."""
    b = z.shape[0]
    zy = torch.cat([z, g.embed(y)], 1)
    x = g.project(zy).view(b, -1, 4, 4)
    h = x[:, None].expand(-1, g.frames, -1, -1, -1)
    yt = y.repeat_interleave(g.frames)
    # the up-sampling blocks' batch norms read [z; e(y)] (latent_bn) or the class
    cond = zy.repeat_interleave(g.frames, 0) if g.latent_bn else yt
    for i, block in enumerate(g.blocks):
        if i < len(g.grus):
            state = torch.zeros_like(h[:, 0])
            states = []
            for t in range(g.frames):
                state = _gru_reference(g.grus[i], h[:, t], state)
                states.append(state)
            h = torch.stack(states, 1)
        h = _upblock_reference(block, h.flatten(0, 1), cond).unflatten(0, (b, g.frames))
    frames = torch.tanh(g.out(F.relu(g.out_bn(h.flatten(0, 1), yt))))
    return frames.view(b, g.frames, *frames.shape[1:])


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> None:
    a, b = a.detach(), b.detach()
    # float32 sums in another order: agreement to `rel` of the values' scale
    scale = max(float(b.abs().max()), 1e-3)
    assert float((a - b).abs().max()) <= rel * scale, float((a - b).abs().max())


def test_upsample2x_is_nearest_interpolation_bit_for_bit():
    x = torch.randn(3, 5, 4, 6)
    assert torch.equal(upsample2x(x), F.interpolate(x, scale_factor=2.0))


def test_conv_gru_split_input_terms_match_the_concatenated_convolutions():
    torch.manual_seed(0)
    gru = ConvGRUCell(6, 6)
    x, h = torch.randn(4, 6, 8, 8), torch.randn(4, 6, 8, 8)
    _close(gru(x, h), _gru_reference(gru, x, h))
    # the zero state's shortcut is exact
    zero = torch.zeros_like(h)
    assert torch.allclose(gru.step(*gru.input_terms(x), None), _gru_reference(gru, x, zero))


def test_generator_and_its_gradients_match_the_frame_by_frame_reference():
    torch.manual_seed(0)
    g = build_model("dvdgan", seed=0).generator
    z, y = torch.randn(6, 64), torch.arange(6) % 10
    fast = g(z, y)
    ref = _generator_reference(g, z, y)
    _close(fast, ref)
    # gradients in float64: the same mathematics agrees to rounding there (in float32 the
    # latent-conditioned norms' gains, summed over 48 frames, differ by ~1e-4 relative)
    g64, z64 = g.double(), z.double()
    grads = []
    for out in (g64(z64, y), _generator_reference(g64, z64, y)):
        g64.zero_grad()
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in g64.parameters()]))
    _close(grads[0], grads[1], rel=1e-9)
    g.float()
    g.eval()  # running batch-norm statistics: the same path in eval mode
    with torch.no_grad():
        _close(g(z, y), _generator_reference(g, z, y))


class _ReferenceStepper(VideoGANStepper):
    """The stepper as first written: the reference generator, separate discriminator
    forwards for reals and fakes.

    Each D step runs under ``parametrize.cached()``: one spectral-norm power iteration
    per D step, as in the one-forward stepper (the first version ran one per forward, two
    per D step; Miyato et al. 2018 run one per update)."""

    def step(self, step: int) -> dict:
        s = self.s
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        for _ in range(s.d_steps):
            x, y = self.next_batch()
            z, _ = self.b.sample_latent(x.shape[0], self.gen, x.device)
            with torch.no_grad():
                fake = _generator_reference(self.G, z, y)
            frames = self.D.sample_frames(self.gen, x.device)
            with parametrize.cached():
                d_real, d_fake = self._scores(x, y, frames), self._scores(fake, y, frames)
                per_d = {k: L.discriminator_loss(s.loss, d_real[k], d_fake[k]) for k in self.parts}
                loss_d = sum(per_d.values())
            for opt in self.opt_d.values():
                opt.zero_grad(set_to_none=True)
            loss_d.backward()
            for opt in self.opt_d.values():
                opt.step()
        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        z, _ = self.b.sample_latent(x.shape[0], self.gen, x.device)
        fake_g = _generator_reference(self.G, z, y)
        scores = self._scores(fake_g, y, self.D.sample_frames(self.gen, x.device))
        loss_g = sum(L.generator_loss(s.loss, v) for v in scores.values())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        return {"losses": {"G": loss_g.detach(), "D": loss_d.detach(), **per_d}}


def _losses(stepper_cls: type, steps: int) -> np.ndarray:
    bundle = build_model("dvdgan", seed=3)
    data = torch.Generator().manual_seed(5)

    def next_batch():
        x = torch.rand(4, 8, 1, 32, 32, generator=data) * 2 - 1
        return x, torch.randint(0, 10, (4,), generator=data)

    def make_opt(params, which, lr=None):
        return torch.optim.Adam(
            params, lr=lr or (1e-4 if which == "g" else 5e-4), betas=(0.0, 0.999)
        )

    settings = VideoGANSettings(loss="hinge", d_steps=2, lr_d_t=None)
    stepper = stepper_cls(
        bundle, settings, make_opt, next_batch, torch.Generator().manual_seed(1),
        contextlib.nullcontext,
    )  # fmt: skip
    rows = []
    for i in range(steps):
        out = stepper.step(i)["losses"]
        rows.append([float(out[k].detach()) for k in ("G", "D", "D_S", "D_T")])
    return np.array(rows)


def test_training_losses_match_the_reference_stepper_for_the_same_seed():
    """One discriminator forward on [reals; fakes] and the fast generator give the losses of
    the original stepper (both run one spectral-norm power iteration per D step).

    Before any update (row 0) the only difference is float32 summation order. After an
    update Adam divides each gradient by its own running scale, so a rounding difference in
    a near-zero gradient becomes a whole ``lr``-sized step of either sign, and the rows
    drift apart by up to a few 1e-4 relative, by an amount that depends on the CPU's kernels.
    An update that differs for a real reason (a wrong gradient, a missing detach, a different
    loss) moves the losses by O(1) per step here (8.5 -> 11.3 -> 14.6 for G), so 1e-3 of
    each loss still catches it."""
    fast, ref = _losses(VideoGANStepper, 3), _losses(_ReferenceStepper, 3)
    scale = np.maximum(np.abs(ref), 0.1)
    rel = np.abs(fast - ref) / scale
    assert np.all(rel[0] <= 1e-5), rel[0]
    assert np.all(rel[1:] <= 1e-3), rel[1:]
    # the bound is under 1% of the change of G's loss per update
    assert np.all(np.abs(np.diff(ref[:, 0])) > 100 * 1e-3 * scale[1:, 0])


def test_fvd_lite_against_cached_real_statistics_matches_the_one_shot_metric():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(48, 8, 1, 32, 32, generator=g) * 2 - 1
    fakes = [torch.rand(48, 8, 1, 32, 32, generator=g) * 2 - 1]
    fakes.append(real[:, :1].expand_as(real).contiguous())
    net = load_video_classifier()
    scorer = FVDLite(real, net)
    fr = video_features(real, net).numpy()
    for fake in fakes:
        ff = video_features(fake, net).numpy()
        ref = frechet_distance(fr, ff).fid  # both feature sets from scratch
        ours = scorer(fake)
        assert_agrees(ours.value, ref, scale=frechet_scale(fr, ff))
        assert_agrees(fvd_lite(real, fake, net).value, ref, scale=frechet_scale(fr, ff))
        assert ours.protocol.num_real == 48 and ours.protocol.num_fake == 48

"""ADA's augmentation runs batched: the same images as a per-image pipeline, with no host
read of its random draws, and gradients reach the input through every transform."""

from __future__ import annotations

import pytest
import torch
from host_reads import counted_reads

from gandiag.reference_models.ada import AdaptiveAugment


def per_image(ada: AdaptiveAugment, x: torch.Tensor) -> torch.Tensor:
    """The pipeline written image by image (``torch.rot90`` and slicing per image), drawing
    the same random numbers in the same order as ``AdaptiveAugment.__call__``."""
    n, gen = x.shape[0], ada.generator
    shape = (n, 1, 1, 1)
    m = ada._mask(n, x.device) * torch.randint(0, 2, (n,), generator=gen)
    x = torch.where(m.view(shape).bool(), x.flip(-1), x)
    m = ada._mask(n, x.device)
    k = torch.randint(0, 4, (n,), generator=gen) * m.long()
    x = torch.stack([torch.rot90(xi, int(ki), dims=(-2, -1)) for xi, ki in zip(x, k)])
    m = ada._mask(n, x.device)
    s = max(1, x.shape[-1] // 8)
    t = torch.randint(-s, s + 1, (n, 2), generator=gen) * m[:, None].long()
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    for i, (dy, dx) in enumerate(t.tolist()):
        # out[r, c] = x[r - dy, c - dx] where that lies inside the image
        rs, cs = slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx))
        src_r, src_c = slice(rs.start - dy, rs.stop - dy), slice(cs.start - dx, cs.stop - dx)
        out[i, :, rs, cs] = x[i, :, src_r, src_c]
    x = out
    m = ada._mask(n, x.device).view(shape)
    x = x + torch.randn(shape, generator=gen) * 0.2 * m
    m = ada._mask(n, x.device).view(shape)
    c = torch.exp2(torch.randn(shape, generator=gen) * 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return torch.where(m.bool(), (x - mean) * c + mean, x)


@pytest.mark.parametrize("p", [0.3, 1.0, 2.5])
def test_batched_pipeline_equals_the_per_image_one(p):
    x = torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    a = AdaptiveAugment(64, p=p, generator=torch.Generator().manual_seed(7))
    b = AdaptiveAugment(64, p=p, generator=torch.Generator().manual_seed(7))
    got, want = a(x), per_image(b, x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    # the draws exercised every transform: some images moved, some did not
    changed = (got - x).abs().flatten(1).amax(1) > 0
    assert 0 < int(changed.sum()) <= 64 and (p < 1.0) <= (int(changed.sum()) < 64)


def test_translation_moves_pixels_by_the_drawn_offset():
    from gandiag.reference_models.ada import _translate

    x = torch.zeros(2, 1, 8, 8)
    x[:, 0, 3, 4] = 1.0
    out = _translate(x, torch.tensor([[1, -1], [-2, 0]]), 2)
    assert out[0, 0, 4, 3] == 1.0 and out[1, 0, 1, 4] == 1.0
    assert out.sum() == 2.0  # nothing else appears (zero fill)


def test_gradients_reach_the_input_through_every_transform():
    x = torch.randn(32, 1, 8, 8, requires_grad=True)
    ada = AdaptiveAugment(32, p=1.0, generator=torch.Generator().manual_seed(3))
    ada(x).square().sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    assert bool((x.grad.flatten(1).abs().sum(1) > 0).all())  # every image gets a gradient


def test_non_square_images_are_refused_with_the_reason():
    ada = AdaptiveAugment(4, p=0.5)
    with pytest.raises(ValueError, match="square"):
        ada(torch.zeros(4, 1, 8, 12))


def test_augmenting_and_accumulating_read_nothing_back(monkeypatch):
    ada = AdaptiveAugment(16, p=0.5, interval=4, generator=torch.Generator().manual_seed(0))
    x = torch.randn(16, 1, 16, 16)
    with counted_reads(monkeypatch) as reads:
        for _ in range(3):  # three steps between two adjustments
            ada(x)
            ada.accumulate(torch.randn(16))
            assert ada.update() is None
    assert reads == [], reads
    assert ada.update() is not None  # the fourth step reads the sum once and adjusts p


def test_the_device_sum_is_kept_across_a_save_between_adjustments():
    ada = AdaptiveAugment(16, interval=4)
    ada.accumulate(torch.ones(16))
    ada.update()
    saved = ada.state_dict()
    assert saved["state"]["sign_sum"] == 16.0 and saved["state"]["count"] == 16
    again = AdaptiveAugment(16, interval=4)
    again.load_state_dict(saved)
    for a in (ada, again):
        for _ in range(3):
            a.accumulate(-torch.ones(16))
            rt = a.update()
    assert rt == again.last_rt == ada.last_rt == (16.0 - 48.0) / 64.0


def _pattern(n: int) -> torch.Tensor:
    """``n`` copies of a 16x16 image with a bright pixel and a half-bright one (offset
    (3, -1)): no flip or quarter turn of the square maps the pair onto itself, and the
    pipeline's translation (at most 2 pixels) keeps both inside the frame."""
    x = torch.zeros(n, 1, 16, 16)
    x[:, 0, 6, 7], x[:, 0, 9, 6] = 1.0, 0.5
    return x


def _offsets(x: torch.Tensor) -> torch.Tensor:
    """The (row, col) offset from each image's brightest pixel to its second brightest.
    Translation moves both alike, and brightness and contrast (a shift and a positive
    scale of the values) keep their order, so only a flip or a turn changes the offset."""
    flat = x.flatten(1)
    top = flat.topk(2, dim=1).indices
    w = x.shape[-1]
    rc = torch.stack([top // w, top % w], -1)  # [n, 2, 2]
    return rc[:, 1] - rc[:, 0]


def _orientations(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Index 0-7 of the flip-and-quarter-turn (flip first, then turns, as the pipeline
    applies them) that gives each augmented image its offset; -1 where none does."""
    cands = [
        torch.rot90(x[:1].flip(-1) if f else x[:1], k, dims=(-2, -1))
        for f in (0, 1)
        for k in range(4)
    ]
    want = torch.cat([_offsets(c) for c in cands])  # [8, 2]
    got = _offsets(out)
    hit = (got[:, None, :] == want[None]).all(-1)  # [n, 8]
    idx = hit.float().argmax(1)
    return torch.where(hit.any(1), idx, torch.full_like(idx, -1))


@pytest.mark.parametrize("p", [1.0, 3.0])
def test_at_full_strength_the_orientation_is_uniform(p):
    """The reference draws a flip on a coin toss when the flip fires (and 0-3 quarter turns
    when the rotation fires), so at p >= 1 all 8 orientations are equally likely: D cannot
    tell which way is up. A flip applied to every image whenever it fires would leave the
    reals all mirrored at p >= 1 (4 orientations, none of them unflipped)."""
    n = 4000
    x = _pattern(n)
    out = AdaptiveAugment(n, p=p, generator=torch.Generator().manual_seed(3))(x)
    idx = _orientations(x, out)
    assert (idx >= 0).all()
    share = torch.bincount(idx, minlength=8).float() / n
    # each share 0.125 with binomial sd 0.0052 at n = 4000
    assert (share - 0.125).abs().max() < 0.03, share


def test_at_half_strength_a_quarter_of_the_images_are_mirrored():
    """p = 0.5: the flip fires on half the images and flips half of those."""
    n = 8000
    x = _pattern(n)
    out = AdaptiveAugment(n, p=0.5, generator=torch.Generator().manual_seed(4))(x)
    idx = _orientations(x, out)
    assert (idx >= 0).all()
    mirrored = float((idx >= 4).float().mean())
    assert abs(mirrored - 0.25) < 0.02, mirrored

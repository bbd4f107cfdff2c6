"""The glyph feature space ladder: precision/recall and FID in the bundled glyph features
must mean what a person expects them to mean.

Each rung is a property of the default (embedded) extractor, measured the way a user
measures a generator: 2,000 real glyphs as the reference, 2,000 images as the "fakes",
k=3. Real glyphs with degradations a person reads as still good (mild pixel noise, a slight
blur, a one-pixel shift) must stay mostly inside the real manifold; FID must grow with
the strength of a degradation; a one-class set must read as precise but not diverse.
"""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gandiag.data.glyphs import make_glyphs
from gandiag.features import get_extractor
from gandiag.metrics import frechet_distance, precision_recall

N = 2000
K = 3


def _as_unit(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(images)).float().unsqueeze(1) / 255.0


def _noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return (x + sigma * torch.randn(x.shape, generator=gen)).clamp(0, 1)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))


@pytest.fixture(scope="module")
def space():
    ext = get_extractor("glyph")
    reference, _ = make_glyphs(N, seed=777)  # seeds disjoint from the training script's
    held_out, _ = make_glyphs(N, seed=778)
    one_class, _ = make_glyphs(N, seed=779, classes=(3,))
    real = ext(_as_unit(reference) * 2 - 1)

    def score(images: torch.Tensor):
        fake = ext(images * 2 - 1)
        pr = precision_recall(real, fake, k=K)
        return pr.precision, pr.recall, frechet_distance(real, fake).fid

    def fid(images: torch.Tensor) -> float:
        return frechet_distance(real, ext(images * 2 - 1)).fid

    held = _as_unit(held_out)
    return {"score": score, "fid": fid, "held": held, "one": _as_unit(one_class)}


def test_held_out_real_glyphs_are_precise_and_recalled(space):
    p, r, fid = space["score"](space["held"])
    assert p >= 0.85 and r >= 0.85, (p, r)
    assert fid < 0.5


@pytest.mark.parametrize(
    "degrade",
    [
        pytest.param(lambda x: _noise(x, 0.1), id="gaussian-noise-0.1"),
        pytest.param(lambda x: _blur(x, 0.5), id="blur-0.5px"),
        pytest.param(lambda x: torch.roll(x, 1, dims=3), id="shift-1px"),
    ],
)
def test_mild_degradations_keep_precision(space, degrade):
    p, r, _ = space["score"](degrade(space["held"]))
    assert p >= 0.4, p
    assert r >= 0.4, r


@pytest.mark.parametrize(
    "degrade, strengths",
    [
        pytest.param(_noise, (0.0, 0.05, 0.1, 0.2, 0.3), id="noise"),
        pytest.param(_blur, (0.3, 0.6, 0.9, 1.2), id="blur"),
    ],
)
def test_fid_grows_monotonically_with_degradation(space, degrade, strengths):
    fids = [space["fid"](degrade(space["held"], s)) for s in strengths]
    assert all(a < b for a, b in itertools.pairwise(fids)), fids


def test_strong_noise_loses_precision(space):
    """The space is not blind to degradation: sigma=0.3 noise leaves most samples outside."""
    assert space["score"](_noise(space["held"], 0.3))[0] < 0.5


def test_one_class_set_is_precise_but_not_diverse(space):
    p, r, fid = space["score"](space["one"])
    assert p >= 0.8 and r <= 0.2, (p, r)
    assert fid > 50 * max(space["fid"](space["held"]), 1e-3)

"""MS-SSIM diversity and perceptual path length on invariants."""

import math

import pytest
import torch

from gandiag.metrics.image_metrics import MSSSIM_PAIRS, PPL_SAMPLES
from gandiag.metrics.msssim import msssim_diversity, scale_settings
from gandiag.metrics.ppl import perceptual_path_length, slerp


def _blobs(n, seed=0, size=32):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    c = torch.rand(n, 2, generator=g) * (size - 8) + 4
    r = torch.rand(n, 1, 1, generator=g) * 4 + 2
    d = ((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2).sqrt()
    return (torch.exp(-((d / r) ** 2)) * 2 - 1)[:, None]


def test_identical_samples_give_one():
    x = _blobs(1).repeat(8, 1, 1, 1)
    assert msssim_diversity(x, pairs=20) == pytest.approx(1.0, abs=1e-6)


def test_a_more_diverse_set_scores_lower():
    varied = _blobs(64)
    # the same blob, jittered by a little noise: nearly collapsed
    base = _blobs(1).repeat(64, 1, 1, 1)
    collapsed = base + 0.02 * torch.randn(64, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    assert msssim_diversity(varied, pairs=200) < msssim_diversity(collapsed, pairs=200) - 0.2


def test_seeded_and_independent_of_the_global_rng():
    x = _blobs(32)
    torch.manual_seed(0)
    a = msssim_diversity(x, pairs=50, seed=3)
    torch.manual_seed(123)
    assert msssim_diversity(x, pairs=50, seed=3) == a


def test_scale_settings_fit_the_image_size():
    betas, kernel = scale_settings(32)
    assert kernel == 5 and len(betas) == 3 and math.isclose(sum(betas), 1.0)
    betas, kernel = scale_settings(256)
    assert kernel == 11 and betas == pytest.approx(
        (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), rel=1e-3
    )
    with pytest.raises(ValueError, match="too small"):
        scale_settings(8)
    with pytest.raises(ValueError, match="at least 2"):
        msssim_diversity(_blobs(1))


def _identity_features(x):
    return x.flatten(1)


_YY, _XX = torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 8), indexing="ij")


def _smooth(z):
    """A ramp whose direction follows z: images change slowly along any latent path."""
    return torch.tanh(z[:, 0, None, None] * _XX + z[:, 1, None, None] * _YY)[:, None]


def _noisy(z):
    """The same plus a pattern that flips with tiny latent moves (a non-smooth generator)."""
    return _smooth(z) + 0.3 * torch.sin(400 * z[:, 2, None, None]) * (_XX * _YY)[None, None]


def test_smooth_generator_has_a_shorter_path_than_a_noisy_one():
    kw = {"features": _identity_features, "num_samples": 400, "seed": 0}
    smooth = perceptual_path_length(_smooth, 4, **kw)
    noisy = perceptual_path_length(_noisy, 4, **kw)
    assert 0 < smooth < noisy / 10


def test_constant_generator_has_zero_length_and_w_space_uses_lerp():
    def const(z):
        return torch.ones(len(z), 1, 8, 8)

    assert perceptual_path_length(const, 4, features=_identity_features, num_samples=50) == 0.0
    # a linear synthesis in W: the distance of a step eps is exactly eps^2 |W b - W a|^2
    # before normalisation; with a mapping that doubles z the path only rescales
    w_len = perceptual_path_length(
        _smooth, 4, features=_identity_features, space="w", mapping=lambda z: 2 * z, num_samples=200
    )
    assert w_len > 0
    with pytest.raises(ValueError, match="mapping"):
        perceptual_path_length(_smooth, 4, space="w")


def test_slerp_endpoints_and_norms():
    a, b = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    torch.testing.assert_close(slerp(a, b, torch.zeros(5, 1)), a)
    torch.testing.assert_close(slerp(a, b, torch.ones(5, 1)), b)
    unit = slerp(a, b, torch.full((5, 1), 0.3), keep_norm=False)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(5, dtype=torch.float64))


def test_glyph_features_by_default_on_glyph_sized_images():
    def gen(z):
        return torch.tanh(z[:, :1, None, None]).expand(-1, 1, 28, 28).contiguous()

    assert perceptual_path_length(gen, 4, num_samples=20, batch_size=10) >= 0.0


@pytest.mark.slow  # 500 PPL pairs and 1,000 MS-SSIM pairs through evaluate
def test_registered_and_computed_by_evaluate():
    from gandiag.evaluate import evaluate, sample_callable

    class Ramp(torch.nn.Module):
        def forward(self, z):
            yy, xx = torch.meshgrid(
                torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij"
            )
            return torch.tanh(z[:, 0, None, None] * xx + z[:, 1, None, None] * yy)[:, None]

    real = _blobs(64, size=28)
    out = evaluate(real, real, metrics=("ms_ssim",), bootstrap=0)
    assert 0 < out["ms_ssim"].value < 1 and out["ms_ssim"].protocol.options["scales"] == 3
    same = evaluate(real, real[:1].repeat(64, 1, 1, 1), metrics=("ms_ssim",), bootstrap=0)
    assert same["ms_ssim"].value == pytest.approx(1.0, abs=1e-9)
    fake = sample_callable(Ramp(), 4, seed=0)
    got = evaluate(real, fake, metrics=("ppl", "ms_ssim"), num_samples=64, bootstrap=0)
    assert got["ppl"].value > 0 and got["ppl"].protocol.options["epsilon"] == 1e-4
    with pytest.raises(ValueError, match="sample_callable"):
        evaluate(real, real, metrics=("ppl",), bootstrap=0)


def test_listed_in_the_metrics_registry_with_their_needs():
    from gandiag.metrics.registry import METRICS

    assert METRICS["ms_ssim"].needs == ("images",) and METRICS["ppl"].needs == ("generator",)
    assert MSSSIM_PAIRS >= 1000 and PPL_SAMPLES >= 100

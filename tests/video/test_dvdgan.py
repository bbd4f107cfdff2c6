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

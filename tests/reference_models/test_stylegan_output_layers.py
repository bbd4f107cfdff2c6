"""StyleGAN-lite's output layers: the image bias, one per toRGB layer (the reference's) or
one shared; the skip architecture (toRGB at every resolution, summed) or "orig" (the last)."""

import pytest
import torch

from gandiag.reference_models import build_model
from gandiag.reference_models.stylegan import StyleGANGenerator


def _pair():
    torch.manual_seed(0)
    shared = StyleGANGenerator(16, 32, 1, 8, w_dim=16)
    torch.manual_seed(0)
    per_level = StyleGANGenerator(16, 32, 1, 8, w_dim=16, rgb_bias="per_level")
    return shared, per_level


def test_per_level_biases_sum_into_the_image_like_one_shared_bias():
    """Each toRGB adds its own bias before the image is upsampled and summed; with
    nearest upsampling a constant stays constant, so the image gets their sum."""
    shared, per_level = _pair()
    assert per_level.synthesis.rgb_bias.shape == (per_level.synthesis.levels, 1)
    biases = torch.tensor([[0.3], [-0.7], [0.05], [-0.4]])
    with torch.no_grad():
        per_level.synthesis.rgb_bias.copy_(biases)
        shared.synthesis.rgb_bias.copy_(biases.sum(0))
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    ws = shared.broadcast(shared.map(z))
    noise = [torch.randn(s) for s in shared.synthesis.noise_shapes(4)]
    out = per_level.synthesis(ws, noise)
    torch.testing.assert_close(out, shared.synthesis(ws, noise), rtol=1e-5, atol=1e-5)
    assert out.std() > 0.1  # not a degenerate comparison


def test_per_level_biases_each_get_the_whole_image_gradient():
    """Every level's bias reaches every pixel, so each gets the gradient the shared bias
    gets: an optimiser that steps each by its own lr moves the offset `levels` times
    faster (the reference's behaviour)."""
    shared, per_level = _pair()
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    noise = [torch.randn(s) for s in shared.synthesis.noise_shapes(4)]
    for g in (shared, per_level):
        g.synthesis(g.broadcast(g.map(z)), noise).sum().backward()
    grads = per_level.synthesis.rgb_bias.grad
    for level_grad in grads:
        torch.testing.assert_close(level_grad, shared.synthesis.rgb_bias.grad)


def test_rgb_bias_option_reaches_the_model_and_is_checked():
    bundle = build_model("stylegan", seed=0, rgb_bias="per_level")
    assert bundle.generator.synthesis.rgb_bias.dim() == 2
    assert build_model("stylegan", seed=0).generator.synthesis.rgb_bias.dim() == 1
    with pytest.raises(ValueError, match="rgb_bias must be one of"):
        StyleGANGenerator(16, 32, 1, 8, w_dim=16, rgb_bias="none")


def test_orig_architecture_keeps_only_the_last_to_rgb():
    """With the skip sum's lower toRGBs silenced, the skip generator's image is the last
    toRGB of the last features: what the "orig" generator outputs with that toRGB."""
    torch.manual_seed(0)
    skip = StyleGANGenerator(16, 32, 1, 8, w_dim=16)
    torch.manual_seed(0)
    orig = StyleGANGenerator(16, 32, 1, 8, w_dim=16, architecture="orig")
    assert len(orig.synthesis.to_rgb) == 1 and orig.num_ws == skip.num_ws
    orig.synthesis.to_rgb[0].load_state_dict(skip.synthesis.to_rgb[-1].state_dict())
    with torch.no_grad():
        for rgb in skip.synthesis.to_rgb[:-1]:
            rgb.weight.zero_()
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    ws = skip.broadcast(skip.map(z))
    noise = [torch.randn(s) for s in skip.synthesis.noise_shapes(4)]
    out = orig.synthesis(ws, noise)
    torch.testing.assert_close(out, skip.synthesis(ws, noise))
    assert out.std() > 0.1
    assert build_model("stylegan", seed=0, g_architecture="orig").generator.synthesis.skip is False
    with pytest.raises(ValueError, match="g_architecture must be one of"):
        StyleGANGenerator(16, 32, 1, 8, w_dim=16, architecture="resnet")

"""ProGAN's equalised layers carry the reference's He gain (tkarras/progressive_growing_of_gans)."""

from __future__ import annotations

import math

import pytest
import torch

from gandiag.reference_models import build_model


def test_progan_discriminator_keeps_unit_activation_scale():
    """``get_weight``'s default gain sqrt(2) before each leaky ReLU keeps unit-scale inputs
    at unit scale through D's nine layers; with the bare 1/sqrt(fan_in) they shrink ~0.7x
    per layer (the last hidden layer near 0.05)."""
    torch.manual_seed(0)
    d = build_model("progan", seed=0).discriminator
    seen = {}
    d.final_dense.register_forward_hook(lambda m, i, o: seen.update(rms=o.pow(2).mean().sqrt()))
    with torch.no_grad():
        d(torch.randn(64, 1, 32, 32))
    assert 0.3 < float(seen["rms"]) < 3.0


def test_progan_gains_follow_the_reference():
    """sqrt(2) before each leaky ReLU, 1 on the linear outputs (toRGB and D's score),
    sqrt(2)/4 on G's latent dense layer."""
    b = build_model("progan", seed=0, width=16, latent_dim=32)
    g, d = b.generator, b.discriminator
    he = math.sqrt(2.0)
    assert g.dense.scale == pytest.approx(he / 4 / math.sqrt(32))
    assert g.blocks[0].scale == pytest.approx(he / math.sqrt(16 * 9))
    assert g.blocks[1][1].scale == pytest.approx(he / math.sqrt(16 * 9))
    assert g.to_rgb[2].scale == pytest.approx(1 / math.sqrt(16))
    assert d.from_rgb[0].scale == pytest.approx(he / math.sqrt(1))
    assert d.final_dense.scale == pytest.approx(he / math.sqrt(16 * 16))
    assert d.out.scale == pytest.approx(1 / math.sqrt(16))

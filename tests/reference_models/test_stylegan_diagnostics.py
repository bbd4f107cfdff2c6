"""StyleGAN-lite's diagnostic switches: D without minibatch stddev, the synthesis input,
and the diversity probe's changes to G (bench/stylegan_diversity_probe.py)."""

from __future__ import annotations

import copy

import pytest
import torch

from bench.stylegan_diversity_probe import (
    DIAGNOSTICS,
    _grad_alignment,
    _input_spread,
    _mbstd_use,
    _rgb_contributions,
)
from gandiag.reference_models import build_model
from gandiag.reference_models.stylegan import StyleGANDiscriminator


def _score_of_first_when_others_change(d: StyleGANDiscriminator) -> float:
    torch.manual_seed(0)
    x = torch.randn(8, 1, 32, 32)
    y = x[:1].expand(8, -1, -1, -1).clone()  # the same first image among copies of itself
    with torch.no_grad():
        return float((d(x)[0] - d(y)[0]).abs())


def test_mbstd_makes_a_score_depend_on_the_batch_and_group_zero_removes_it():
    torch.manual_seed(1)
    with_mbstd = StyleGANDiscriminator(32, 1, 16, mbstd_group=4)
    torch.manual_seed(1)
    without = StyleGANDiscriminator(32, 1, 16, mbstd_group=0)
    assert without.mbstd is None
    assert without.final_conv.weight.shape[1] == 16  # no extra statistics channel
    assert _score_of_first_when_others_change(with_mbstd) > 1e-3
    assert _score_of_first_when_others_change(without) == 0.0


def test_stylegan_model_option_mbstd_group_reaches_the_discriminator():
    assert build_model("stylegan", seed=0).discriminator.mbstd.group_size == 4
    assert build_model("stylegan", seed=0, mbstd_group=0).discriminator.mbstd is None


def test_synthesis_input_is_one_constant_for_every_sample():
    G = build_model("stylegan", seed=0).generator
    ws = G.broadcast(G.map(torch.randn(5, G.latent_dim)))
    x = G.synthesis.input(ws)
    assert x.shape == (5, *G.synthesis.const.shape)
    assert torch.equal(x[0], x[4])


def test_probe_latent_input_varies_with_w_and_the_ema_copy_keeps_its_own():
    G = build_model("stylegan", seed=0).generator
    DIAGNOSTICS["latent_input"](G, 0)
    assert any(p is G.synthesis.input_map.weight for p in G.parameters())  # trained with G
    ws = G.broadcast(G.map(torch.randn(5, G.latent_dim)))
    x = G.synthesis.input(ws)
    assert (x[0] - x[1]).abs().max() > 0.1
    ema = copy.deepcopy(G)  # as the stepper's EMA is made
    with torch.no_grad():
        ema.synthesis.input_map.weight.zero_()
        ema.synthesis.input_map.bias.zero_()
    torch.testing.assert_close(ema.synthesis.input(ws), ema.synthesis.const[None].expand_as(x))
    torch.testing.assert_close(G.synthesis.input(ws), x)  # the original is untouched
    assert G(torch.randn(3, G.latent_dim)).shape == (3, 1, 32, 32)


def test_probe_affine_bias_zero_leaves_styles_pure_functions_of_w():
    G = build_model("stylegan", seed=0).generator
    DIAGNOSTICS["affine_bias_zero"](G, 0)
    w = torch.zeros(2, G.w_dim)
    for layer in G.synthesis.layers:
        assert float(layer.conv.affine(w).abs().max()) == 0.0


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_probe_diagnostics_keep_the_generator_trainable(name):
    G = build_model("stylegan", seed=0).generator
    DIAGNOSTICS[name](G, 0)
    G(torch.randn(4, G.latent_dim)).square().mean().backward()
    # no_styles cuts w off the synthesis: only there does the mapping get no gradient
    assert (G.mapping.layers[0].weight.grad is None) == (name == "no_styles")
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.synthesis.parameters())


def test_probe_progan_synthesis_reads_the_first_w_and_has_no_noise():
    G = build_model("stylegan", seed=0).generator
    DIAGNOSTICS["progan_synthesis"](G, 0)
    ws = G.broadcast(G.map(torch.randn(4, G.latent_dim))).clone()
    with torch.no_grad():
        out = G.synthesis(ws)
        assert out.shape == (4, 1, 32, 32) and float((out[0] - out[1]).abs().max()) > 0.01
        ws[:, 1:] = torch.randn_like(ws[:, 1:])  # a mixed tail: no effect, only w[0] is read
        torch.testing.assert_close(G.synthesis(ws), out)  # and no noise: repeatable
        torch.testing.assert_close(copy.deepcopy(G).synthesis(ws), out)


def test_probe_no_noise_ignores_the_noise_inputs_also_in_the_ema_copy():
    G = build_model("stylegan", seed=0).generator
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.noise_strength.fill_(1.0)
    ws = G.broadcast(G.map(torch.randn(3, G.latent_dim)))
    with torch.no_grad():
        assert float((G.synthesis(ws) - G.synthesis(ws)).abs().max()) > 0.01  # noise counts
        DIAGNOSTICS["no_noise"](G, 0)
        torch.testing.assert_close(G.synthesis(ws), G.synthesis(ws))
        ema = copy.deepcopy(G)
        torch.testing.assert_close(ema.synthesis(ws), ema.synthesis(ws))


def test_probe_mbstd_use_sees_identical_fakes_and_a_d_that_ignores_the_statistic():
    torch.manual_seed(2)
    D = StyleGANDiscriminator(32, 1, 16, mbstd_group=4)
    reals = torch.rand(16, 1, 32, 32) * 2 - 1
    same = torch.randn(1, 1, 32, 32).expand(16, -1, -1, -1)
    with torch.no_grad():
        use = _mbstd_use(D, reals, same)
        assert use["mbstd_fake"] < 1e-3 < use["mbstd_real"]  # copies: no spread at all
        assert abs(use["mbstd_score_shift"]) > 1e-4
        D.final_conv.weight[:, -1] = 0.0  # D reads nothing from the statistic
        assert _mbstd_use(D, reals, same)["mbstd_score_shift"] == 0.0
        assert _mbstd_use(StyleGANDiscriminator(32, 1, 16, mbstd_group=0), reals, same) == {}


def test_probe_grad_alignment_is_one_for_copies_and_lower_for_distinct_samples():
    torch.manual_seed(3)
    D = StyleGANDiscriminator(32, 1, 16, mbstd_group=0)
    x = torch.randn(8, 1, 32, 32)
    assert _grad_alignment(D, x[:1].expand(8, -1, -1, -1)) == pytest.approx(1.0, abs=1e-9)
    assert _grad_alignment(D, x) < 0.9


def test_probe_input_spread_is_one_for_even_weights_and_one_over_c_for_one_channel():
    G = build_model("stylegan", seed=0, width=8).generator
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.conv.weight.fill_(0.3)
    assert _input_spread(G) == pytest.approx(1.0, rel=1e-12)
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.conv.weight.zero_()
            layer.conv.weight[:, 2] = torch.randn_like(layer.conv.weight[:, 2])
    assert _input_spread(G) == pytest.approx(1 / 8, rel=1e-12)


def test_probe_rgb_contributions_per_level_and_none_across_one_latent():
    G = build_model("stylegan", seed=0, width=8).generator
    z = torch.randn(1, G.latent_dim).expand(6, -1)
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.noise_strength.zero_()
        out = _rgb_contributions(G, z)
        assert len(out["rgb_std"]) == G.synthesis.levels
        assert all(v > 0.01 for v in out["rgb_std"])
        assert max(out["rgb_sample_std"]) < 1e-5  # one latent, no noise: no differences
        assert min(_rgb_contributions(G, torch.randn(6, G.latent_dim))["rgb_sample_std"]) > 0.01


def test_probe_no_styles_makes_the_styles_one_learned_constant():
    G = build_model("stylegan", seed=0).generator
    DIAGNOSTICS["no_styles"](G, 0)
    w = torch.randn(3, G.w_dim)
    for conv in [layer.conv for layer in G.synthesis.layers] + list(G.synthesis.to_rgb):
        s = conv.affine(w)
        torch.testing.assert_close(s, torch.ones_like(s))  # the bias, 1, for every sample
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.noise_strength.zero_()
    z = torch.randn(3, G.latent_dim)
    out = copy.deepcopy(G)(z)
    torch.testing.assert_close(out[0], out[2])  # no noise, no input map: one image


def test_probe_pixel_norm_gives_every_layer_output_unit_rms_per_pixel():
    G = build_model("stylegan", seed=0, width=8).generator
    DIAGNOSTICS["pixel_norm"](G, 0)
    ema = copy.deepcopy(G)  # as the stepper's EMA is made: the copy keeps the change
    seen = []
    for layer in ema.synthesis.layers:
        layer.register_forward_hook(lambda _m, _i, o: seen.append(o))
    with torch.no_grad():
        ema(torch.randn(3, G.latent_dim))
    assert len(seen) == len(G.synthesis.layers)
    for out in seen:
        rms = out.pow(2).mean(dim=1).sqrt()
        torch.testing.assert_close(rms, torch.ones_like(rms), rtol=1e-4, atol=1e-4)

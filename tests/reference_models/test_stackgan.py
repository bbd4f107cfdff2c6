"""StackGAN-lite networks: shapes, CA and its KL, stage II's input, matching-aware D."""

import math

import pytest
import torch

from gandiag.reference_models import build_model, get_spec
from gandiag.reference_models.stackgan import CANet, down, kl_per_dim, up


def _bundle(**opts):
    return build_model("stackgan", seed=0, width=8, latent_dim=16, c_dim=8, **opts)


def test_registered_with_capabilities_and_stepper():
    spec = get_spec("stackgan")
    caps = spec.capabilities
    assert caps.conditional and caps.conditional_discriminator
    assert caps.phases == ("stage1", "stage2") and caps.networks_per_role["discriminator"] == 2
    assert spec.training["stepper"] == "stackgan"


def test_forward_shapes_follow_the_trained_stage_and_backward_reaches_each_stage():
    b = _bundle()
    g, d = b.generator, b.discriminator
    z, y = torch.randn(4, 16), torch.tensor([0, 1, 2, 3])
    s1, mu, logvar = g.sample_stage1(z, y)
    assert s1.shape == (4, 1, 16, 16) and mu.shape == logvar.shape == (4, 8)
    assert g(z, y).shape == (4, 1, 32, 32)
    g.eval()  # stage 1 trained so far: samples are the stage-I images upsampled
    torch.manual_seed(1)
    sampled = g(z, y)
    torch.manual_seed(1)
    torch.testing.assert_close(sampled, up(g.sample_stage1(z, y)[0]))
    g.train()
    s2, _, _ = g.sample_stage2(s1, y)
    assert s2.shape == (4, 1, 32, 32)
    d.score(s2, y, 2).sum().backward()
    assert all(p.grad is not None for p in g.stage2.parameters())
    # stage II consumes the stage-I image detached: no gradient reaches stage I
    assert all(p.grad is None for p in g.stage1.parameters())
    assert d(torch.randn(4, 1, 32, 32), y).shape == (4,)
    d.stage.fill_(2)  # the loop sets both stages
    assert d(torch.randn(4, 1, 32, 32), y).shape == (4,)


def test_kl_matches_the_analytic_gaussian_kl():
    mu, logvar = torch.randn(64, 5), torch.randn(64, 5)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(
        kl_per_dim(mu, logvar), torch.distributions.kl_divergence(q, p).mean(0)
    )
    assert float(kl_per_dim(torch.zeros(3, 2), torch.zeros(3, 2)).abs().max()) == 0.0


def test_ca_samples_around_mu_with_sigma_and_without_augmentation_is_deterministic():
    ca = CANet(10, 6)
    t = torch.eye(10)[torch.zeros(20000, dtype=torch.long)]
    c, mu, logvar = ca(t, torch.Generator().manual_seed(0))
    sigma = (0.5 * logvar).exp()
    # the authors' leaky ReLU on [mu, log sigma]: sigma may fall below the prior's 1
    torch.testing.assert_close(logvar, 2 * torch.nn.functional.leaky_relu(ca.fc(t), 0.2)[:, 6:])
    torch.testing.assert_close(c.mean(0), mu[0], atol=0.05, rtol=0)
    torch.testing.assert_close(c.std(0), sigma[0], atol=0.05, rtol=0.05)
    off = CANet(10, 6, augment=False)
    c, mu, logvar = off(t[:5])
    assert torch.equal(c, mu) and bool(torch.isinf(logvar).all())


def test_detail_scale_zero_makes_stage_ii_a_copy_of_stage_i():
    b = _bundle(detail_scale=0.0)
    z, y = torch.randn(4, 16), torch.arange(4)
    s1 = b.generator.sample_stage1(z, y)[0]
    s2 = b.generator.sample_stage2(s1, y)[0]
    torch.testing.assert_close(s2, up(s1))
    torch.testing.assert_close(down(s2), s1)


def test_condition_changes_the_discriminator_score_through_its_own_context():
    b = _bundle()
    x = torch.randn(6, 1, 32, 32)
    d = b.discriminator.eval()
    right = d(x, torch.zeros(6, dtype=torch.long))
    wrong = d(x, torch.full((6,), 7))
    assert not torch.allclose(right, wrong)
    # the discriminator reads the class embedding itself, not the generator's CA
    with torch.no_grad():
        b.generator.ca1.fc.weight.normal_()
    torch.testing.assert_close(d(x, torch.full((6,), 7)), wrong)
    assert {n for n, _ in d.d1.named_children()} == {"encoder", "context", "logits"}


def test_class_embedding_is_dense_fixed_and_shared_or_a_one_hot():
    b = _bundle()
    e = b.generator.embedding
    assert e.shape == (10, 1024) and torch.equal(e, b.discriminator.embedding)
    torch.testing.assert_close(e, _bundle().generator.embedding)  # not stored, re-drawn alike
    assert abs(float(e.std()) - 1.0) < 0.05
    one = _bundle(embedding="onehot")
    assert torch.equal(one.generator.embedding, torch.eye(10))
    assert one.generator.ca1.fc.in_features == 10
    with pytest.raises(ValueError, match="dense, onehot"):
        _bundle(embedding="glove")


def test_other_image_sizes_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="image_size must be 32"):
        build_model("stackgan", image_size=28)


def test_kl_of_prior_posterior_is_zero_and_grows_with_mu():
    assert math.isclose(float(kl_per_dim(torch.ones(1, 1) * 2, torch.zeros(1, 1))), 2.0)

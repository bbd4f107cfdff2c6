import math

import pytest
import torch
import torch.nn.functional as F

from gandiag.reference_models import losses


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    p = torch.sigmoid(logits.double())
    return -(target * p.log() + (1 - target) * (1 - p).log()).mean()


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, generator=g) * 2, torch.randn(64, generator=g) * 2


def test_bce_losses_match_textbook_formulas(logits):
    real, fake = logits
    d = losses.discriminator_loss("nonsaturating", real, fake)
    assert d.item() == pytest.approx((_bce(real, 1.0) + _bce(fake, 0.0)).item(), rel=1e-5)
    assert losses.discriminator_loss("minimax", real, fake).item() == pytest.approx(d.item())
    ns = losses.generator_loss("nonsaturating", fake)
    assert ns.item() == pytest.approx(_bce(fake, 1.0).item(), rel=1e-5)
    sat = losses.generator_loss("minimax", fake)
    p = torch.sigmoid(fake.double())
    assert sat.item() == pytest.approx((1 - p).log().mean().item(), rel=1e-5)


def test_one_sided_label_smoothing_targets_point_nine(logits):
    real, fake = logits
    d = losses.discriminator_loss("nonsaturating", real, fake, real_label=0.9)
    assert d.item() == pytest.approx((_bce(real, 0.9) + _bce(fake, 0.0)).item(), rel=1e-5)


def test_saturating_loss_vanishes_when_discriminator_rejects_fakes():
    # D(G(z)) ~ 0.001: the minimax gradient w.r.t. the logit is ~sigmoid(l), the
    # non-saturating one ~1 - sigmoid(l) (Goodfellow et al. 2014, section 3).
    fake = torch.full((8,), math.log(0.001 / 0.999), requires_grad=True)
    (g_sat,) = torch.autograd.grad(losses.generator_loss("minimax", fake), fake)
    (g_ns,) = torch.autograd.grad(losses.generator_loss("nonsaturating", fake), fake)
    assert g_sat.abs().sum() < 0.01 * g_ns.abs().sum()


def test_least_squares_wasserstein_hinge(logits):
    real, fake = logits
    assert losses.discriminator_loss("lsgan", real, fake).item() == pytest.approx(
        (0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()).item(), rel=1e-6
    )
    assert losses.generator_loss("lsgan", fake).item() == pytest.approx(
        (0.5 * (fake - 1).pow(2).mean()).item(), rel=1e-6
    )
    assert losses.discriminator_loss("wasserstein", real, fake).item() == pytest.approx(
        (fake.mean() - real.mean()).item(), rel=1e-6
    )
    assert losses.discriminator_loss("hinge", real, fake).item() == pytest.approx(
        (F.relu(1 - real).mean() + F.relu(1 + fake).mean()).item(), rel=1e-6
    )
    for name in ("wasserstein", "hinge"):
        assert losses.generator_loss(name, fake).item() == pytest.approx(-fake.mean().item())


def test_penalties_on_a_linear_critic_have_closed_forms():
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5 everywhere

    def critic(x):
        return x @ w

    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    gp = losses.gradient_penalty(critic, real, fake, generator=g)
    assert gp.item() == pytest.approx(16.0)  # (5 - 1)^2
    assert losses.r1_penalty(critic, real).item() == pytest.approx(25.0)


def test_penalty_is_differentiable_wrt_critic_parameters():
    lin = torch.nn.Linear(2, 1)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    gp = losses.gradient_penalty(lambda x: lin(x).squeeze(1), real, fake)
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="nonsaturating"):
        losses.generator_loss("vanilla", torch.zeros(2))
    assert losses.monitor_loss_kind("minimax") == "bce"
    assert losses.monitor_loss_kind("wasserstein") == "wasserstein"


def test_gaussian_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(losses.gaussian_kl(mu, logvar), expected, rtol=1e-5, atol=1e-6)

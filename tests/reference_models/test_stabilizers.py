import pytest
import torch

from gandiag.reference_models.interpolation import interpolation_grid, lerp, slerp
from gandiag.reference_models.stabilizers import EMA, annealed_std


def test_ema_follows_the_lerp_rule_and_round_trips():
    net = torch.nn.Linear(3, 2)
    ema = EMA(net, decay=0.9)
    before = ema.module.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update()
    torch.testing.assert_close(ema.module.weight, 0.9 * before + 0.1 * net.weight.detach())
    other = EMA(torch.nn.Linear(3, 2), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.decay == 0.9 and torch.equal(other.module.weight, ema.module.weight)
    assert not any(p.requires_grad for p in ema.module.parameters())
    with pytest.raises(ValueError, match="0.999"):
        EMA(net, decay=1.0)


def test_instance_noise_anneals_linearly_to_zero():
    assert annealed_std(0, 0.2, 100) == 0.2
    assert annealed_std(50, 0.2, 100) == pytest.approx(0.1)
    assert annealed_std(150, 0.2, 100) == 0.0
    assert annealed_std(10**6, 0.2, 0) == 0.2


def test_slerp_hits_end_points_and_keeps_norm_on_the_sphere():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(4, 16, generator=g), torch.randn(4, 16, generator=g)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    path = slerp(z0, z1, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path[:, 0], z0)
    torch.testing.assert_close(path[:, -1], z1, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(path.norm(dim=2), z0.norm(dim=1, keepdim=True).expand(4, 5))
    torch.testing.assert_close(lerp(z0, z1, torch.tensor([0.5]))[:, 0], (z0 + z1) / 2)


def test_interpolation_grid_rows_walk_between_latents():
    out = interpolation_grid(
        lambda z: z * 2, torch.zeros(3, 2) + 1, torch.zeros(3, 2) + 3, steps=4, spherical=False
    )
    assert out.shape == (12, 2)
    torch.testing.assert_close(out[:4, 0], torch.tensor([2.0, 10 / 3, 14 / 3, 6.0]))
    with pytest.raises(ValueError, match="at least 2"):
        interpolation_grid(lambda z: z, torch.zeros(1, 2), torch.zeros(1, 2), steps=1)


def test_ema_update_takes_a_scheduled_decay():
    net = torch.nn.Linear(3, 2)
    ema = EMA(net, decay=0.999)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(decay=0.0)  # a copy
    torch.testing.assert_close(ema.module.weight, net.weight, rtol=0, atol=0)
    with pytest.raises(ValueError, match="decay"):
        ema.update(decay=1.0)

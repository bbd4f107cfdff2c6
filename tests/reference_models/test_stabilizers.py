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


def test_ema_rampup_caps_the_half_life_at_a_share_of_the_updates_so_far():
    """stylegan2-ada's ramp-up counted in updates: the first update copies, the half-life is
    at most ``rampup`` x updates, and past ``half_life / rampup`` it is the constant decay."""
    import math

    net = torch.nn.Linear(3, 2)
    ema = EMA(net, decay=0.999, rampup=0.05)
    assert ema.beta() == 0.0  # the first update copies the network
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update()
    torch.testing.assert_close(ema.module.weight, net.weight, rtol=0, atol=0)
    ema.updates = 200  # half-life min(693, 10) = 10 updates
    assert ema.beta() == pytest.approx(0.5 ** (1 / 10), rel=1e-12)
    ema.updates = 20_000  # past 693 / 0.05: the reference's constant decay
    assert ema.beta() == pytest.approx(0.999, rel=1e-12)
    assert math.log(0.5) / math.log(0.999) / 0.05 < 20_000
    # without a ramp-up nothing changes: a constant decay at every update
    assert EMA(net, decay=0.999).beta() == 0.999
    with pytest.raises(ValueError, match="rampup"):
        EMA(net, rampup=0.0)


def test_ema_state_round_trips_the_ramp_and_loads_states_saved_before_it():
    net = torch.nn.Linear(3, 2)
    ema = EMA(net, decay=0.999, rampup=0.05)
    for _ in range(7):
        ema.update()
    other = EMA(torch.nn.Linear(3, 2), decay=0.999, rampup=0.05)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 7 and other.beta() == ema.beta()
    old = {"decay": 0.999, "module": ema.module.state_dict()}  # no "rampup", no "updates"
    other.load_state_dict(old)
    assert other.beta() == 0.999  # the constant decay it was trained with

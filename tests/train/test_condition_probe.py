"""The condition probe: epsilon-squared shares on known layouts, and on toy generators."""

import torch
from torch import nn

from gandiag import signals as S
from gandiag.train.condition_probe import ConditionProbe, crossed_share, one_way_share


def test_one_way_share_is_one_without_within_group_spread_and_near_zero_for_noise():
    labels = torch.arange(40) % 4
    means = torch.randn(4, 1, 8, 8)
    assert abs(one_way_share(means[labels], labels) - 1.0) < 1e-12
    g = torch.Generator().manual_seed(0)
    shares = [one_way_share(torch.randn(40, 1, 8, 8, generator=g), labels) for _ in range(50)]
    assert abs(sum(shares) / len(shares)) < 0.01  # unbiased under the null, not (K-1)/N
    assert all(s > -0.1 for s in shares)


def test_one_way_share_matches_its_definition_on_a_small_case():
    x = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # SS_total 104, SS_between 100, MS_within 4 / 2 = 2: (100 - 1 * 2) / 104
    assert abs(one_way_share(x, labels) - 98.0 / 104.0) < 1e-12


def test_crossed_share_separates_class_noise_and_interaction():
    g = torch.Generator().manual_seed(1)
    rows, cols = torch.randn(5, 1, 30, generator=g), torch.randn(1, 12, 30, generator=g)
    assert abs(crossed_share(rows + 0 * cols) - 1.0) < 1e-12
    assert abs(crossed_share(cols.expand(5, 12, 30).clone())) < 1e-12  # class ignored: exactly 0
    both = crossed_share(rows + cols)  # equal variances: about half
    assert 0.3 < both < 0.7
    # an interaction-only layout (a class effect that averages out over z): no main effect,
    # and the chance correction gives -(K-1) MS_int / SS_total = -1 / (M - 1)
    inter = torch.randn(5, 12, 30, generator=g)
    inter = inter - inter.mean(0, keepdim=True) - inter.mean(1, keepdim=True) + inter.mean((0, 1))
    assert abs(crossed_share(inter) + 1.0 / 11.0) < 1e-9


class _Toy(nn.Module):
    """x = a * class pattern + noise pattern of z: ``a`` sets how much G follows the class."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = a
        g = torch.Generator().manual_seed(2)
        self.patterns = torch.randn(10, 64, generator=g)
        self.mix = torch.randn(8, 64, generator=g)

    def forward(self, z, y):
        return (self.a * self.patterns[y] + z @ self.mix).view(-1, 1, 8, 8)


def test_probe_tells_a_following_generator_from_an_ignoring_one():
    labels = torch.arange(200) % 10
    g = torch.Generator().manual_seed(3)
    real = (torch.randn(10, 64, generator=g)[labels] + torch.randn(200, 64, generator=g)).view(
        -1, 1, 8, 8
    )
    probe = ConditionProbe(real, labels, 10, 8, torch.device("cpu"), seed=0)
    follows, ignores = _Toy(1.0), _Toy(0.0)
    out_f = probe(follows)
    out_i = probe(ignores)
    assert 0.3 < out_f[S.COND_VARIANCE_SHARE_REAL] < 0.7
    assert out_f[S.COND_VARIANCE_SHARE] > 0.05
    assert abs(out_i[S.COND_VARIANCE_SHARE]) < 1e-9
    # within a class both toys vary with z as the reals do (the same mixing scale, roughly)
    assert 0.3 < out_f[S.COND_WITHIN_CLASS_SPREAD] < 30
    collapsed = _Toy(1.0)
    collapsed.mix = collapsed.mix * 0.0  # z changes nothing: one image per class
    assert probe(collapsed)[S.COND_WITHIN_CLASS_SPREAD] == 0.0
    assert S.COND_D_MATCH_GAP not in out_f
    # with a discriminator: the mean logit under the right class minus under a wrong one

    class Match(nn.Module):
        def forward(self, x, y):
            return (y == probe.labels).float() * 2.0 + 0 * x.flatten(1)[:, 0]

    out = probe(follows, Match())
    assert out[S.COND_D_MATCH_GAP] == 2.0  # every wrong label differs from the true one

import numpy as np
import pytest
import torch
from agreement import assert_agrees
from torch_fidelity.metric_isc import isc_features_to_metric
from torchmetrics.image.inception import InceptionScore

from gandiag.metrics import inception_score


def _logits(n=500, c=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c)) * 3


def test_agrees_with_torch_fidelity():
    x = _logits()
    ref = isc_features_to_metric(torch.from_numpy(x), splits=10, shuffle=False)
    ours = inception_score(x, 10)
    assert ours.mean == pytest.approx(ref["inception_score_mean"], rel=1e-6)
    # The spread of split scores is a difference of numbers of the size of the score.
    assert_agrees(ours.std, float(ref["inception_score_std"]), scale=ours.mean)


def test_agrees_with_torchmetrics_with_ddof_1():
    x = _logits(seed=1)
    metric = InceptionScore(feature=torch.nn.Identity(), splits=10)
    metric.update(torch.from_numpy(x))
    torch.manual_seed(7)
    ref_mean, ref_std = metric.compute()
    torch.manual_seed(7)
    perm = torch.randperm(len(x)).numpy()  # torchmetrics shuffles with the global torch RNG
    ours = inception_score(x[perm], 10, ddof=1)
    assert ours.mean == pytest.approx(float(ref_mean), rel=1e-6)
    assert_agrees(ours.std, float(ref_std), scale=ours.mean)


def test_invariants():
    # One confident class for everything: IS = 1. Uniformly confident over C classes: IS = C.
    one = np.tile([50.0] + [0.0] * 9, (100, 1))
    assert inception_score(one, 5).mean == pytest.approx(1.0, abs=1e-9)
    spread = np.repeat(np.eye(10) * 50, 10, axis=0)
    assert inception_score(spread, 1).mean == pytest.approx(10.0, rel=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="splits"):
        inception_score(_logits(5), 10)
    with pytest.raises(ValueError, match="ddof"):
        inception_score(_logits(), 10, ddof=2)

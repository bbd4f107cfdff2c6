import numpy as np
import pytest
from agreement import assert_agrees, kernel_scale
from cleanfid.fid import kernel_distance

from gandiag.metrics import kernel_inception_distance, kid_bootstrap
from gandiag.metrics import kid as kid_module


def _sets(seed=0, n_r=400, n_f=300, d=32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_r, d)), rng.normal(size=(n_f, d)) * 1.1 + 0.1


def _cleanfid_subsets(n_real, n_fake, num_subsets, m, seed):
    # clean-fid draws, per subset, fake (its feats2) then real (feats1) from the global RNG.
    np.random.seed(seed)
    out = []
    for _ in range(num_subsets):
        j = np.random.choice(n_fake, m, replace=False)
        i = np.random.choice(n_real, m, replace=False)
        out.append((i, j))
    return out


@pytest.mark.parametrize("m", [100, 300])
def test_agrees_with_cleanfid_on_the_same_subsets(m):
    real, fake = _sets()
    np.random.seed(123)
    ref = kernel_distance(real, fake, num_subsets=20, max_subset_size=m)
    subsets = _cleanfid_subsets(len(real), len(fake), 20, min(m, 300), 123)
    ours = kernel_inception_distance(real, fake, subsets=subsets)
    assert_agrees(ours.mean, ref, scale=kernel_scale(real, fake))
    assert ours.num_subsets == 20


def test_gram_and_per_subset_paths_agree(monkeypatch):
    real, fake = _sets(1)
    a = kernel_inception_distance(real, fake, 30, 100, seed=4)
    monkeypatch.setattr(kid_module, "_MAX_GRAM_ENTRIES", 0)
    b = kernel_inception_distance(real, fake, 30, 100, seed=4)
    assert_agrees(a.mean, b.mean, scale=kernel_scale(real, fake), rel=1e-10)
    assert_agrees(a.std, b.std, scale=kernel_scale(real, fake), rel=1e-8)


def test_seeded_and_separates_distributions():
    real, fake = _sets(2)
    a = kernel_inception_distance(real, fake, 50, 200, seed=1)
    assert a == kernel_inception_distance(real, fake, 50, 200, seed=1)
    rng = np.random.default_rng(9)
    same = kernel_inception_distance(real, rng.normal(size=(300, 32)), 50, 200, seed=1)
    assert abs(same.mean) < a.mean / 5


def test_subset_size_capped_and_bad_subsets_rejected():
    real, fake = _sets(3, n_r=50, n_f=40)
    assert kernel_inception_distance(real, fake, 5, 1000).subset_size == 40
    with pytest.raises(ValueError, match="equal-length"):
        kernel_inception_distance(real, fake, subsets=[(np.arange(5), np.arange(4))])
    with pytest.raises(ValueError, match="same feature extractor"):
        kernel_inception_distance(real, fake[:, :5])


def test_bootstrap_interval_brackets_the_estimate():
    real, fake = _sets(4)
    iv = kid_bootstrap(real, fake, 10, num_subsets=10, subset_size=100, seed=0)
    assert iv.low < iv.high and iv.std > 0
    assert iv == kid_bootstrap(real, fake, 10, num_subsets=10, subset_size=100, seed=0)

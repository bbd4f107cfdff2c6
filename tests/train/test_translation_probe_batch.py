"""The translation probe batch: drawn evenly from each class of the held-out set."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gandiag.monitor.translation import _largest_share
from gandiag.train.translation import _probes, balanced_indices


def _skewed_labels(seed=0, n=200):
    # class 0 takes 30% of the held-out items, the rest share 70%, in a seeded order
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.zeros(60, int), rng.integers(1, 10, n - 60)])
    return rng.permutation(labels)


def test_equal_count_of_each_class_so_chance_is_one_over_the_classes():
    labels = _skewed_labels()
    assert np.bincount(labels[:32]).max() / 32 > 0.2  # the first 32 items: a skewed batch
    idx = balanced_indices(labels, 32)
    counts = np.bincount(labels[idx], minlength=10)
    assert len(idx) == 30 and (counts == 3).all()
    assert _largest_share(torch.from_numpy(labels[idx])) == pytest.approx(0.1, abs=1e-12)


def test_each_class_gives_its_first_items_in_held_out_order():
    labels = _skewed_labels(seed=1)
    idx = balanced_indices(labels, 32)
    assert (np.diff(idx) > 0).all()  # held-out order
    for c in range(10):
        assert list(idx[labels[idx] == c]) == list(np.flatnonzero(labels == c)[:3])


def test_deterministic_and_moved_only_by_the_held_out_order():
    a, b = balanced_indices(_skewed_labels(2), 32), balanced_indices(_skewed_labels(2), 32)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, balanced_indices(_skewed_labels(3), 32))


def test_a_short_class_gives_what_it_has():
    labels = np.array([c for c in range(10) for _ in range(5)] + [3] * 20)
    labels[labels == 9] = 8  # class 9 gone
    labels[0] = 9  # one item of class 9
    idx = balanced_indices(labels, 32)
    counts = np.bincount(labels[idx], minlength=10)
    assert counts[9] == 1 and (counts[:9] == 3).all()


def test_fewer_items_than_classes_takes_one_of_each_of_the_first_classes():
    labels = np.array([4, 4, 7, 1, 7, 2])
    assert list(labels[balanced_indices(labels, 2)]) == [4, 7]
    with pytest.raises(ValueError, match="at least 1"):
        balanced_indices(labels, 0)


def _held(paired, n=60, seed=0):
    rng = np.random.default_rng(seed)
    lx = torch.from_numpy(
        rng.permutation(np.arange(n) % 10 if seed else np.r_[[0] * 20, np.arange(n - 20) % 10])
    )
    ly = torch.from_numpy(rng.permutation(np.arange(n) % 10))
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4) / n
    # the item's own index in every pixel: a pair's target is its input negated
    y = (
        -x
        if paired
        else torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4) / (2 * n)
    )
    return SimpleNamespace(
        x=x, y=y, labels_x=lx, labels_y=lx if paired else ly, paired=paired, task="translation"
    )


def _bundle(cyclegan):
    gens = (
        {"G_AB": torch.nn.Identity(), "G_BA": torch.nn.Identity()}
        if cyclegan
        else {"G": torch.nn.Identity()}
    )
    inverses = {"G_AB": "G_BA", "G_BA": "G_AB"} if cyclegan else {}
    return SimpleNamespace(
        name="cyclegan" if cyclegan else "pix2pix", generators=gens, inverses=inverses
    )


def test_paired_probe_keeps_its_pairs_and_is_balanced():
    held = _held(paired=True)
    (probe,) = _probes(_bundle(False), held, 20, seed=0).values()
    assert torch.equal(probe.t, -probe.x)  # each target is its own input's
    assert torch.equal(probe.target_labels, probe.labels)
    assert (torch.bincount(probe.labels, minlength=10) == 2).all()


def test_unpaired_probes_balance_each_domain_by_its_own_classes():
    held = _held(paired=False, seed=1)
    probes = _probes(_bundle(True), held, 20, seed=0)
    for name in ("G_AB", "G_BA"):
        p = probes[name]
        assert (torch.bincount(p.labels, minlength=10) == 2).all(), name
        assert (torch.bincount(p.target_labels, minlength=10) == 2).all(), name
    # B -> A translates the B items that A -> B compares with, and back
    assert torch.equal(probes["G_BA"].x, probes["G_AB"].t)
    assert torch.equal(probes["G_BA"].t, probes["G_AB"].x)

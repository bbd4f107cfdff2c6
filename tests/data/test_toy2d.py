import numpy as np
import pytest

from gandiag import signals
from gandiag.data import grid, load_dataset, ring, score_modes, spiral


@pytest.mark.parametrize("modes,k", [(ring(), 8), (grid(), 25), (spiral(), 20)])
def test_true_samples_cover_every_mode_with_the_chi2_share(modes, k):
    pts, _ = modes.sample(20_000, np.random.default_rng(0))
    s = score_modes(pts, modes)
    assert s.modes_covered == s.num_modes == k
    # P(||N(0, s^2 I_2)|| <= 3s) = 1 - exp(-4.5)
    assert s.hq_share == pytest.approx(1 - np.exp(-4.5), abs=0.005)
    assert s.dominant_share < 2.0 / k


def test_ring_geometry_matches_the_papers():
    m = ring()
    assert np.allclose(np.linalg.norm(m.centers, axis=1), 2.0)
    assert m.sigma == 0.02 and m.num_modes == 8
    assert np.allclose(m.centers[0], [2, 0])  # angles start at 0, no duplicated endpoint
    g = grid()
    assert sorted(set(g.centers[:, 0].round(6))) == [-4, -2, 0, 2, 4]


def test_collapsed_samples_cover_one_mode():
    m = ring()
    pts = m.centers[3] + m.sigma * np.random.default_rng(1).standard_normal((500, 2))
    s = score_modes(pts, m)
    assert (s.modes_covered, s.dominant_mode) == (1, 3)
    assert s.dominant_share == 1.0
    assert s.counts[3] == pytest.approx(500 * 0.989, abs=15)


def test_samples_between_modes_are_low_quality_and_nonfinite_ones_count_against():
    m = ring()
    s = score_modes(np.zeros((10, 2)), m)  # the centre of the ring: far from every mode
    assert s.modes_covered == 0 and s.hq_share == 0
    pts = np.concatenate([m.centers, np.full((8, 2), np.nan)])
    s = score_modes(pts, m)
    assert s.modes_covered == 8 and s.hq_share == 0.5


def test_scalars_use_signal_names():
    m = ring()
    out = score_modes(m.centers, m).to_scalars()
    assert out[signals.EVAL_MODES_COVERED] == 8 and out[signals.EVAL_NUM_MODES] == 8
    assert set(out) == {
        signals.EVAL_MODES_COVERED,
        signals.EVAL_NUM_MODES,
        signals.EVAL_HQ_SHARE,
        signals.EVAL_DOMINANT_MODE,
        signals.EVAL_DOMINANT_SHARE,
    }


def test_bad_shapes_are_explained():
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        score_modes(np.zeros((4, 3)), ring())


def test_point_datasets_are_seeded():
    a = load_dataset("ring8", n=100, seed=1).array
    assert np.array_equal(a, load_dataset("ring8", n=100, seed=1).array)
    assert not np.array_equal(a, load_dataset("ring8", n=100, seed=2).array)

import numpy as np
import pytest

from gandiag.data import load_dataset, make_moving_glyphs
from gandiag.data.moving_glyphs import NUM_DIRECTIONS


def test_deterministic_by_seed_and_shaped_as_clips():
    a, ya, da = make_moving_glyphs(40, seed=3)
    b, yb, db = make_moving_glyphs(40, seed=3)
    c, _, _ = make_moving_glyphs(40, seed=4)
    assert a.shape == (40, 8, 1, 32, 32) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(da, db)
    assert not np.array_equal(a, c)
    assert set(ya.tolist()) == set(range(10))
    assert ((0 <= da) & (da < NUM_DIRECTIONS)).all()


def test_glyphs_move_and_stay_in_frame():
    x, _, _ = make_moving_glyphs(30, seed=0, speed=(2.0, 2.0))
    x = x.astype(np.float64)[:, :, 0]
    mass = x.sum((2, 3))
    assert (mass > 0).all()  # the glyph never leaves the frame
    # 2 px per frame: centroids move between consecutive frames, by at most ~2 px
    ys, xs = np.arange(32)[:, None], np.arange(32)[None, :]
    cy = (x * ys).sum((2, 3)) / mass
    cx = (x * xs).sum((2, 3)) / mass
    step = np.hypot(np.diff(cx, axis=1), np.diff(cy, axis=1))
    assert step.mean() > 1.0
    assert step.max() < 3.5


def test_initial_direction_label_matches_the_motion():
    x, _, d = make_moving_glyphs(50, seed=1, speed=(1.0, 1.0))
    x = x.astype(np.float64)[:, :2, 0]
    mass = x.sum((2, 3))
    cx = (x * np.arange(32)[None, None, None, :]).sum((2, 3)) / mass
    cy = (x * np.arange(32)[None, None, :, None]).sum((2, 3)) / mass
    angle = np.arctan2(-(cy[:, 1] - cy[:, 0]), cx[:, 1] - cx[:, 0])  # rows grow downwards
    expected = d * 2 * np.pi / NUM_DIRECTIONS
    err = np.abs(np.angle(np.exp(1j * (angle - expected))))
    # a bounce in the first step flips a component; all others point the labelled way
    assert np.mean(err < np.pi / 8) > 0.8


def test_registered_as_a_video_dataset():
    ds = load_dataset("moving_glyphs", n=20, frames=6)
    assert ds.kind == "videos" and ds.array.shape == (20, 6, 1, 32, 32)
    assert ds.model_shape_options() == {
        "data_dim": None,
        "image_size": 32,
        "channels": 1,
        "frames": 6,
    }
    batch = ds.batch(np.arange(4))
    assert batch.dtype == np.float32 and batch.min() >= -1 and batch.max() <= 1
    assert "direction" in ds.info


@pytest.mark.parametrize(
    "kw, match",
    [({"frames": 1}, "2 frames"), ({"glyph_size": 40}, "glyph_size"), ({"glyphs": 3}, "glyphs")],
)
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        make_moving_glyphs(4, **kw)

"""FVD-lite and per-frame glyph FID on the bundled networks.

Expected order, real < shuffled < frozen: a shuffled clip keeps every frame and the
amount of motion, and since a glyph moves along a straight line between bounces, frames
taken out of order are still displaced along the same axis, so motion-sensitive features
keep part of the real statistics; a frozen clip has no motion at all, unlike every clip
the video network was trained on. Per-frame FID cannot see order: a shuffled set of clips
has exactly the frames of the original, so its per-frame FID equals the original's.
"""

import shutil

import pytest
import torch
from video_clips import clips, frozen, shuffled

from gandiag.data.moving_glyphs import make_moving_glyphs
from gandiag.features import video as video_module

CLASS_ACCURACY, DIRECTION_ACCURACY = 0.6, 0.9  # measured on the shipped weights: see docs/models.md

from gandiag.features.video import (
    VIDEO_CLASSIFIER_SHA256,
    frame_fid,
    fvd_lite,
    load_video_classifier,
    video_features,
)
from gandiag.metrics.frechet import frechet_distance


@pytest.fixture(scope="module")
def sets():
    real_a, _ = clips(300, seed=11)
    real_b, _ = clips(300, seed=12)
    rng = __import__("numpy").random.default_rng(0)
    shuf = torch.stack([shuffled(c[None], rng)[0] for c in real_b])
    return {"ref": real_a, "real": real_b, "shuffled": shuf, "frozen": frozen(real_b, rng)}


def test_fvd_lite_orders_real_shuffled_frozen(sets):
    model = load_video_classifier()
    feats = {k: video_features(v, model).numpy() for k, v in sets.items()}
    fvd = {k: frechet_distance(feats["ref"], feats[k]).fid for k in ("real", "shuffled", "frozen")}
    assert fvd["real"] < fvd["shuffled"] < fvd["frozen"], fvd
    assert fvd["real"] < 0.5 * fvd["shuffled"], fvd


def test_frame_fid_is_blind_to_frame_order(sets):
    ref = sets["ref"][:100]
    real = frame_fid(ref, sets["real"][:100]).value
    shuf = frame_fid(ref, sets["shuffled"][:100]).value
    assert shuf == pytest.approx(real, rel=1e-6, abs=1e-6)
    assert frame_fid(ref, sets["frozen"][:100]).value > real


def test_result_records_protocol(sets):
    r = fvd_lite(sets["ref"][:150], sets["real"][:150])
    assert r.name == "fvd_lite"
    assert r.protocol.weights_sha256 == VIDEO_CLASSIFIER_SHA256
    assert r.protocol.options["stand_in_for"].startswith("FVD")


def test_bundled_weights_verify_and_recognise_class_and_direction():
    assert video_module.sha256_file(video_module.WEIGHTS_PATH) == VIDEO_CLASSIFIER_SHA256
    model = load_video_classifier()
    x, y, d = make_moving_glyphs(200, seed=777)  # disjoint from the training seeds
    cls, dirs = model(torch.from_numpy(x.copy()))
    assert (cls.argmax(1).numpy() == y).mean() > CLASS_ACCURACY
    assert (dirs.argmax(1).numpy() == d).mean() > DIRECTION_ACCURACY


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    bad = tmp_path / "video_classifier.pt"
    shutil.copy(video_module.WEIGHTS_PATH, bad)
    with open(bad, "r+b") as f:
        f.seek(-100, 2)
        f.write(b"\x00" * 10)
    monkeypatch.setattr(video_module, "WEIGHTS_PATH", bad)
    with pytest.raises(ValueError, match="reinstall gandiag"):
        load_video_classifier()

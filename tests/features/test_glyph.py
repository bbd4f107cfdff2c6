import shutil

import numpy as np
import pytest
import torch

from gandiag.data.glyphs import make_glyphs
from gandiag.features import GLYPH_CLASSIFIER_SHA256, get_extractor, load_glyph_classifier
from gandiag.features import glyph as glyph_module


def test_bundled_weights_verify_and_classify_held_out_glyphs():
    assert glyph_module.sha256_file(glyph_module.WEIGHTS_PATH) == GLYPH_CLASSIFIER_SHA256
    clf = load_glyph_classifier()
    images, labels = make_glyphs(500, seed=31337)  # seeds disjoint from the training script's
    x = torch.from_numpy(np.array(images)).float().unsqueeze(1) / 127.5 - 1
    acc = (clf.logits(x).argmax(1).numpy() == labels).mean()
    assert acc > 0.98
    assert clf.features(x[:7]).shape == (7, glyph_module.FEATURE_DIM)
    assert not any(p.requires_grad for p in clf.parameters())


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    bad = tmp_path / "glyph_classifier.pt"
    shutil.copy(glyph_module.WEIGHTS_PATH, bad)
    with open(bad, "r+b") as f:
        f.seek(-100, 2)
        f.write(b"\x00" * 10)
    monkeypatch.setattr(glyph_module, "WEIGHTS_PATH", bad)
    with pytest.raises(ValueError, match="reinstall gandiag"):
        load_glyph_classifier()


def test_extractor_accepts_uint8_and_float_the_same():
    images, _ = make_glyphs(64, seed=5)
    ext = get_extractor("glyph")
    a = ext(images)
    b = ext(torch.from_numpy(np.array(images)).float().unsqueeze(1) / 127.5 - 1)
    torch.testing.assert_close(a, b)
    assert ext.logits(images).shape == (64, 10)
    assert ext.protocol()["weights_sha256"] == GLYPH_CLASSIFIER_SHA256


@pytest.mark.parametrize(
    "images, match",
    [
        (torch.rand(4, 3, 28, 28), "1-channel"),
        (torch.rand(4, 1, 32, 32), "28x28"),
        (torch.rand(4, 1, 28, 28) * 255, r"\[-1, 1\]"),
        (torch.full((4, 1, 28, 28), float("nan")), "NaN"),
    ],
)
def test_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        get_extractor("glyph")(images)

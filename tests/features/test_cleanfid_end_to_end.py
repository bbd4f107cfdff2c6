"""clean-fid's compute_fid with a custom extractor vs gandiag on the same PNG folders."""

import numpy as np
import torch
from agreement import assert_agrees, frechet_scale
from cleanfid import fid as cleanfid
from PIL import Image

from gandiag.data.glyphs import make_glyphs
from gandiag.evaluate import evaluate
from gandiag.features.glyph import sha256_file

from .test_extractors import _TinyInception


def _write_pngs(folder, images):
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:04d}.png")


def test_compute_fid_with_custom_extractor_matches(tmp_path):
    real, _ = make_glyphs(40, seed=11)
    fake, _ = make_glyphs(40, seed=12, classes=(0, 3, 8))
    _write_pngs(tmp_path / "real", real)
    _write_pngs(tmp_path / "fake", fake)
    path = tmp_path / "net.pt"
    torch.jit.script(_TinyInception()).save(str(path))
    net = torch.jit.load(str(path)).eval()

    def extractor(batch):  # clean-fid passes [B, 3, 299, 299] floats in 0..255
        with torch.no_grad():
            return net.layers((batch - 128.0) / 128.0).flatten(1)

    ref = cleanfid.compute_fid(
        str(tmp_path / "real"),
        str(tmp_path / "fake"),
        mode="clean",
        custom_feat_extractor=extractor,
        device=torch.device("cpu"),
        num_workers=0,
        batch_size=16,
        verbose=False,
    )
    ours = evaluate(
        tmp_path / "real",
        tmp_path / "fake",
        metrics=("fid",),
        extractor="inception",
        extractor_options={"path": path, "sha256": sha256_file(path)},
        bootstrap=0,
    )["fid"]
    # The features both sides computed, for the scale of the terms the distance cancels.
    feats = [
        cleanfid.get_folder_features(
            str(tmp_path / side),
            model=extractor,
            num_workers=0,
            batch_size=16,
            device=torch.device("cpu"),
            mode="clean",
            verbose=False,
        )
        for side in ("real", "fake")
    ]
    assert_agrees(ours.value, ref, scale=frechet_scale(*feats), rel=1e-6)
    assert ref < 1e-2 * frechet_scale(*feats)  # the case that needs the scaled tolerance
    assert ours.protocol.num_real == 40 and "bicubic" in ours.protocol.preprocessing
    assert np.isfinite(ours.value) and ours.value > 0

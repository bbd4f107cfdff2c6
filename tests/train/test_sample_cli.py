"""``gandiag sample RUN --n N --out DIR``: samples from a trained run's checkpoint."""

import numpy as np

from gandiag.cli import main
from gandiag.evaluate import load_images
from gandiag.train import train


def test_sample_points_from_a_2d_run(tmp_path, tiny_config):
    run = train(tiny_config(), tmp_path / "ring", progress=False)
    assert main(["sample", str(run), "--n", "37", "--out", str(tmp_path / "s")]) == 0
    pts = np.load(tmp_path / "s" / "points.npy")
    assert pts.shape == (37, 2) and np.isfinite(pts).all()


def test_sample_images_from_an_image_run(tmp_path, tiny_config):
    cfg = tiny_config(
        model={"name": "vae", "options": {"latent_dim": 4}},
        data={"name": "glyphs", "options": {"n": 256}, "batch_size": 32},
    )
    run = train(cfg, tmp_path / "vae", progress=False)
    out = tmp_path / "imgs"
    args = ["sample", str(run), "--n", "12", "--out", str(out), "--grid", str(tmp_path / "g.png")]
    assert main(args) == 0
    images = load_images(out)
    assert images.shape == (12, 1, 28, 28) and (tmp_path / "g.png").stat().st_size > 0
    assert main(["sample", str(run), "--n", "12", "--out", str(tmp_path / "again")]) == 0
    np.testing.assert_array_equal(load_images(tmp_path / "again").numpy(), images.numpy())


def test_sample_without_checkpoint_names_the_fix(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["sample", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "checkpoint" in capsys.readouterr().err

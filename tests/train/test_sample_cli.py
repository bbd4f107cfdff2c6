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


def _unit(images):
    """PNG pixels (0..255, as load_images reads them) back to the generators' [-1, 1]."""
    return images.float().numpy() / 127.5 - 1


def _translation_config(model, data):
    return {
        "steps": 2,
        "model": {"name": model, "options": {"width": 4, "d_width": 4}},
        "data": {"name": data, "options": {"n": 60}, "batch_size": 4},
        "translation": {"probe_every": 0},
        "eval": {"every": 0, "metrics": []},
        "monitor": {"cadence": {"flush": 1, "samples": 1, "layers": 1, "grid": 0}},
    }


def test_sample_translates_the_runs_held_out_inputs(tmp_path, capsys):
    import torch

    from gandiag.cli.sample import load_sampler
    from gandiag.data import load_dataset
    from gandiag.train.config import load_config
    from gandiag.train.translation import held_out

    cfg = _translation_config("cyclegan", "glyphs_unpaired")
    run = train(cfg, tmp_path / "cyc", progress=False)
    out, grid = tmp_path / "ab", tmp_path / "g.png"
    assert main(["sample", str(run), "--n", "5", "--out", str(out), "--grid", str(grid)]) == 0
    images = load_images(out)
    assert images.shape == (5, 1, 28, 28) and grid.stat().st_size > 0
    # the outputs are G_AB of the held-out inputs the run's loop held out, in order
    bundle = load_sampler(run)
    held = held_out(load_config(cfg), load_dataset("glyphs_unpaired", n=60), torch.device("cpu"))
    with torch.no_grad():
        want = bundle.generators["G_AB"](held.x[:5])
    np.testing.assert_allclose(_unit(images), want.numpy(), atol=1.01 / 127.5)
    # the inverse translates the other domain's held-out images
    assert (
        main(["sample", str(run), "--generator", "G_BA", "--n", "3", "--out", str(tmp_path / "ba")])
        == 0
    )
    with torch.no_grad():
        back = bundle.generators["G_BA"](held.y[:3])
    np.testing.assert_allclose(_unit(load_images(tmp_path / "ba")), back.numpy(), atol=1.01 / 127.5)
    capsys.readouterr()
    assert main(["sample", str(run), "--generator", "G", "--out", str(tmp_path / "x")]) == 2
    assert "G_AB, G_BA" in capsys.readouterr().err


def test_sample_clips_from_a_video_run(tmp_path):
    from gandiag.train.config import load_config

    cfg = load_config("configs/dvdgan_moving_glyphs.toml").to_dict()
    cfg["steps"] = 1
    cfg["data"].update(batch_size=4, options={"n": 40})
    cfg["eval"].update(every=0, metrics=[])
    run = train(cfg, tmp_path / "video", progress=False)
    out = tmp_path / "clips"
    assert (
        main(["sample", str(run), "--n", "3", "--out", str(out), "--grid", str(tmp_path / "g.png")])
        == 0
    )
    clips = np.load(out / "clips.npy")
    n, t, c, h, w = clips.shape
    assert n == 3 and c == 1 and np.isfinite(clips).all()
    strips = load_images(out)  # one PNG per clip: its frames left to right
    assert strips.shape == (3, 1, h, t * w)
    np.testing.assert_allclose(
        _unit(strips[1, 0, :, 2 * w : 3 * w]), clips[1, 2, 0], atol=1.01 / 127.5
    )


def test_stored_config_reads_a_trained_run_and_names_a_run_of_ones_own_loop(tmp_path):
    import pytest
    from torch import nn

    import gandiag
    from gandiag.train.config import stored_config

    cfg = _translation_config("pix2pix", "glyphs_edges")
    run = train(cfg, tmp_path / "p2p", progress=False)
    back = stored_config(run)
    assert back.model.name == "pix2pix" and back.data.name == "glyphs_edges"
    mine = gandiag.Monitor(
        tmp_path / "mine", generator=nn.Linear(2, 2), discriminator=nn.Linear(2, 1), detectors=None
    )
    mine.close()
    with pytest.raises(ValueError, match="not written by `gandiag train`"):
        stored_config(tmp_path / "mine")

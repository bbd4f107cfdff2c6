"""DVD-GAN-lite trains from its configs on the CPU, watched by the Monitor."""

import pytest
import torch

from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.config import load_config


def _tiny(name: str, **over) -> dict:
    cfg = load_config(f"configs/{name}.toml").to_dict()
    cfg["steps"] = 3
    # 12 clips of 10 classes: at least one same-class pair for motion diversity
    cfg["data"].update(batch_size=12, options={"n": 60})
    cfg["eval"].update(every=0, num_samples=8, num_real=8, metrics=[])
    cfg["monitor"]["cadence"] = {"samples": 1, "layers": 1, "grid": 2, "flush": 1}
    for k, v in over.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) else v
    return cfg


def test_trains_a_few_steps_and_records_video_signals(tmp_path):
    run = train(_tiny("dvdgan_moving_glyphs"), tmp_path / "run", progress=False)
    with RunReader(run) as r:
        recs = list(r.read_records())
        names = set().union(*(rec.scalars for rec in recs))
        grids = r.sample_grids("samples")
        kind = r.info().kind
    assert kind == "video"  # the model's kind (the detector set it runs), not "gan"
    for sig in (
        "loss/D_S",
        "loss/D_T",
        "grad/D_S/norm",
        "grad/D_T/norm",
        "d/D_S/real/raw_std",
        "d/D_T/fake/raw_mean",
        "video/motion_ratio",
        "video/recurrence_excess",
        "video/coherence_fake",
        "video/coherence_real",
        # the flip rates are absent at steps whose fakes hold no legible frame pair; the
        # legible shares are always there when the glyph classifier is
        "video/legible_fake",
        "video/motion_diversity_ratio",
        "eval/motion_ratio",
    ):
        assert sig in names, sig
    assert all(torch.isfinite(torch.tensor(v)) for v in recs[-1].scalars.values())
    # the frame strip: 10 clips (one per class) x 8 frames, as a PNG like other grids
    from PIL import Image

    assert grids
    img = Image.open(grids[-1].path)
    assert img.width > img.height * 0.6  # 8 columns of frames by 10 rows


def test_config_variants(tmp_path):
    cfg = load_config("configs/dvdgan_no_temporal.toml")
    assert cfg.model.options == {"temporal": False}
    assert load_config("configs/dvdgan_frozen_temporal.toml").optim.lr_d_t == 0.0
    run = train(_tiny("dvdgan_frozen_temporal"), tmp_path / "frozen", progress=False)
    with RunReader(run) as r:
        recs = list(r.read_records())
    ratios = [rec.scalars["update/D_T/ratio"] for rec in recs if "update/D_T/ratio" in rec.scalars]
    assert ratios and max(ratios) == 0.0  # lr_d_t = 0: D_T never moves
    assert any(rec.scalars.get("update/D_S/ratio", 0) > 0 for rec in recs)


def test_image_gan_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="gan.gp"):
        train(_tiny("dvdgan_moving_glyphs", gan={"gp": 10.0}), tmp_path / "x", progress=False)


def test_label_free_coverage_embeds_clips_with_the_video_network(tmp_path, caplog):
    # D_S and D_T need labels and frame indices: the trainer gives the coverage probe the
    # bundled video network's features instead, so coverage is computed, not turned off
    cfg = _tiny("dvdgan_moving_glyphs", steps=4)
    cfg["monitor"]["cadence"] = {
        "samples": 1,
        "layers": 1,
        "grid": 2,
        "flush": 1,
        "coverage": 2,
        "coverage_reservoir": 24,
        "coverage_probe": 12,
        "coverage_bins": 4,
    }
    with caplog.at_level("WARNING", logger="gandiag"):
        run = train(cfg, tmp_path / "run", progress=False)
    assert "coverage probe turned off" not in caplog.text
    with RunReader(run) as r:
        names = set().union(*(rec.scalars for rec in r.read_records()))
    assert "coverage/recall" in names and "coverage/top_bin_share" in names


def test_configs_carry_the_video_benchmarks_training_settings():
    """The configurations are the benchmark's cases: same length and D steps per G step,
    and the failure each one names is its only difference from the healthy one."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from failure_suite_video import VIDEO_CONFIGS, VIDEO_LR, VIDEO_STEPS

    healthy = load_config("configs/dvdgan_moving_glyphs.toml")
    for name, case in (
        ("dvdgan_moving_glyphs", "video_healthy"),
        ("dvdgan_no_temporal", "video_no_temporal"),
        ("dvdgan_frozen_temporal", "video_frozen_temporal"),
        ("dvdgan_state_reset", "video_chunked"),
        ("dvdgan_framewise", "video_framewise"),
    ):
        cfg = load_config(f"configs/{name}.toml")
        bench = VIDEO_CONFIGS[case]
        assert cfg.steps == VIDEO_STEPS and cfg.gan.d_steps == bench["d_steps"], name
        assert (cfg.optim.lr_g, cfg.optim.lr_d) == (VIDEO_LR["g"], VIDEO_LR["d"]), name
        assert cfg.model.options.get("temporal", True) == bench.get("temporal", True)
        assert cfg.optim.lr_d_t == bench.get("lr_d_t")
        model_opts = {k: v for k, v in bench.items() if k not in ("d_steps", "lr_d_t")}
        assert cfg.model.options == model_opts, name
        assert cfg.to_dict()["data"] == healthy.to_dict()["data"], name

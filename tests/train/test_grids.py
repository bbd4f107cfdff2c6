"""Sample grids drawn by the trainer, and the glyph evaluation run by its periodic evaluation."""

import io
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gandiag import signals
from gandiag.data import load_dataset
from gandiag.reference_models import build_model
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.checkpoint import checkpoint_path
from gandiag.train.evaluation import Evaluator
from gandiag.train.grids import COLUMNS, SampleGrids


def _grids(reader, name):
    return {g.step: g.path for g in reader.sample_grids(name)}


def _glyph_cfg(tiny_config, model, options, eval_options=None):
    return tiny_config(
        steps=5,
        model={"name": model, "options": options},
        data={"name": "glyphs", "options": {"n": 96}, "batch_size": 16},
        eval={"every": 3, "num_samples": 32, "num_real": 32, "metrics": [], **(eval_options or {})},
        monitor={"cadence": {"flush": 2, "samples": 2, "layers": 2, "grid": 1000, "grid_size": 16}},
    )


def test_gan_grids_at_start_each_evaluation_and_the_end_show_the_final_generator(
    tmp_path, tiny_config
):
    options = {"width": 8, "latent_dim": 8}
    run = train(_glyph_cfg(tiny_config, "dcgan", options), tmp_path / "run", progress=False)
    reader = RunReader(run)
    samples = _grids(reader, "samples")
    # step 0, the evaluation at step 3 and the last step; the grid cadence (1000) adds none
    assert sorted(samples) == [0, 3, 4]
    assert "reconstructions" not in {g.name for g in reader.sample_grids()}

    # The last grid is the final generator on the fixed latent batch: rebuild it from the
    # checkpoint and render the same PNG.
    info = reader.info()
    bundle = build_model("dcgan", seed=0, **info.config["model_options"])
    bundle.generator.load_state_dict(
        torch.load(checkpoint_path(run), weights_only=True)["stepper"]["G"]
    )
    grids = SampleGrids(bundle, torch.zeros(16, 1, 28, 28), 16, seed=0, device=torch.device("cpu"))
    assert grids.render(bundle.generator.eval())["samples"] == samples[4].read_bytes()
    assert samples[0].read_bytes() != samples[4].read_bytes()  # the generator did change


def test_vae_grids_hold_prior_samples_and_input_reconstruction_rows(tmp_path, tiny_config):
    options = {"width": 8, "latent_dim": 4}
    run = train(_glyph_cfg(tiny_config, "conv_vae", options), tmp_path / "run", progress=False)
    reader = RunReader(run)
    assert sorted(_grids(reader, "samples")) == [0, 3, 4]
    recon = _grids(reader, "reconstructions")
    assert sorted(recon) == [0, 3, 4]
    image = np.asarray(Image.open(io.BytesIO(recon[4].read_bytes())))
    # 16 inputs -> 2 input rows + 2 reconstruction rows of COLUMNS tiles (upscaled, padded)
    assert image.shape[1] / image.shape[0] == pytest.approx(COLUMNS / 4, rel=0.05)


def test_two_d_grids_are_scatters_and_a_resumed_run_draws_the_same_latents(tmp_path, tiny_config):
    cfg = tiny_config(steps=6, eval={"every": 0}, monitor={"cadence": {"grid": 4}})
    straight = train(cfg, tmp_path / "straight", progress=False)
    part = train(
        tiny_config(steps=3, eval={"every": 0}, monitor={"cadence": {"grid": 4}}),
        tmp_path / "part",
        progress=False,
    )
    train(cfg, part, resume=True, progress=False)
    a, b = _grids(RunReader(straight), "samples"), _grids(RunReader(part), "samples")
    assert sorted(a) == [0, 4, 5]
    assert set(b) == {0, 2, 4, 5}  # the shorter first run ended (and drew a grid) at step 2
    for step in (0, 4, 5):
        assert a[step].read_bytes() == b[step].read_bytes()


def test_conditional_grids_cycle_through_the_classes():
    bundle = build_model("cgan", seed=0, width=8, latent_dim=8, num_classes=10)
    grids = SampleGrids(bundle, torch.zeros(20, 1, 28, 28), 20, seed=3, device=torch.device("cpu"))
    assert grids.y.tolist() == [i % 10 for i in range(20)]


# -- glyph evaluation ---------------------------------------------------------------------------
def test_real_glyphs_score_as_all_classes_under_the_glyph_classifier():
    ds = load_dataset("glyphs", n=1000, seed=1)
    evaluator = Evaluator(ds, [], 10, torch.device("cpu"), seed=0)
    scalars, results = evaluator(torch.from_numpy(ds.batch(np.arange(1000))), step=0)
    assert results == []
    assert scalars[signals.EVAL_CLASSES_COVERED] == 10
    assert scalars[signals.EVAL_DOMINANT_SHARE] < 0.15  # make_glyphs draws classes uniformly
    assert scalars[signals.EVAL_CLASS_ENTROPY] > 0.98 * math.log(10)
    # one class only: one class covered, zero entropy
    one = np.flatnonzero(ds.labels == 3)[:100]
    scalars, _ = evaluator(torch.from_numpy(ds.batch(one)), step=0)
    assert scalars[signals.EVAL_CLASSES_COVERED] == 1
    assert scalars[signals.EVAL_DOMINANT_MODE] == 3
    assert scalars[signals.EVAL_CLASS_ENTROPY] == pytest.approx(0.0, abs=0.1)


def test_class_consistency_is_one_for_reals_under_their_labels_and_chance_for_wrong_ones():
    ds = load_dataset("glyphs", n=1000, seed=1, image_size=32)
    evaluator = Evaluator(ds, [], 500, torch.device("cpu"), seed=0)
    held = np.arange(500, 1000)  # other reals than the evaluator's own
    x, y = torch.from_numpy(ds.batch(held)), torch.from_numpy(ds.labels[held])
    right, _ = evaluator(x, step=0, labels=y)
    assert right[signals.EVAL_CLASS_ACCURACY_REAL] > 0.8
    assert right[signals.EVAL_CLASS_CONSISTENCY] == pytest.approx(1.0, abs=0.1)
    # images that vary with the class, but each shows the next class: accuracy 0
    wrong, _ = evaluator(x, step=0, labels=(y + 1) % 10)
    assert wrong[signals.EVAL_CLASS_ACCURACY] < 0.05
    assert wrong[signals.EVAL_CLASS_CONSISTENCY] < 0.0  # below chance
    # labels that have nothing to do with the images: chance
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    blind, _ = evaluator(x, step=0, labels=shuffled)
    assert blind[signals.EVAL_CLASS_CONSISTENCY] == pytest.approx(0.0, abs=0.1)
    # an unconditional model's samples get no consistency
    assert signals.EVAL_CLASS_CONSISTENCY not in evaluator(x, step=0)[0]


def test_upsampled_samples_are_compared_with_reals_at_their_resolution():
    from gandiag.train.evaluation import upsampling_factor

    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 32, 32, generator=g)
    assert upsampling_factor(x) == 1
    for f in (2, 4, 8):
        coarse = F.interpolate(F.avg_pool2d(x, f), scale_factor=f)
        assert upsampling_factor(coarse) == f
    assert upsampling_factor(F.interpolate(x[..., :16, :16], scale_factor=2, mode="bilinear")) == 1
    # StackGAN's stage I: 16 px images upsampled; reals brought to 16 px have the same ceiling
    ds = load_dataset("glyphs", n=1000, seed=1, image_size=32)
    evaluator = Evaluator(ds, [], 500, torch.device("cpu"), seed=0)
    held = np.arange(500, 1000)
    full = torch.from_numpy(ds.batch(held))
    small = F.interpolate(F.avg_pool2d(full, 2), scale_factor=2)
    y = torch.from_numpy(ds.labels[held])
    at16, _ = evaluator(small, step=0, labels=y)
    at32, _ = evaluator(full, step=0, labels=y)
    assert at16[signals.EVAL_CLASS_CONSISTENCY] == pytest.approx(1.0, abs=0.1)
    assert at16[signals.EVAL_CLASS_ACCURACY_REAL] <= at32[signals.EVAL_CLASS_ACCURACY_REAL]


@pytest.mark.filterwarnings("ignore:.*rank-deficient:UserWarning")
def test_larger_glyphs_are_scored_at_the_classifiers_size_and_the_protocol_says_so():
    # 32-px glyphs (progressive growing, StyleGAN, StackGAN) and a 16-px early phase: the
    # metrics are computed on both sets resized to 28x28, not skipped
    ds = load_dataset("glyphs", n=400, seed=1, image_size=32)
    evaluator = Evaluator(ds, ["fid", "pr"], 200, torch.device("cpu"), seed=0)
    real32 = torch.from_numpy(ds.batch(np.arange(200, 400)))
    _, results = evaluator(real32, step=7)
    by_name = {r.name: r for r in results}
    assert {"fid", "precision", "recall"} <= set(by_name)
    assert "resized to 28x28" in by_name["fid"].protocol.preprocessing
    assert by_name["precision"].value > 0.5  # reals against reals, both resized alike
    early = F.interpolate(real32, size=(16, 16), mode="bilinear", antialias=True)
    _, results16 = evaluator(early, step=8)
    fid16 = {r.name: r for r in results16}["fid"]
    assert "fake 16x16" in fid16.protocol.preprocessing and fid16.value > by_name["fid"].value


@pytest.mark.filterwarnings("ignore:.*rank-deficient:UserWarning")
def test_glyph_evaluation_stores_class_histogram_and_metrics(tmp_path, tiny_config):
    cfg = _glyph_cfg(
        tiny_config,
        "dcgan",
        {"width": 8, "latent_dim": 8},
        {"num_samples": 64, "num_real": 64, "metrics": ["fid", "kid", "pr", "dc"]},
    )
    run = train(cfg, tmp_path / "run", progress=False)
    reader = RunReader(run)
    hist = reader.read_scalars(
        [signals.EVAL_CLASSES_COVERED, signals.EVAL_CLASS_ENTROPY, signals.EVAL_DOMINANT_SHARE]
    )
    for series in hist.values():
        assert series.steps.tolist() == [3, 4]
    assert set(hist[signals.EVAL_CLASSES_COVERED].values) <= set(range(1, 11))
    assert all(0.1 <= v <= 1 for v in hist[signals.EVAL_DOMINANT_SHARE].values)
    assert all(0 <= v <= math.log(10) + 1e-9 for v in hist[signals.EVAL_CLASS_ENTROPY].values)

    metrics = reader.read_metrics()
    names = {"fid", "kid", "precision", "recall", "density", "coverage"}
    assert {(m.name, m.step) for m in metrics} == {(n, s) for n in names for s in (3, 4)}
    scalars = reader.read_scalars([signals.eval_metric(n) for n in names])
    for m in metrics:
        assert m.protocol.feature_extractor == "glyph" and m.protocol.num_fake == 64
        series = scalars[signals.eval_metric(m.name)]
        assert series.values[series.steps.tolist().index(m.step)] == pytest.approx(m.value)
    assert all(0 <= m.value <= 1 for m in metrics if m.name in ("precision", "recall", "coverage"))


@pytest.mark.slow
def test_training_evaluation_scores_real_glyphs_as_the_feature_space_ladder_does():
    """The trainer's evaluation path (real items from ``Dataset.batch``, samples as float
    in [-1, 1], no quantisation) must put real glyphs inside the real manifold, as the
    ladder's held-out rung does (tests/features/test_glyph_ladder.py). A range, channel or
    normalisation mismatch between the two sides shows up here as low precision; a low
    precision of a generator's samples is then a property of the samples."""
    train_set = load_dataset("glyphs", n=1000, seed=0)
    held_out = load_dataset("glyphs", n=1000, seed=11)
    evaluator = Evaluator(train_set, ["pr"], 1000, torch.device("cpu"), seed=0)
    samples = torch.from_numpy(held_out.batch(np.arange(1000)))
    _, results = evaluator(samples, step=0)
    got = {r.name: r.value for r in results}
    assert got["precision"] >= 0.8 and got["recall"] >= 0.8, got
    # A generator's float samples and the same samples written as uint8 PNGs score alike.
    quantised = torch.round((samples + 1) * 127.5) / 127.5 - 1
    _, again = evaluator(quantised, step=0)
    assert {r.name: r.value for r in again}["precision"] == pytest.approx(
        got["precision"], abs=0.02
    )


def test_two_d_runs_store_their_points_with_real_data_and_the_known_mode_centres(
    tmp_path, tiny_config
):
    """Viewers draw 2-D samples as a scatter with axes: the points behind each grid are
    stored with the real batch they are drawn against, and the run records its modes."""
    run = train(tiny_config(), tmp_path / "run", progress=False)  # mlp_gan on ring8
    reader = RunReader(run)
    assert reader.meta("entry_point") == "trainer"
    modes = load_dataset("ring8").modes
    for grid in reader.sample_grids():
        assert grid.name in ("samples", "eval")
        pts = reader.sample_points(grid)
        assert pts is not None and pts.points.shape[1] == 2 and len(pts.points) > 0
        assert pts.reference is not None and pts.reference.shape == pts.points.shape
        np.testing.assert_allclose(pts.centers, modes.centers)
    # the last "samples" grid's points are the PNG's points: render them again from the
    # checkpoint's generator on the grid's fixed latents
    last = reader.sample_grids("samples")[-1]
    bundle = build_model("mlp_gan", seed=0, **reader.info().config["model_options"])
    bundle.generator.load_state_dict(
        torch.load(checkpoint_path(run), weights_only=True)["stepper"]["G"]
    )
    real = torch.from_numpy(reader.sample_points(last).reference).float()
    grids = SampleGrids(bundle, real, len(real) // 8, seed=0, device=torch.device("cpu"))
    assert grids.render(bundle.generator.eval())["samples"] == last.path.read_bytes()

"""Each image-to-image model trains a few steps on CPU through ``train`` with its monitor."""

import pytest
import torch

from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.checkpoint import checkpoint_path

DATA = {"cyclegan": "glyphs_unpaired", "pix2pix": "glyphs_edges", "srgan": "glyphs_sr"}


def _config(model, steps=4, **extra):
    cfg = {
        "steps": steps,
        "model": {"name": model, "options": {"width": 4, "d_width": 4}},
        "data": {"name": DATA[model], "options": {"n": 60}, "batch_size": 4},
        "translation": {"probe_every": 2, "probe_size": 8, "pretrain_steps": 2},
        "eval": {"every": 0, "metrics": []},
        "checkpoint": {"every": 2},
        "monitor": {"cadence": {"flush": 2, "samples": 2, "layers": 2, "grid": 0}},
    }
    cfg.update(extra)
    return cfg


@pytest.mark.parametrize("model", ["cyclegan", "pix2pix", "srgan"])
def test_model_trains_with_translation_signals_eval_and_triplet_grid(tmp_path, model):
    run = train(_config(model), tmp_path / model, progress=False)
    reader = RunReader(run)
    info = reader.info()
    assert info.status == "finished" and info.last_step == 3
    names = set(reader.scalar_names())
    gens = ["G_AB", "G_BA"] if model == "cyclegan" else ["G"]
    for g in gens:
        assert f"translation/{g}/input_corr" in names and f"eval/{g}_class_kept" in names
        assert f"grad/{g}/norm" in names  # the monitor watches every network by name
    if model == "cyclegan":
        assert {"translation/G_AB/noise_gain", "eval/G_AB_cycle_l1_requantised"} <= names
        assert {
            "translation/G_AB/blur_gain",
            "eval/G_BA_cycle_l1_halfres",
            "eval/G_BA_halfres_change",
        } <= names
        assert {"translation/G_BA/domain_progress", "eval/G_BA_true_l1"} <= names
        assert {"loss/cycle", "loss/identity", "grad/D_A/norm", "grad/D_B/norm"} <= names
    if model == "srgan":
        assert {"translation/G/psnr_gain", "eval/G_psnr_bicubic"} <= names
        # an SR output is compared with bicubic upsampling, not with its input's domain
        assert not {"translation/G/domain_progress", "eval/G_true_l1"} & names
        losses = reader.read_scalars(["loss/G_adv"])["loss/G_adv"].values
        assert losses[0] == 0 and losses[-1] != 0  # pre-training, then the GAN phase
    if model == "pix2pix":
        assert {"translation/G/noise_diversity", "eval/G_true_l1"} <= names
    grids = reader.sample_grids("samples")
    assert grids and grids[-1].step == 3
    assert info.config["resolved"]["loss"] == {"cyclegan": "lsgan"}.get(model, "nonsaturating")


def test_cyclegan_resume_continues_the_same_trajectory(tmp_path):
    straight = train(_config("cyclegan", steps=4), tmp_path / "a", progress=False)
    part = train(_config("cyclegan", steps=2), tmp_path / "b", progress=False)
    train(_config("cyclegan", steps=4), part, resume=True, progress=False)
    a = torch.load(checkpoint_path(straight), weights_only=True)["stepper"]["nets"]
    b = torch.load(checkpoint_path(part), weights_only=True)["stepper"]["nets"]
    for net in a:
        for k in a[net]:
            torch.testing.assert_close(a[net][k], b[net][k])


def test_wrong_dataset_for_the_task_names_the_fix(tmp_path):
    cfg = _config("pix2pix")
    cfg["data"] = {"name": "glyphs", "options": {"n": 60}, "batch_size": 4}
    with pytest.raises(ValueError, match="glyphs_edges for pix2pix"):
        train(cfg, tmp_path / "x", progress=False)


def test_cyclegan_keeps_a_ring_and_a_branch_from_it_continues_the_same_trajectory(tmp_path):
    # the image-to-image loop keeps the health-tagged ring like the other loops, and a run
    # started from one of its checkpoints with unchanged settings (doctor's control branch)
    # replays the original run: networks, optimisers, data order and RNG all restored
    ring = {"every": 0, "ring": 4, "ring_every": 2}
    straight = train(_config("cyclegan", steps=6, checkpoint=ring), tmp_path / "a", progress=False)
    entries = sorted((straight / "ring").glob("step-*.pt"))
    assert [p.name for p in entries] == ["step-00000002.pt", "step-00000004.pt"]
    branch = train(
        _config("cyclegan", steps=6, checkpoint={"every": 0}),
        tmp_path / "b",
        progress=False,
        start_from=entries[0],
    )
    with RunReader(branch) as r:
        assert r.meta("forked_from")["step"] == 2
        assert r.read_scalars(["loss/cycle"])["loss/cycle"].steps[0] == 3
    a = torch.load(checkpoint_path(straight), weights_only=True)["stepper"]["nets"]
    b = torch.load(checkpoint_path(branch), weights_only=True)["stepper"]["nets"]
    for net in a:
        for k in a[net]:
            torch.testing.assert_close(a[net][k], b[net][k], rtol=0, atol=0)


def test_pix2pix_coverage_probe_embeds_without_calling_its_paired_discriminator(tmp_path, caplog):
    # pix2pix's D scores (input, output) pairs: the trainer picks the probe's pooled-pixel
    # embedding from that capability instead of calling D on samples alone and logging the
    # error it raises
    cfg = _config("pix2pix", steps=12)
    cfg["data"]["batch_size"] = 8
    cfg["monitor"]["cadence"].update({"coverage": 10, "coverage_probe": 16})
    with caplog.at_level("INFO", logger="gandiag"):
        run = train(cfg, tmp_path / "p2p", progress=False)
    assert not [r for r in caplog.records if "did not take samples alone" in r.getMessage()]
    names = set(RunReader(run).scalar_names())
    assert any(n.startswith("coverage/") for n in names)


def test_pix2pix_trains_the_same_whatever_it_evaluates(tmp_path):
    # pix2pix's dropout draws from the global RNG; the held-out evaluation (its glyph
    # classifier, FID's feature network) and the grids must not move those draws, or a
    # run's trajectory would depend on eval.every and eval.metrics
    quiet = _config("pix2pix", steps=6)
    evaluated = _config("pix2pix", steps=6)
    evaluated["eval"] = {"every": 2, "metrics": ["fid", "kid"], "num_real": 40, "num_samples": 40}
    nets = []
    for name, cfg in (("quiet", quiet), ("evaluated", evaluated)):
        run = train(cfg, tmp_path / name, progress=False)
        nets.append(torch.load(checkpoint_path(run), weights_only=True)["stepper"]["nets"]["G"])
    for key in nets[0]:
        torch.testing.assert_close(nets[0][key], nets[1][key], rtol=0, atol=0)

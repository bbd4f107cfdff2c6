import hashlib

import numpy as np
import pytest
import torch

from gandiag import signals
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.checkpoint import checkpoint_path


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_d_run_writes_store_eval_scalars_and_checkpoint(tmp_path, tiny_config):
    run = train(tiny_config(), tmp_path / "run", progress=False)
    reader = RunReader(run)
    info = reader.info()
    assert info.status == "finished" and info.kind == "gan" and info.last_step == 5
    series = reader.read_scalars([signals.EVAL_MODES_COVERED, signals.EVAL_NUM_MODES, "loss/G"])
    assert series[signals.EVAL_MODES_COVERED].steps.tolist() == [3, 5]
    assert set(series[signals.EVAL_NUM_MODES].values) == {8.0}
    assert len(series["loss/G"].steps) == 6
    assert info.config["resolved"]["loss"] == "nonsaturating"
    ckpt = torch.load(checkpoint_path(run), weights_only=True)
    assert ckpt["step"] == 5 and ckpt["model"]["name"] == "mlp_gan"


def test_resume_continues_the_same_run_and_trajectory(tmp_path, tiny_config):
    straight = train(tiny_config(steps=8), tmp_path / "straight", progress=False)
    part = train(tiny_config(steps=4), tmp_path / "part", progress=False)
    train(tiny_config(steps=8), part, resume=True, progress=False)
    a = torch.load(checkpoint_path(straight), weights_only=True)["stepper"]["G"]
    b = torch.load(checkpoint_path(part), weights_only=True)["stepper"]["G"]
    for k in a:  # same data order, same latents, same optimiser state after the resume
        torch.testing.assert_close(a[k], b[k])
    reader = RunReader(part)
    assert reader.info().last_step == 7
    assert reader.read_scalars(["loss/G"])["loss/G"].steps.tolist() == list(range(8))


def test_existing_run_without_resume_is_refused(tmp_path, tiny_config):
    run = train(tiny_config(steps=2), tmp_path / "run", progress=False)
    with pytest.raises(FileExistsError, match="resume"):
        train(tiny_config(steps=2), run, progress=False)


def test_checkpoint_from_another_model_is_refused_and_nothing_changes(tmp_path, tiny_config):
    run = train(tiny_config(steps=3), tmp_path / "run", progress=False)
    before = {p.name: _digest(p) for p in run.iterdir() if p.is_file()}
    with pytest.raises(
        ValueError, match=r"model 'mlp_gan'.*asks for 'wgan_gp'.*Nothing was changed"
    ):
        train(tiny_config(steps=6, model={"name": "wgan_gp"}), run, resume=True, progress=False)
    with pytest.raises(ValueError, match="different options"):
        train(
            tiny_config(steps=6, model={"name": "mlp_gan", "options": {"hidden": 64}}),
            run,
            resume=True,
            progress=False,
        )
    assert {p.name: _digest(p) for p in run.iterdir() if p.is_file()} == before


def test_bad_names_fail_before_anything_is_written(tmp_path, tiny_config):
    with pytest.raises(ValueError, match="registered models"):
        train(tiny_config(model={"name": "dcgn"}), tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match="registered datasets"):
        train(tiny_config(data={"name": "rings"}), tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        train(tiny_config(gan={"loss": "vanilla"}), tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match=r"monitor.cadence"):
        train(tiny_config(monitor={"cadence": {"flsh": 2}}), tmp_path / "d", progress=False)
    assert not any((tmp_path / n / "run.sqlite").exists() for n in "abcd")


def _glyph_config(tiny_config, model, **extra):
    options = {"width": 8} if model not in ("vae", "beta_vae", "ae", "dae") else {"hidden": 32}
    return tiny_config(
        steps=3,
        model={"name": model, "options": {**options, "latent_dim": 8}},
        data={"name": "glyphs", "options": {"n": 64}, "batch_size": 16},
        eval={"every": 0, "num_samples": 32, "metrics": []},
        **extra,
    )


@pytest.mark.parametrize(
    "model",
    [
        "dcgan",
        "lsgan",
        "wgan",
        "wgan_gp",
        "hinge_sn",
        "cgan",
        "acgan",
        "infogan",
        "conv_vae",
        "beta_vae",
        "dae",
    ],
)
def test_every_family_trains_on_glyphs(tmp_path, model, tiny_config):
    run = train(_glyph_config(tiny_config, model), tmp_path / model, progress=False)
    reader = RunReader(run)
    names = reader.scalar_names()
    assert reader.info().status == "finished"
    if model.endswith("vae") or model == "dae":
        assert "loss/recon" in names
    else:
        assert {"loss/G", "loss/D", "d/real/raw_mean"} <= set(names)
    if model == "wgan":  # weight clipping keeps every critic weight in [-c, c]
        d = torch.load(checkpoint_path(run), weights_only=True)["stepper"]["D"]
        assert (
            max(
                v.abs().max().item()
                for k, v in d.items()
                if "running" not in k and "num_batches" not in k
            )
            <= 0.01 + 1e-7
        )


def test_a_conditional_model_is_evaluated_for_class_consistency(tmp_path, tiny_config):
    from gandiag import signals as S

    cfg = _glyph_config(tiny_config, "cgan")
    cfg["eval"] = {"every": 2, "num_samples": 64, "metrics": []}
    reader = RunReader(train(cfg, tmp_path / "cgan", progress=False))
    got = reader.read_scalars([S.EVAL_CLASS_ACCURACY, S.EVAL_CLASS_CONSISTENCY])
    assert got[S.EVAL_CLASS_ACCURACY].steps.tolist() == [2]  # the last step, 2
    assert 0.0 <= got[S.EVAL_CLASS_ACCURACY].values[0] <= 1.0
    assert S.EVAL_CLASS_CONSISTENCY in got
    # an unconditional model has no class to be consistent with
    plain = _glyph_config(tiny_config, "dcgan")
    plain["eval"] = cfg["eval"]
    names = RunReader(train(plain, tmp_path / "dcgan", progress=False)).scalar_names()
    assert S.EVAL_CLASS_ACCURACY not in names and "eval/class_entropy" in names


def test_stabilisers_and_unrolling_run_and_are_recorded(tmp_path, tiny_config):
    cfg = tiny_config(
        model={"name": "unrolled_gan"},
        gan={
            "label_smoothing": 0.1,
            "instance_noise": 0.1,
            "instance_noise_anneal": 4,
            "ema": 0.9,
            "r1": 1.0,
            "unrolled_steps": 3,  # the paper's 10 (the default) is slow for a unit test
        },
        optim={"lr_g": 1e-4, "lr_d": 4e-4},
        data={"val_size": 64},
    )
    run = train(cfg, tmp_path / "run", progress=False)
    info = RunReader(run).info()
    resolved = info.config["resolved"]
    assert resolved["unrolled_steps"] == 3 and resolved["real_label"] == pytest.approx(0.9)
    assert (resolved["lr_g"], resolved["lr_d"]) == (1e-4, 4e-4)
    assert "ema" in torch.load(checkpoint_path(run), weights_only=True)["stepper"]
    reader = RunReader(run)
    assert signals.D_RV in reader.scalar_names()
    for name, series in reader.read_scalars(["loss/G", "loss/D", "grad/G/norm"]).items():
        assert np.isfinite(series.values).all(), name


def test_autoencoders_get_no_posterior_collapse_detector(tmp_path, tiny_config):
    # The run records its true kind and the detectors that ran, so replay runs them too.
    ae = RunReader(train(_glyph_config(tiny_config, "ae"), tmp_path / "ae", progress=False))
    names = {d["name"] for d in ae.meta("detectors")}
    assert ae.info().kind == "ae"
    assert "posterior_collapse" not in names and "nonfinite" in names
    vae = RunReader(train(_glyph_config(tiny_config, "vae"), tmp_path / "vae", progress=False))
    assert vae.info().kind == "vae"
    assert "posterior_collapse" in {d["name"] for d in vae.meta("detectors")}

"""gandiag doctor on every failure configuration in configs/, shrunk to a few steps.

Each failure config is trained for 12 steps with a checkpoint ring (every 3 steps) and an
injected alert from the detector its failure is known for (the detector itself would
need the full run to fire), at step 8 dated back to step 6. doctor then runs with a tiny
budget through the catalogue, as ``gandiag doctor`` does: it must fork one branch per
remedy that applies to the run's stored settings and capabilities from the last healthy
ring checkpoint (step 3), or from the initialisation for a remedy that changes the
networks, each branch trained with its remedy's settings (read back from the branch's own
store); or explain why nothing applies. The check that every failure config in configs/
is listed here keeps a new one from falling out of doctor.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from fault_injection import FaultAt

from gandiag.detectors.suite import DetectorSuite
from gandiag.doctor import NothingToTreat, doctor
from gandiag.doctor.remedies import CATALOG, remedies_for
from gandiag.monitor import runtime
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.config import load_config
from gandiag.types import Alert, Severity

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FIRE, ONSET, RING_EVERY, STEPS, BUDGET = 8, 6, 3, 12, 6


class KnownFailure(FaultAt):
    """One critical alert from ``detector`` at step FIRE, dated back to ONSET."""

    def __init__(self, detector: str) -> None:
        super().__init__()
        self.name = detector

    def update(self, record):
        if self.fired or record.step < FIRE:
            return []
        self.fired = True
        return [Alert(self.name, Severity.CRITICAL, record.step, ONSET, "injected failure")]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


_IMAGES = {
    "model": {"options": {"width": 8, "latent_dim": 16}},
    "data": {"options": {"n": 64, "image_size": 16}, "batch_size": 8},
}
_POINTS = {"data": {"options": {"n": 512}, "batch_size": 64}}
_VIDEO = {
    "model": {"options": {"width": 4, "d_width": 4}},
    "data": {"batch_size": 4, "options": {"n": 60}},
}
_TRANSLATION = {
    "model": {"options": {"width": 4, "d_width": 4}},
    "data": {"options": {"n": 60}, "batch_size": 2},
    "translation": {"probe_every": 2, "probe_size": 8},
}
_PHASES = {"gan": {"options": {"phase_steps": 3, "fade_steps": 3}}}

#: failure config -> (the detector its failure is known for, the shrinking overrides)
FAILURES: dict[str, tuple[str, dict[str, Any]]] = {
    "mlp_gan_ring8_collapse": ("mode_collapse", _POINTS),
    "mlp_gan_ring8_minimax": ("vanishing_gradients", _POINTS),
    "vae_ring8_collapse": ("posterior_collapse", _POINTS),
    "cyclegan_identity_glyphs": ("identity_mapping", _TRANSLATION),
    "cyclegan_inversion_glyphs": ("colour_inversion", _TRANSLATION),
    "cyclegan_steganography_glyphs": ("steganography", _TRANSLATION),
    "pix2pix_no_l1_glyphs": ("content_lost", _TRANSLATION),
    "srgan_no_pretrain_glyphs": ("sr_no_gain", _TRANSLATION),
    "progan_tanh_glyphs": ("transition_instability", _merge(_IMAGES, _PHASES)),
    "progan_stuck_fade_glyphs": ("fade_in", _merge(_IMAGES, _PHASES)),
    "stylegan_no_r1_glyphs": (
        "mode_collapse",
        _merge(_IMAGES, {"gan": {"options": {"probe_every": 2}}}),
    ),
    "stylegan_collapsed_mapping_glyphs": (
        "w_collapse",
        _merge(_IMAGES, {"gan": {"options": {"probe_every": 2}}}),
    ),
    "lapgan_copy_glyphs": ("level_copy", _IMAGES),
    "stackgan_copy_glyphs": (
        "level_copy",
        _merge(
            _IMAGES,
            {
                "model": {"options": {"c_dim": 8}},
                "data": {"options": {"image_size": 32}},
                "gan": {"options": {"stage1_steps": 4}},
            },
        ),
    ),
    "stackgan_no_ca_glyphs": (
        "class_collapse",  # without CA, each class collapses to about one image
        _merge(
            _IMAGES,
            {
                "model": {"options": {"c_dim": 8}},
                "data": {"options": {"image_size": 32}},
                "gan": {"options": {"stage1_steps": 4}},
            },
        ),
    ),
    "stackgan_onehot_glyphs": (
        "condition_ignored",
        _merge(
            _IMAGES,
            {
                "model": {"options": {"c_dim": 8}},
                "data": {"options": {"image_size": 32}},
                "gan": {"options": {"stage1_steps": 4}},
            },
        ),
    ),
    "dvdgan_no_temporal": ("frozen_video", _VIDEO),
    "dvdgan_frozen_temporal": ("d_imbalance", _VIDEO),
    "dvdgan_state_reset": ("looping_video", _VIDEO),
    "dvdgan_framewise": ("temporal_flicker", _VIDEO),
}


def _shrunk(name: str, over: dict[str, Any]) -> dict[str, Any]:
    cfg = _merge(load_config(CONFIGS / f"{name}.toml").to_dict(), over)
    cfg["steps"] = STEPS
    cfg["eval"].update(every=0, num_samples=8, num_real=8, metrics=[], interpolation=False)
    cfg["monitor"]["cadence"] = {"samples": 2, "layers": 2, "grid": 0, "flush": 2}
    cfg["checkpoint"] = {"every": 0, "ring": 4, "ring_every": RING_EVERY}
    return cfg


def _is_failure_config(path: Path) -> bool:
    """A config whose run is meant to fail: its header says so, or names the failure."""
    head = path.read_text().split("\nname", 1)[0].lower()
    return any(w in head for w in ("failure", "collapse", "vanishing"))


def test_every_failure_config_is_treated_here():
    failing = {p.stem for p in CONFIGS.glob("*.toml") if _is_failure_config(p)}
    assert failing - set(FAILURES) == set(), "add the new failure config to FAILURES"
    assert set(FAILURES) <= {p.stem for p in CONFIGS.glob("*.toml")}
    assert all(detector in CATALOG for detector, _ in FAILURES.values())


def _train(mp: pytest.MonkeyPatch, cfg: dict[str, Any], run: Path, detector: str | None) -> Path:
    """Train with only the injected detector (its branches restore its state: doctor runs
    them in this process, workers=1, under the same patch)."""
    mp.setattr(
        runtime,
        "resolve_detectors",
        lambda spec, kind: DetectorSuite([KnownFailure(detector)] if detector else []),
    )
    return train(cfg, run, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("config", sorted(FAILURES))
def test_doctor_forks_the_applicable_remedies_of_each_failure_config(config, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    detector, over = FAILURES[config]
    run = _train(monkeypatch, _shrunk(config, over), tmp_path / "run", detector)
    with RunReader(run) as r:
        stored = r.info().config
    chosen = remedies_for(detector, stored)
    if not chosen:  # doctor must say so, naming the detector and its catalogued remedies
        with pytest.raises(NothingToTreat, match=detector):
            doctor(run, budget=BUDGET, workers=1)
        return
    result = doctor(run, budget=BUDGET, workers=1)

    assert result.detector == detector and result.first_named == chosen[0].name
    # the ring holds 3, 6, 9: the last healthy checkpoint before the onset 6 is step 3
    assert result.fork_step == RING_EVERY
    assert {b.name for b in result.branches} == {"control"} | {r.name for r in chosen}
    out = Path(result.report).parent
    for remedy in chosen:
        with RunReader(out / remedy.name) as r:
            info = r.info()
            forked = r.meta("forked_from")
            last = r.last_step()
        for dotted, value in remedy.overrides(stored).items():
            key = dotted.rpartition(".")[2]
            if dotted.startswith("model.options."):
                assert info.config["model_options"][key] == value, (remedy.name, key)
            elif dotted == "seed":
                assert info.config["seed"] == value
            elif dotted == "vae.kl_anneal_steps":  # filled in: half the budget, from the fork
                assert info.config["resolved"]["kl_anneal_steps"] == BUDGET // 2
                assert info.config["resolved"]["kl_anneal_start"] == RING_EVERY + 1
            elif dotted == "translation.pretrain_steps":  # from the fork, half the budget
                assert info.config["resolved"]["pretrain_steps"] == RING_EVERY + 1 + BUDGET // 2
            else:  # the stepper resolved the changed setting (gan.*, gan.options.*, optim.*)
                if key == "label_smoothing":  # the stepper resolves the real label
                    key, value = "real_label", 1.0 - value
                got = info.config["resolved"][key]
                if isinstance(value, float):
                    got = pytest.approx(got, rel=1e-12)
                assert got == value, (remedy.name, key)
        if "optim.lr_d_t" in remedy.overrides(stored):  # the forked optimiser, not only the config
            ckpt = torch.load(out / remedy.name / "checkpoint.pt", weights_only=True)
            lr = ckpt["stepper"]["opt_d"]["D_T"]["param_groups"][0]["lr"]
            assert lr == remedy.overrides(stored)["optim.lr_d_t"] > 0
        if remedy.fresh_start:
            assert forked is None and remedy.name in result.fresh_start
        else:
            assert forked["step"] == result.fork_step
        assert last == result.fork_step + BUDGET
    report = Path(result.report).read_text()
    assert "Remedies, ranked" in report and all(r.name in report for r in chosen)


@pytest.mark.slow
def test_doctor_says_there_is_nothing_to_treat(tmp_path, capsys, monkeypatch):
    from gandiag.cli import main

    cfg = _shrunk("mlp_gan_ring8_minimax", _POINTS)
    quiet = _train(monkeypatch, cfg, tmp_path / "quiet", None)
    with pytest.raises(NothingToTreat, match="no warning or critical alert"):
        doctor(quiet, budget=BUDGET, workers=1)
    assert main(["doctor", str(quiet), "--budget", str(BUDGET), "--workers", "1"]) == 0
    assert "nothing to treat" in capsys.readouterr().out

    # a translation alert with no catalogued remedy (pix2pix ignoring its noise: an
    # architecture change) is explained, not crashed on
    cfg = _shrunk("pix2pix_no_l1_glyphs", _TRANSLATION)
    untreatable = _train(monkeypatch, cfg, tmp_path / "noise", "ignored_noise")
    with pytest.raises(NothingToTreat, match="ignored_noise .*none of its catalogued remedies"):
        doctor(untreatable, budget=BUDGET, workers=1)
    assert main(["doctor", str(untreatable), "--budget", str(BUDGET), "--workers", "1"]) == 0
    assert "nothing to treat" in (out := capsys.readouterr().out) and "ignored_noise" in out


@pytest.mark.slow
def test_a_run_with_dropout_depends_only_on_its_seed_and_its_forks_replay_it(tmp_path, monkeypatch):
    # pix2pix's only noise is dropout, drawn from the global torch RNG: a run must not
    # depend on what ran before it in the process, and a branch forked from a ring
    # checkpoint must continue the original exactly (doctor's control), so the global
    # RNG is seeded per run and checkpointed
    torch.set_num_threads(1)
    cfg = _shrunk("pix2pix_no_l1_glyphs", _TRANSLATION)

    def losses(run: Path, since: int = 0) -> list[float]:
        with RunReader(run) as r:
            return r.read_scalars(["loss/G"], since_step=since)["loss/G"].values.tolist()

    torch.manual_seed(1)
    first = _train(monkeypatch, cfg, tmp_path / "a", None)
    state = torch.get_rng_state()
    torch.manual_seed(2)  # another caller state: the same run
    again = _train(monkeypatch, cfg, tmp_path / "b", None)
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(2).get_state())  # put back
    assert losses(first) == losses(again) and len(losses(first)) > STEPS // 2
    assert not torch.equal(state, torch.get_rng_state())

    fork = first / "ring" / f"step-{2 * RING_EVERY:08d}.pt"
    branch = {**cfg, "checkpoint": {"every": 0, "ring": 0, "ring_every": 0}}
    monkeypatch.setattr(runtime, "resolve_detectors", lambda spec, kind: DetectorSuite([]))
    train(branch, tmp_path / "fork", progress=False, start_from=fork)
    after = 2 * RING_EVERY + 1
    assert losses(tmp_path / "fork", after) == losses(first, after)

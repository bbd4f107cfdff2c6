"""gandiag doctor on one failure config of each model family, shrunk to a few steps.

Each run is trained with an injected alert (the family's own detector would need the full
run to fire); doctor is given that family detector's remedies as they apply to the run's
stored settings, forks the branches through the family's stepper, runs them and writes
the report. The assertions check that each branch trained with its remedy's settings
(read back from the branch's own store) and from the right state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fault_injection import FaultAt

from gandiag.detectors.suite import DetectorSuite
from gandiag.doctor import doctor
from gandiag.doctor.remedies import remedies_for
from gandiag.monitor import runtime
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.config import load_config
from gandiag.types import Alert, Severity


class EarlyFault(FaultAt):
    """One critical alert at step 8, dated back to step 6."""

    def update(self, record):
        if self.fired or record.step < 8:
            return []
        self.fired = True
        return [Alert(self.name, Severity.CRITICAL, record.step, 6, "injected fault")]


def _shrunk(name: str, **over) -> dict:
    cfg = load_config(f"configs/{name}.toml").to_dict()
    cfg["steps"] = 12
    cfg["eval"].update(every=0, num_samples=8, num_real=8, metrics=[], interpolation=False)
    cfg["monitor"]["cadence"] = {"samples": 2, "layers": 2, "grid": 0, "flush": 2}
    cfg["checkpoint"] = {"every": 0, "ring": 4, "ring_every": 3}
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


def _images(width: int = 8, **options):
    return {
        "model": {"options": {"width": width, "latent_dim": 16, **options}},
        "data": {"options": {"n": 64, "image_size": 16}, "batch_size": 8},
    }


FAMILIES = {
    # progressive growing: a tanh output collapses at the fade-ins
    "progan": (
        "progan_tanh_glyphs",
        "transition_instability",
        {**_images(output="tanh"), "gan": {"options": {"phase_steps": 3, "fade_steps": 3}}},
    ),
    # StyleGAN-lite with a decayed mapping network
    "stylegan": (
        "stylegan_collapsed_mapping_glyphs",
        "w_collapse",
        {**_images(), "gan": {"options": {"map_weight_decay": 0.02, "probe_every": 2}}},
    ),
    # LAPGAN whose levels only copy the coarse image
    "lapgan": (
        "lapgan_copy_glyphs",
        "level_copy",
        {**_images(), "gan": {"options": {"residual_scale": 0.0}}},
    ),
    # DVD-GAN without a temporal discriminator
    "video": (
        "dvdgan_no_temporal",
        "frozen_video",
        {"data": {"batch_size": 12, "options": {"n": 60}}},
    ),
    # CycleGAN whose identity weight makes it copy its input
    "translation": (
        "cyclegan_identity_glyphs",
        "identity_mapping",
        {
            "model": {"options": {"width": 4, "d_width": 4}},
            "data": {"options": {"n": 60, "style": "thick"}, "batch_size": 2},
            "translation": {"lambda_identity": 5.0, "probe_every": 2, "probe_size": 8},
        },
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_doctor_treats_a_failure_config_of_each_family(family, tmp_path):
    torch.set_num_threads(1)
    config, detector, over = FAMILIES[family]
    cfg = _shrunk(config, **over)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "resolve_detectors", lambda spec, kind: DetectorSuite([EarlyFault()]))
        run = train(cfg, tmp_path / "run", progress=False)
        with RunReader(run) as r:
            stored = r.info().config
        chosen = remedies_for(detector, stored)
        assert chosen, f"no remedy of {detector} applies to {config}"
        result = doctor(run, budget=6, workers=1, remedies=chosen)

    ringed = (run / "ring").is_dir()
    # the ring's last healthy checkpoint before the onset 6 is step 3; the image-to-image
    # loop keeps no ring, so its branches start from the initialisation
    assert result.fork_step == (3 if ringed else -1)
    assert {b.name for b in result.branches} == {"control"} | {r.name for r in chosen}
    for remedy in chosen:
        branch = Path(result.branches[0].run_dir).parent / remedy.name
        with RunReader(branch) as r:
            info = r.info()
            forked = r.meta("forked_from")
            last = r.last_step()
        for dotted, value in remedy.overrides(stored).items():
            key = dotted.rpartition(".")[2]
            if dotted.startswith("model.options."):
                assert info.config["model_options"][key] == value, (remedy.name, key)
            elif dotted == "seed":
                assert info.config["seed"] == value
            else:  # the stepper resolved the changed setting (gan.*, gan.options.*, optim.*)
                assert info.config["resolved"][key] == pytest.approx(value, rel=1e-12), (
                    remedy.name,
                    key,
                )
        if remedy.fresh_start or not ringed:
            assert forked is None
        else:
            assert forked["step"] == result.fork_step
        assert last == result.fork_step + 6
    report = Path(result.report).read_text()
    assert "Remedies, ranked" in report and all(r.name in report for r in chosen)

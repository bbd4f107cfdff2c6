"""Replaying a stored run gives exactly the alerts the live run raised, for every reference config.

The run records its detectors with their parameters and its model kind; ``gandiag replay``
rebuilds that suite from the metadata and feeds it the stored records through the same
loop the Monitor used live.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib

from gandiag.cli import main
from gandiag.detectors import default_detectors
from gandiag.reference_models import get_spec
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.trainer import family_detectors

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.toml"))
# One config per kind runs in the fast suite; all of them in the slow one.
FAST = {"dcgan_glyphs", "vae_glyphs", "ae_glyphs", "mlp_gan_ring8"}
PARAMS = [
    pytest.param(c, id=c.stem, marks=() if c.stem in FAST else pytest.mark.slow) for c in CONFIGS
]


def _reduced(path: Path) -> dict:
    """The config at a few steps on small data, with the detectors made quick to speak."""
    cfg = tomllib.loads(path.read_text())
    cfg["steps"] = 14
    data = cfg.setdefault("data", {})
    data["options"] = {**data.get("options", {}), "n": 384}
    data["batch_size"] = min(int(data.get("batch_size", 64)), 32)
    data["val_size"] = 64
    cfg["eval"] = {**cfg.get("eval", {}), "every": 5, "num_samples": 128, "num_real": 128}
    cfg["eval"]["metrics"] = []
    cfg["eval"]["interpolation"] = False
    cfg["checkpoint"] = {"every": 0}
    spec = get_spec(cfg["model"]["name"])
    # the detector set the trainer picks: video models (clips of `frames`) run the video set
    kind = "video" if spec.kind == "gan" and spec.options.get("frames") else spec.kind
    # Short grace and patience, so the detectors have something to say in 14 steps; these
    # parameters must reach the run metadata for replay to reproduce the alerts.
    overrides = {}
    eager = {
        "patience_steps": 2,
        "min_records": 1,
        "warmup_steps": 0,
        "baseline_records": 1,
        "eval_patience": 1,
        "max_norm": 1e-6,  # exploding_gradients: any gradient counts
        "pdist_max": 5.0,  # mode_collapse: any batch counts
        "dead_kl": 1e3,  # posterior_collapse: any KL counts
        "kl_total_min": 1e3,
    }
    ada = bool(cfg.get("gan", {}).get("options", {}).get("ada"))
    family = family_detectors(spec.training, spec.capabilities.conditional, kind == "video", ada)
    for det in default_detectors(kind, **family):
        params = {k: v for k, v in eager.items() if k in det.config()}
        overrides[det.name] = {"missing_grace_steps": 3, **params}
    cfg["monitor"] = {
        "cadence": {"flush": 3, "samples": 2, "layers": 3, "histograms": 4, "grid": 0},
        "overrides": overrides,
    }
    cfg["device"] = "cpu"
    return cfg


def _keys(alerts) -> list[str]:
    return [json.dumps(a.to_dict(), sort_keys=True) for a in alerts]


@pytest.mark.parametrize("config", PARAMS)
def test_replay_equals_live_for_every_reference_config(config, tmp_path, capsys) -> None:
    cfg = _reduced(config)
    run = train(cfg, tmp_path / "run", progress=False)
    reader = RunReader(run)
    live = reader.read_alerts()
    recorded = reader.meta("detectors")
    spec = get_spec(cfg["model"]["name"])
    # the model's kind: a video GAN (clips of `frames`) records the video set it runs
    assert reader.info().kind == ("video" if spec.options.get("frames") else spec.kind)
    assert [d["params"]["missing_grace_steps"] for d in recorded] == [3] * len(recorded)
    assert live, "the reduced detectors raised nothing; the comparison would be vacuous"
    capsys.readouterr()
    assert main(["replay", str(run)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[:-1] == [a.one_line() for a in live]
    assert main(["replay", str(run), "--write"]) == 0
    assert _keys(RunReader(run).read_alerts()) == _keys(live)

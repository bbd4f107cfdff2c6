"""bench/doctor.py's kept rows: re-ranked by the current rule, labelled with their run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "doctor.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_doctor", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _branch(name, cleared, quality):
    return {
        "name": name,
        "description": "",
        "run_dir": "",
        "cleared": cleared,
        "quality_name": "eval/modes_covered",
        "quality": quality,
    }


def test_kept_rows_are_reranked_and_labelled(tmp_path):
    bench = _bench()
    row = {
        "config": "mlp_gan_ring8_collapse.toml",
        "failure": "mode collapse",
        "first_named": "unrolled",
        # ran longest first: the fresh-start branch ahead of its tie with the one named first
        "branches": [
            _branch("spectral_norm_hinge", True, 3.0),
            _branch("unrolled", True, 3.0),
            _branch("control", False, 1.0),
        ],
        "best": "spectral_norm_hinge",
        "recovered": True,
        "agrees": False,
    }
    stopped = {"config": "dvdgan_frozen_temporal.toml", "failure": "x", "note": "stopped"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"quick": True, "workers": 2, "rows": [row, stopped]}))
    kept = bench._previous(str(path), [])
    again = kept["mlp_gan_ring8_collapse.toml"]
    assert again["best"] == "unrolled" and again["agrees"] and again["recovered"]
    assert [b["name"] for b in again["branches"]] == ["unrolled", "spectral_norm_hinge", "control"]
    assert again["run"].startswith("--quick --workers 2")
    assert kept["dvdgan_frozen_temporal.toml"]["not_run"].startswith("stopped part-way")
    # a configuration run now replaces its kept row; the JSON's own rows stay unlabelled
    assert "mlp_gan_ring8_collapse.toml" not in bench._previous(str(path), [row["config"]])
    assert "run" not in bench._previous(str(path), [], own=True)["mlp_gan_ring8_collapse.toml"]

"""The growing-families bench's outcome labels and measures (bench/growing_families.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from growing_families import (
    _merged,
    _orientation,
    _ratio,
    collapse_horizon,
    earliest_alert_step,
    label,
    main,
    run_detector_params,
    schedule_steps,
    score,
)

NAN = math.nan


def _outcomes(n: int, **series: list[float]) -> dict[str, list[float]]:
    base = {
        "step": [10 * i for i in range(n)],
        "diversity": [1.0] * n,
        "z_diversity": [NAN] * n,
        "detail": [NAN] * n,
        "orientation": [1.0] * n,
        "phase_index": [0] * n,
    }
    return {**base, **series}


def test_a_healthy_run_has_no_label():
    assert label("x", _outcomes(6), {}) == {}


def test_w_collapse_and_stage_copy_need_the_measure_low_to_the_end():
    o = _outcomes(6, z_diversity=[1.0, 0.5, 0.05, 0.2, 0.05, 0.01])
    assert label("x", o, {}) == {"w_collapse": 40}  # the run of lows that reaches the end
    o = _outcomes(6, z_diversity=[1.0, 0.05, 0.05, 0.5, 0.5, 0.5])
    assert label("x", o, {}) == {}  # recovered: no label
    o = _outcomes(4, detail=[0.0, 0.0, 0.0, 0.0])
    assert label("x", o, {}) == {"stage_copy": 0}
    # a phased model's detail band changes with its level: not read
    assert label("x", _outcomes(4, detail=[0.0] * 4, phase_index=[0, 0, 1, 1]), {}) == {}


def test_mode_collapse_is_low_diversity_at_the_end_from_its_first_low_evaluation():
    o = _outcomes(6, diversity=[4.0, 1.0, 0.4, 0.8, 0.45, 0.3])
    assert label("x", o, {}) == {"mode_collapse": 20}
    assert label("x", _outcomes(4, diversity=[4.0, 0.4, 0.3, 0.6]), {}) == {}  # recovered
    # a collapse at a ProGAN switch is labelled as such, not twice
    o = _outcomes(4, diversity=[1.0, 0.3, 0.3, 0.3], phase_index=[0, 1, 1, 1])
    assert label("x", o, {}) == {"transition_collapse": 10}


def test_augment_leak_needs_an_oriented_start():
    o = _outcomes(5, orientation=[1.0, 0.9, 0.3, 0.2, 0.2])
    assert label("x", o, {}) == {"augment_leak": 20}
    # never oriented (samples symmetric from the start): nothing leaked
    assert label("x", _outcomes(5, orientation=[0.2] * 5), {}) == {}


def test_orientation_is_zero_for_a_symmetrised_set_and_scales_with_the_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=g)
    assert _orientation(x) > 0
    turns = [torch.rot90(x, k, dims=(-2, -1)) for k in range(4)]
    sym = torch.cat(turns + [t.flip(-1) for t in turns])
    assert _orientation(sym) < 1e-12 * _orientation(x)
    assert math.isclose(_orientation(3 * x), 3 * _orientation(x), rel_tol=1e-6)  # float32 images
    assert math.isnan(_ratio(1.0, 0.0)) and _ratio(1.0, 2.0) == 0.5


def test_progressive_schedule_length():
    assert schedule_steps({"phase_steps": 30, "fade_steps": 30}, 4) == 210


def test_earliest_alert_step_adds_patience_to_the_warm_up():
    assert earliest_alert_step({"warmup_steps": 500, "patience_steps": 100}) == 600
    assert earliest_alert_step({"patience_steps": 50}) == 50
    assert earliest_alert_step({}) == 0
    # patience in evaluations: the first evaluation at or after the warm-up, then one more
    assert earliest_alert_step({"warmup_steps": 500, "patience_evals": 2}, 250) == 750
    assert earliest_alert_step({"warmup_steps": 510, "patience_evals": 2}, 250) == 1000
    assert earliest_alert_step({"warmup_steps": 0, "patience_evals": 1}, 250) == 0


def test_collapse_horizon_is_the_generic_detector_that_can_alert_first():
    params = run_detector_params()
    assert collapse_horizon(params) == ("mode_collapse", 600)  # 500 warm-up + 100 patience
    params["mode_collapse"] = {**params["mode_collapse"], "patience_steps": 400}
    assert collapse_horizon(params) == ("sample_coverage", 750)
    # a family detector that alerts earlier on its own cause does not set the horizon
    assert collapse_horizon({**params, "w_collapse": {"patience_steps": 1}})[1] == 750


def test_a_run_shorter_than_the_collapse_horizon_is_refused_before_training(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--cases", "stylegan_glyphs@0", "--steps", "400", "--no-docs"])
    assert e.value.code == 2
    assert "use --steps 600 or more" in capsys.readouterr().err


def _result(labels, alerts, steps):
    n = len(range(0, steps, 10)) + 1
    return {
        "case": "c",
        "seed": 0,
        "labels": labels,
        "alerts": [{"detector": d, "step": s} for d, s in alerts],
        "outcomes": {**_outcomes(n), "step": list(range(0, steps, 10)) + [steps - 1]},
    }


def test_score_finds_collapse_by_coverage_and_says_when_a_run_was_too_short():
    horizon = ("mode_collapse", 600)
    short = _result({"mode_collapse": 310}, [], 400)
    sc = score([short], 10, horizon)
    assert sc["missed"] == 1
    assert "MISSED (run ends at 399; mode_collapse cannot alert before 600)" in sc["rows"][0][3]
    # long enough but still missed: a plain miss
    sc = score([_result({"mode_collapse": 310}, [], 1000)], 10, horizon)
    assert sc["rows"][0][3] == "mode_collapse: MISSED"
    # the label-free coverage detector answers a mode collapse
    sc = score([_result({"mode_collapse": 340}, [("sample_coverage", 750)], 1000)], 10, horizon)
    assert (sc["found"], sc["false_alarms"]) == (1, 0)
    assert sc["rows"][0][3] == "mode_collapse: delay 410"
    # an alert before the onset (less the tolerance) does not count
    sc = score([_result({"mode_collapse": 340}, [("mode_collapse", 300)], 1000)], 20, horizon)
    assert sc["missed"] == 1


def test_merged_results_keep_their_cadence_and_yield_to_cases_run_again(tmp_path):
    path = tmp_path / "earlier.json"
    healthy = {"outcomes": _outcomes(3), "labels": {"stale": 0}}
    rows = [
        {"case": "lapgan_glyphs", "seed": 0, **healthy},
        {"case": "stylegan_glyphs", "seed": 1, "eval_every": 20, **healthy},
    ]
    path.write_text(json.dumps({"args": {"eval_every": 10}, "results": rows}))
    out = _merged([str(path)], {("lapgan_glyphs", 0)})
    assert [(r["case"], r["eval_every"], r["from"]) for r in out] == [
        ("stylegan_glyphs", 20, str(path))
    ]
    assert out[0]["labels"] == {}  # relabelled from the stored outcomes by the current rule
    out = _merged([str(path)], set())
    assert out[0]["eval_every"] == 10  # written before results carried their own
    later = tmp_path / "later.json"
    low = {"outcomes": _outcomes(3, diversity=[4.0, 0.3, 0.2]), "eval_every": 40}
    later.write_text(json.dumps({"results": [{"case": "lapgan_glyphs", "seed": 0, **low}]}))
    out = _merged([str(path), str(later)], set())  # the later file's run of a case replaces
    assert [(r["case"], r["eval_every"], r["labels"]) for r in out] == [
        ("stylegan_glyphs", 20, {}),
        ("lapgan_glyphs", 40, {"mode_collapse": 10}),
    ]
    # a ProGAN config's fade schedule is read from the config for its label
    fade = {"case": "progan_stuck_fade_glyphs", "seed": 0}
    fade["outcomes"] = _outcomes(3, phase_index=[0, 1, 1])
    path.write_text(json.dumps({"results": [fade]}))
    assert _merged([str(path)], set())[0]["labels"] == {"fade_in": 10}


def test_a_merge_only_call_scores_earlier_results_without_training(tmp_path, capsys):
    earlier = tmp_path / "earlier.json"
    run = {**_result({}, [("sample_coverage", 750)], 800), "case": "stylegan_glyphs"}
    run["outcomes"]["diversity"][-5:] = [0.4] * 5  # collapsed from step 760 on
    short = {**_result({}, [], 400), "case": "lapgan_glyphs", "seed": 1}
    short["outcomes"]["diversity"][-3:] = [0.4] * 3
    earlier.write_text(json.dumps({"args": {"eval_every": 10}, "results": [short, run]}))
    out = tmp_path / "merged.json"
    assert main(["--cases", "--merge", str(earlier), "--no-docs", "--json", str(out)]) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("found 1 of 2 labels, 0 false alarms (family detectors), 2 runs")
    )  # the coverage alert at 750 lies within the default tolerance (--eval-every 20) of 760
    data = json.loads(out.read_text())
    assert [r["case"] for r in data["results"]] == ["stylegan_glyphs", "lapgan_glyphs"]
    assert [r["labels"] for r in data["results"]] == [
        {"mode_collapse": 760},
        {"mode_collapse": 380},
    ]
    assert data["collapse_horizon"] == ["mode_collapse", 600]
    capsys.readouterr()
    main(["--cases", "--merge", str(earlier), "--no-docs", "--tolerance", "5"])
    assert "found 0 of 2 labels" in capsys.readouterr().out

"""condition_ignored on fault streams: the class's share of sample variance against the data's."""

import json

import numpy as np
import pytest

from gandiag import signals as S
from gandiag.detectors import get_detector_class, run_detectors
from gandiag.types import StepRecord


def stream(steps=1200, every=50, *, ignored_at=None, real=0.3, gap=2.0, phase_at=None, seed=0):
    """Probe records every ``every`` steps: a generator that follows its class (share ~0.8 of
    the data's) until ``ignored_at``, then one whose class explains ~nothing."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        sc: dict[str, float] = {}
        if phase_at is not None:
            sc[S.PHASE_INDEX] = float(t >= phase_at)
        if t % every == 0:
            share = 0.8 * real * float(np.exp(0.15 * rng.standard_normal()))
            fresh = phase_at is not None and phase_at <= t < phase_at + 150
            if (ignored_at is not None and t >= ignored_at) or fresh:
                share = 0.01 * float(rng.standard_normal())
            sc[S.COND_VARIANCE_SHARE] = share
            sc[S.COND_VARIANCE_SHARE_REAL] = real
            if gap is not None:
                sc[S.COND_D_MATCH_GAP] = gap
        out.append(StepRecord(t, sc))
    return out


def _alerts(records, **params):
    det = get_detector_class("condition_ignored")(**params)
    return [a for a in run_detectors([det], records) if a.severity.value != "info"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quiet_while_the_generator_follows_its_class(seed):
    assert _alerts(stream(seed=seed)) == []


def test_an_ignored_condition_is_found_near_its_onset_and_blames_the_generator():
    (a,) = _alerts(stream(ignored_at=500))
    assert a.detector == "condition_ignored" and a.severity.value == "warning"
    assert a.onset_step == 500 and 500 + 150 <= a.step <= 500 + 250
    assert a.evidence["variance_share"] < 0.25 * a.evidence["variance_share_real"]
    assert a.evidence["d_match_gap"] == 2.0 and "generator is the side" in a.diagnosis
    assert any("generator does not follow" in r for r in a.remedies)


def test_a_blind_discriminator_is_named_as_the_cause():
    (a,) = _alerts(stream(ignored_at=500, gap=-0.01))
    assert "wrong class as high" in a.diagnosis
    assert any("matching-aware" in r for r in a.remedies)


def test_without_a_conditional_discriminator_both_sides_are_suggested():
    (a,) = _alerts(stream(ignored_at=500, gap=None))
    assert "d_match_gap" not in a.evidence
    assert any("matching-aware" in r for r in a.remedies)
    assert any("generator does not follow" in r for r in a.remedies)


def test_quiet_when_the_classes_explain_little_of_the_data():
    assert _alerts(stream(ignored_at=300, real=0.01)) == []


def test_a_fresh_stage_gets_its_warm_up():
    # stage II draws class-blind samples for 150 steps after the switch, then follows
    assert _alerts(stream(phase_at=600)) == []
    # ...but a stage that never learns the class is reported, after its own warm-up
    (a,) = _alerts(stream(phase_at=600, ignored_at=600))
    assert a.onset_step == 800 and a.step >= 800 + 150


def test_round_trip_mid_stream():
    records = stream(ignored_at=500, phase_at=900)
    cls = get_detector_class("condition_ignored")
    straight = run_detectors([cls()], records)
    first = cls()
    part = run_detectors([first], records[:620])
    second = cls()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    part += run_detectors([second], records[620:])
    assert [a.to_dict() for a in part] == [a.to_dict() for a in straight]
    assert len([a for a in straight if a.severity.value == "warning"]) >= 1


def spread_stream(steps=1000, every=50, *, collapse_at=None, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        sc: dict[str, float] = {}
        if t % every == 0:
            level = 0.02 if collapse_at is not None and t >= collapse_at else 0.9
            sc[S.COND_WITHIN_CLASS_SPREAD] = level * float(np.exp(0.2 * rng.standard_normal()))
        out.append(StepRecord(t, sc))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_class_collapse_quiet_on_varied_classes(seed):
    det = get_detector_class("class_collapse")()
    assert [a for a in run_detectors([det], spread_stream(seed=seed)) if a.evidence] == []


def test_class_collapse_found_at_its_onset():
    det = get_detector_class("class_collapse")()
    (a,) = [a for a in run_detectors([det], spread_stream(collapse_at=400)) if a.evidence]
    assert a.severity.value == "critical" and a.onset_step == 400 and a.step >= 550
    assert a.evidence["within_class_spread"] < 0.25 and "within each class" in a.diagnosis


def test_class_collapse_round_trip():
    records = spread_stream(collapse_at=400)
    cls = get_detector_class("class_collapse")
    straight = run_detectors([cls()], records)
    first = cls()
    part = run_detectors([first], records[:480])
    second = cls()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    part += run_detectors([second], records[480:])
    assert [a.to_dict() for a in part] == [a.to_dict() for a in straight]


def with_evaluations(records, every=300, *, consistency=0.9, wrong_from=None, phase_at=None):
    """``records`` plus an evaluation every ``every`` steps: the classifier's class consistency
    (``consistency``; 0.05 from ``wrong_from``: samples that vary with the class but show the
    wrong one), with the accuracies it comes from."""
    out = []
    for rec in records:
        t = rec.step
        if t % every == every - 1:
            c = 0.05 if wrong_from is not None and t >= wrong_from else consistency
            sc = dict(rec.scalars)
            sc[S.EVAL_CLASS_CONSISTENCY] = c
            sc[S.EVAL_CLASS_ACCURACY] = 0.1 + c * (0.95 - 0.1)
            sc[S.EVAL_CLASS_ACCURACY_REAL] = 0.95
            rec = StepRecord(t, sc)
        out.append(rec)
    return out


def test_the_classifier_finds_samples_that_vary_with_the_class_but_show_the_wrong_one():
    # the pixel share is healthy throughout (the one-hot StackGAN's state): label-free, quiet
    records = with_evaluations(stream(), wrong_from=500)
    assert _alerts(stream()) == []
    (a,) = _alerts(records)
    assert a.step == a.onset_step == 599  # the first evaluation after the fault
    assert a.evidence["class_consistency"] == 0.05 and a.evidence["class_accuracy_real"] == 0.95
    assert "to the wrong class" in a.diagnosis and "generator is the side" in a.diagnosis
    assert a.evidence["variance_share"] >= 0.25 * a.evidence["variance_share_real"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_evaluations_add_no_alert_and_the_share_watches_between_them(seed):
    assert _alerts(with_evaluations(stream(seed=seed), every=200)) == []
    # samples stop changing with the class after an evaluation found them consistent: the
    # share sees it before the next evaluation would
    (a,) = _alerts(with_evaluations(stream(ignored_at=500, seed=seed), every=600))
    assert a.onset_step == 500 and a.step < 1199 and "variance_share" in a.evidence


def test_without_an_evaluation_in_the_phase_the_share_still_decides():
    # evaluations only before the warm-up ends say nothing; the share fallback fires
    records = with_evaluations(stream(ignored_at=500), every=2000)
    (a,) = _alerts(records[:150] + stream(ignored_at=500)[150:])
    assert a.onset_step == 500 and "variance_share" in a.evidence


def test_each_stage_is_judged_by_its_own_evaluation():
    # stage I follows its class; stage II (from 600) shows the wrong class at its evaluation
    records = with_evaluations(stream(phase_at=600), every=300, wrong_from=600)
    (a,) = _alerts(records)
    assert a.step == 899 and a.evidence["class_consistency"] == 0.05
    # an evaluation inside stage II's warm-up is not read
    assert _alerts(with_evaluations(stream(phase_at=600), every=300, wrong_from=600)[:850]) == []


def test_round_trip_with_evaluations_and_an_old_state():
    records = with_evaluations(stream(phase_at=600), every=300, wrong_from=600)
    cls = get_detector_class("condition_ignored")
    straight = run_detectors([cls()], records)
    first = cls()
    part = run_detectors([first], records[:700])
    second = cls()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    part += run_detectors([second], records[700:])
    assert [a.to_dict() for a in part] == [a.to_dict() for a in straight]
    # a state saved before the classifier reading (version 1) loads with it empty
    saved = json.loads(json.dumps(first.state_dict()))
    for key in ("consistency", "consistency_step", "accuracy", "accuracy_real"):
        saved["state"].pop(key)
    saved["version"] = 1
    old = cls()
    old.load_state_dict(saved)
    assert old.state["consistency"] is None

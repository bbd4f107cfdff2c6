"""StackGAN's conditioning-augmentation detector on fault streams, and the stage-copy case."""

import json

import pytest
from growing_streams import ca_stream

from gandiag import signals as S
from gandiag.detectors import build_detectors, default_detectors, get_detector_class, run_detectors
from gandiag.reference_models import get_spec


def _all(records, **params):
    return run_detectors([get_detector_class("ca_collapse")(**params)], records)


def _alerts(records, **params):
    return [a for a in _all(records, **params) if a.severity.value != "info"]


def _notices(records, **params):
    return [a for a in _all(records, **params) if a.severity.value == "info" and a.evidence]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quiet_on_a_healthy_run_including_the_fresh_stage_ii_ca(seed):
    assert _alerts(ca_stream(seed=seed)) == []


def test_collapse_to_the_prior_is_critical_with_dead_share_evidence():
    (a,) = _alerts(ca_stream(collapse_at=300, steps=600), info_fraction=0.0)
    assert a.severity.value == "critical" and "collapsed" in a.diagnosis
    assert 300 <= a.onset_step <= 330 and a.step >= a.onset_step + 100
    assert a.evidence["dead_share"] == 1.0 and a.evidence["ca_kl"] < 0.05
    assert a.remedies


def test_too_little_information_for_the_classes_warns():
    (a,) = _alerts(ca_stream(squeezed_at=300, steps=600))
    assert a.severity.value == "warning" and "too little information" in a.diagnosis
    assert 300 <= a.onset_step <= 330 and a.evidence["condition_nats"] == pytest.approx(2.302585)


def test_a_collapse_is_reported_once_as_critical():
    alerts = _alerts(ca_stream(collapse_at=300, steps=600))
    assert [a.severity.value for a in alerts] == ["critical"]


def test_deterministic_conditioning_is_a_notice_not_a_failure():
    # a point condition is a setting; collapse within a class is read from the samples
    assert _alerts(ca_stream(deterministic_at=200, steps=600)) == []
    (a,) = _notices(ca_stream(deterministic_at=200, steps=600))
    assert "deterministic" in a.diagnosis and "not a failure" in a.diagnosis
    assert 200 <= a.onset_step <= 220 and a.evidence["ca_sigma_mean"] < 0.05


def test_no_ca_from_the_start_gives_its_notice_after_the_warmup():
    (a,) = _notices(ca_stream(deterministic_at=0, steps=600))
    assert a.onset_step == 100 and a.step == 200  # warm-up 100, patience 100
    assert "ca_kl" not in a.evidence and a.evidence["ca_sigma_mean"] == 0.0  # nothing invented


def test_each_stage_reports_on_its_own_ca():
    # no CA in either stage: one notice per stage, the second after stage II's own warm-up
    notices = _notices(ca_stream(deterministic_at=0))
    assert [(a.onset_step, a.step) for a in notices] == [(100, 200), (700, 800)]


def test_round_trip_mid_stream():
    records = ca_stream(collapse_at=300, deterministic_at=900)
    cls = get_detector_class("ca_collapse")
    straight = run_detectors([cls()], records)
    first = cls()
    part = run_detectors([first], records[:650])
    second = cls()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    part += run_detectors([second], records[650:])
    assert [a.to_dict() for a in part] == [a.to_dict() for a in straight]
    fired = [a.severity.value for a in straight if a.evidence]
    assert "critical" in fired and "info" in fired  # the stage-I collapse, the stage-II notice


def test_stackgan_default_set_has_its_family_detectors():
    family = dict.fromkeys(get_spec("stackgan").training["detectors"], True)
    names = [d.name for d in default_detectors("gan", **family)]
    assert "ca_collapse" in names and "level_copy" in names and "mode_collapse" in names


def test_level_copy_reads_stage_ii_copy_ratio():
    from gandiag.types import StepRecord

    recs = [StepRecord(t, {S.level_copy_ratio(1): 0.9 if t < 400 else 0.0}) for t in range(700)]
    fired = run_detectors(build_detectors(["level_copy"]), recs)
    (a,) = [a for a in fired if a.severity.value != "info"]
    assert a.onset_step == 400 and "level 1" in a.diagnosis

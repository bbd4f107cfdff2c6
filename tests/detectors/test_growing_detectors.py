"""Phase and style detectors: each fires on its failure stream, stays quiet on a healthy one,
and resumes from its state exactly."""

import pytest
from growing_streams import level_stream, progan_stream, style_stream

from gandiag import signals as S
from gandiag.detectors import build_detectors, get_detector_class, run_detectors
from gandiag.types import StepRecord

PHASE_DETECTORS = ["transition_instability", "fade_in"]
STYLE_DETECTORS = [
    "w_collapse",
    "noise_dominated",
    "mixing_no_effect",
    "channel_spike",
    "regularizer_blowup",
    "augment_runaway",
]


def _fired(names, records):
    """The first alert of each detector that fired (INFO notices left out)."""
    out = {}
    for a in run_detectors(build_detectors(names), records):
        if a.severity.value != "info":
            out.setdefault(a.detector, a)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quiet_on_healthy_streams(seed):
    assert _fired(PHASE_DETECTORS, progan_stream(seed=seed)) == {}
    assert _fired(STYLE_DETECTORS, style_stream(seed=seed)) == {}


def test_stuck_fade_in_fires_with_evidence():
    alerts = _fired(PHASE_DETECTORS, progan_stream(stuck=True))
    a = alerts["fade_in"]
    assert a.step == 150 + 50 and a.onset_step == 150
    assert a.evidence["alpha"] == 0.0 and a.remedies
    assert "transition_instability" not in alerts


def test_instant_switch_is_a_jump():
    recs = [
        StepRecord(t, {S.PHASE_INDEX: 1.0, S.PHASE_ALPHA: 0.0 if t < 5 else 1.0}) for t in range(10)
    ]
    a = _fired(["fade_in"], recs)["fade_in"]
    assert a.step == 5 and "jumped" in a.diagnosis


def test_transition_instability_fires_after_the_switch():
    # the blow-up starts with the fade-in of level 2 (step 450)
    alerts = _fired(PHASE_DETECTORS, progan_stream(blowup_at=450))
    a = alerts["transition_instability"]
    assert a.onset_step == 450 and 450 < a.step <= 550
    assert a.evidence["grad_G_ratio"] > 10 and a.evidence["diversity_ratio"] < 0.5
    assert "fade_in" not in alerts


@pytest.mark.parametrize(
    ("fault", "detector", "onset"),
    [
        ({"w_collapse_at": 300}, "w_collapse", 300),
        ({"noise_at": 300}, "noise_dominated", 300),
        ({"mix_at": 300}, "mixing_no_effect", 300),
        ({"spike_at": 300}, "channel_spike", 300),
        ({"pl_nan_at": 300}, "regularizer_blowup", 300),
        ({"r1_blow_at": 304}, "regularizer_blowup", 304),
        ({"ada_runaway": True}, "augment_runaway", None),
    ],
)
def test_style_detector_fires_on_its_fault_only(fault, detector, onset):
    alerts = _fired(STYLE_DETECTORS, style_stream(**fault))
    assert set(alerts) == {detector}, alerts
    a = alerts[detector]
    if onset is not None:
        assert onset <= a.onset_step <= onset + 16 and a.step - onset <= 100
    assert a.evidence and a.remedies


@pytest.mark.parametrize("name", PHASE_DETECTORS + STYLE_DETECTORS)
def test_state_round_trip_gives_the_same_alerts(name):
    records = (
        progan_stream(stuck=True, blowup_at=450)
        if name in PHASE_DETECTORS
        else style_stream(
            w_collapse_at=300,
            noise_at=300,
            mix_at=300,
            spike_at=300,
            pl_nan_at=300,
            ada_runaway=True,
        )
    )
    cls = get_detector_class(name)
    straight = run_detectors([cls()], records)
    first = cls()
    part = run_detectors([first], records[:400])
    import json

    second = cls()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    part += run_detectors([second], records[400:])
    assert [a.to_dict() for a in part] == [a.to_dict() for a in straight]


def test_level_copy_fires_on_a_copying_level_only():
    assert _fired(["level_copy"], level_stream()) == {}
    a = _fired(["level_copy"], level_stream(copy_from=300))["level_copy"]
    assert a.onset_step == 300 and a.step == 400 and S.level_copy_ratio(2) in a.evidence

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


# Phases of 30 steps (switches at 30, 90, 150, each fade 30 + stabilise 30), as the
# growing-families benchmark trains: shorter than the 100-step window.
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_phases_shorter_than_the_window_are_quiet_when_healthy(seed):
    assert _fired(PHASE_DETECTORS, progan_stream(210, phase=30, seed=seed)) == {}


def test_a_collapse_that_recovers_within_the_phase_is_judged_on_that_phase():
    # diversity x0.2 from the switch at 30 to step 75, recovered before the next switch at
    # 90: a window running 100 steps past the switch takes in as many recovered records
    # as collapsed ones and its median stays near the reals'
    a = _fired(["transition_instability"], progan_stream(210, phase=30, collapse=(30, 75)))
    a = a["transition_instability"]
    assert a.onset_step == 30 and a.step == 90  # judged when the next phase begins
    assert a.evidence["window_end_step"] == 89 and a.evidence["diversity_ratio"] < 0.5


def _stream_with_dips(dips, steps=700):
    """The healthy 150-step-phase stream with diversity x0.2 at the given steps."""
    recs = progan_stream(steps)
    for r in recs:
        if r.step in dips and S.SAMPLES_PDIST_RATIO in r.scalars:
            r.scalars[S.SAMPLES_PDIST_RATIO] *= 0.2
    return recs


def test_a_collapse_held_for_part_of_the_window_is_found():
    # diversity at 0.2x for three records (steps 480-500) after the switch at 450, then
    # back: seven of the window's ten records are normal, so its median is too
    recs = _stream_with_dips({480, 490, 500})
    a = _fired(["transition_instability"], recs)["transition_instability"]
    assert a.onset_step == 450 and a.step == 549
    assert a.evidence["diversity_held_from_step"] == 480
    assert a.evidence["diversity_ratio"] < 0.3 and a.evidence["diversity_after_median"] > 0.9
    # the whole window's median (hold_steps None, the earlier rule) misses it
    old = build_detectors(
        ["transition_instability"], {"transition_instability": {"hold_steps": None}}
    )
    assert not [a for a in run_detectors(old, recs) if a.severity.value != "info"]


def test_dips_shorter_than_the_hold_are_not_a_collapse():
    # two low records 30 steps apart: no 25-step stretch holds a low median
    assert _fired(["transition_instability"], _stream_with_dips({470, 500})) == {}
    # two in a row: a 25-step stretch holds three records, of which two are low; a
    # median of three is the middle one, so this one counts (the hold is 25 steps)
    assert "transition_instability" in _fired(
        ["transition_instability"], _stream_with_dips({470, 480})
    )


def test_a_switch_inside_the_previous_window_is_judged():
    # the blow-up starts at the second switch (90), while the first one's window is open
    a = _fired(["transition_instability"], progan_stream(210, phase=30, blowup_at=90))
    a = a["transition_instability"]
    assert a.onset_step == 90 and a.step == 150
    assert a.evidence["grad_G_ratio"] > 10


def test_a_single_switch_is_judged_as_before():
    # one switch (StackGAN's stages): the window after it runs its full length
    recs = [r for r in progan_stream(blowup_at=450) if r.step < 700]
    a = _fired(["transition_instability"], recs)["transition_instability"]
    assert a.onset_step == 450 and a.step == 549 and a.evidence["window_end_step"] == 549


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


def _r1_records(values, every=16):
    return [StepRecord(every * k, {S.REG_R1: v}) for k, v in enumerate(values)]


def test_regularizer_blowup_quiet_on_a_warm_up_from_near_zero():
    """R1 of an initialised discriminator starts near zero and rises by orders of magnitude
    while D learns (x3 per record here, 1e-5 to ~1), then holds its level: the median of
    the last 20 values lags the rise by ~3 decades, the recent level does not."""
    rise = [1e-5 * 3.0**k for k in range(11)]
    steady = [rise[-1] * (1.0 + 0.2 * ((k * 7) % 5 - 2) / 2) for k in range(30)]
    assert _fired(["regularizer_blowup"], _r1_records(rise + steady)) == {}


def test_regularizer_blowup_quiet_on_a_single_spike_that_returns():
    """One minibatch's R1 far above the level, then back: a sharp batch, not a blow-up."""
    values = [0.05] * 20 + [50.0] + [0.05] * 10
    assert _fired(["regularizer_blowup"], _r1_records(values)) == {}


def test_regularizer_blowup_fires_when_the_excess_holds():
    values = [0.05] * 20 + [50.0, 80.0, 120.0]
    a = _fired(["regularizer_blowup"], _r1_records(values))["regularizer_blowup"]
    assert a.onset_step == 16 * 20 and a.step == 16 * 21
    assert a.evidence["records_above"] == 2 and a.evidence["level"] == pytest.approx(0.05)


def test_regularizer_blowup_round_trip_while_an_excess_is_pending():
    import json

    records = style_stream(r1_blow_at=384)  # R1 records at 384 (above) and 400 (confirms)
    cls = get_detector_class("regularizer_blowup")
    straight = run_detectors([cls()], records)
    first = cls()
    part = run_detectors([first], records[:400])
    assert part == [] and first.state_dict()["state"]["above"]
    second = cls()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    part += run_detectors([second], records[400:])
    assert [a.to_dict() for a in part] == [a.to_dict() for a in straight]
    assert straight[0].onset_step == 384 and straight[0].step == 400

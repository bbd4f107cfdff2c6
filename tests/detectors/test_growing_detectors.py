"""Phase and style detectors: each fires on its failure stream, stays quiet on a healthy one,
and resumes from its state exactly."""

import math

import numpy as np
import pytest

from gandiag import signals as S
from gandiag.detectors import build_detectors, get_detector_class, run_detectors
from gandiag.types import StepRecord


def progan_stream(steps=900, phase=150, *, stuck=False, blowup_at=None, seed=0):
    """Phases of ``phase`` steps: stabilise, then fade the next level in over ``phase`` steps."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        level = 0 if t < phase else min(3, 1 + (t - phase) // (2 * phase))
        rel = (t - phase) % (2 * phase) if t >= phase else phase
        alpha = (
            1.0 if level == 0 or rel >= phase else (float(rel // phase) if stuck else rel / phase)
        )
        g = 0.5 * math.exp(0.3 * rng.standard_normal())
        div = 1.0 + 0.05 * rng.standard_normal()
        if blowup_at is not None and t >= blowup_at:
            g *= 40.0
            div *= 0.2
        sc = {
            S.PHASE_INDEX: float(level),
            S.PHASE_ALPHA: alpha,
            S.grad_norm("G"): g,
            S.loss("D"): -1.0 + 0.1 * rng.standard_normal() + level,
        }
        if t % 10 == 0:
            sc[S.SAMPLES_PDIST_RATIO] = div
        out.append(StepRecord(t, sc))
    return out


def style_stream(
    steps=600,
    *,
    w_collapse_at=None,
    noise_at=None,
    mix_at=None,
    spike_at=None,
    pl_nan_at=None,
    r1_blow_at=None,
    ada_runaway=False,
    seed=0,
):
    rng = np.random.default_rng(seed)
    out, p = [], 0.0
    for t in range(steps):
        jitter = math.exp(0.1 * rng.standard_normal())
        sc = {S.STYLE_W_STD: 0.8 * jitter}
        if w_collapse_at is not None and t >= w_collapse_at:
            sc[S.STYLE_W_STD] = 1e-5 * jitter
        if t % 25 == 0:
            sc[S.STYLE_NOISE_SHARE] = (
                0.9 if noise_at is not None and t >= noise_at else 0.05 * jitter
            )
            sc[S.STYLE_MIXING_EFFECT] = (
                0.001 if mix_at is not None and t >= mix_at else 0.4 * jitter
            )
            sc[S.STYLE_CHANNEL_SPIKE] = (
                60.0 if spike_at is not None and t >= spike_at else 2.5 * jitter
            )
        if t % 4 == 0:
            pl = 0.8 * jitter
            sc[S.REG_PL_LENGTH] = math.nan if pl_nan_at is not None and t >= pl_nan_at else pl
        if t % 16 == 0:
            sc[S.REG_R1] = (
                0.02 * jitter * (1e4 if r1_blow_at is not None and t >= r1_blow_at else 1)
            )
        if t % 4 == 0:
            rt = 0.9 if ada_runaway else 0.6 + 0.05 * rng.standard_normal()
            p = max(0.0, p + (0.01 if rt > 0.6 else -0.01))
            sc[S.ADA_P], sc[S.ADA_RT] = p, rt
        out.append(StepRecord(t, sc))
    return out


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


def _level_stream(copy_from=None, steps=600, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        sc = {S.level_copy_ratio(k): 0.8 * math.exp(0.2 * rng.standard_normal()) for k in (1, 2)}
        if copy_from is not None and t >= copy_from:
            sc[S.level_copy_ratio(2)] = 1e-4
        out.append(StepRecord(t, sc))
    return out


def test_level_copy_fires_on_a_copying_level_only():
    assert _fired(["level_copy"], _level_stream()) == {}
    a = _fired(["level_copy"], _level_stream(copy_from=300))["level_copy"]
    assert a.onset_step == 300 and a.step == 400 and S.level_copy_ratio(2) in a.evidence

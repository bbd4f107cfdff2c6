"""Detectors v2: label-free coverage, oscillation, several discriminators, dead units."""

from __future__ import annotations

import math

import numpy as np
from detector_streams import gan_stream, vae_stream

from gandiag import signals as S
from gandiag.detectors import DetectorSuite, build_detectors, default_detectors, run_detectors
from gandiag.detectors.oscillation import spectral_peak
from gandiag.roles import Role
from gandiag.types import Severity, StepRecord


def alerts_of(name: str, records: list[StepRecord], **params) -> list:
    dets = build_detectors([name], {name: params} if params else None)
    return [a for a in run_detectors(dets, records) if a.severity is not Severity.INFO]


def test_every_generator_gets_sample_checks() -> None:
    vae = [d.name for d in default_detectors("vae")]
    assert "sample_coverage" in vae and "mode_collapse" in vae
    gan = [d.name for d in default_detectors("gan")]
    assert {"sample_coverage", "oscillation", "discriminator_imbalance"} <= set(gan)


def test_partial_collapse_caught_label_free_within_one_evaluation() -> None:
    healthy = gan_stream(steps=3000, early_phase_until=300)
    assert alerts_of("sample_coverage", healthy) == []
    recs = gan_stream(steps=3000, early_phase_until=300, partial_at=1500)
    (a,) = alerts_of("sample_coverage", recs)
    # evaluations every 100 steps: onset at the first evaluation with the evidence, the
    # alert at the next one (two in a row)
    assert a.onset_step == 1500 and a.step == 1600
    assert a.evidence["excess_min"] == 0.3 and a.evidence["top_bin_excess"] >= 0.55
    # the same run without any eval/* scalar: coverage is a monitor signal, still caught
    bare = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if not k.startswith("eval/")})
        for r in recs
    ]
    assert [x.step for x in alerts_of("sample_coverage", bare)] == [1600]


def test_early_phase_is_no_onset() -> None:
    # concentrated from the start through the warm-up and beyond: the onset is the first
    # evaluation after the warm-up, never step 0
    recs = gan_stream(steps=2000, early_phase_until=1200)
    (a,) = alerts_of("sample_coverage", recs)
    assert a.onset_step == 500 and a.step == 600


def test_transient_collapse_realerts_after_recovery() -> None:
    recs = []
    for t in range(0, 3000, 100):
        bad = 800 <= t < 1200 or 2000 <= t < 2400
        ex = 0.7 if bad else 0.05
        recs.append(
            StepRecord(
                t,
                {
                    S.COVERAGE_TOP_BIN_EXCESS: ex,
                    S.COVERAGE_BINS_MISSED: 0.05,
                    S.COVERAGE_TOP_BIN_SHARE: ex + 0.06,
                },
            )
        )
    alerts = alerts_of("sample_coverage", recs)
    assert [(a.onset_step, a.step) for a in alerts] == [(800, 900), (2000, 2100)]


def test_spectral_peak_separates_a_swing_from_noise_and_drift() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(40)
    swing = np.sin(2 * np.pi * 4 * t / 40) + 0.1 * rng.standard_normal(40)
    share, cycles, _ = spectral_peak(list(swing), 2)
    assert share > 0.8 and cycles == 4
    noise = rng.standard_normal(40)
    assert spectral_peak(list(noise), 2)[0] < 0.5
    walk = np.cumsum(rng.standard_normal(40))
    assert spectral_peak(list(walk), 2)[0] < 0.5
    step_change = np.r_[np.zeros(20), np.ones(20)] + 0.05 * rng.standard_normal(40)
    assert spectral_peak(list(step_change), 2)[0] < 0.5


def test_growing_oscillation_alerts_as_non_convergence_healthy_does_not() -> None:
    assert alerts_of("oscillation", gan_stream(steps=3000)) == []
    assert alerts_of("oscillation", gan_stream(steps=3000, saturate_at=1500)) == []
    (a,) = alerts_of("oscillation", gan_stream(steps=3000, oscillate_at=1500))
    assert "oscillation" in a.diagnosis and 1500 <= a.onset_step <= a.step
    assert a.evidence["peak_share"] >= a.evidence["peak_share_min"]
    assert 80 <= a.evidence["period_steps"] <= 120
    assert a.step - 1500 <= 800 + 3 * 20  # a full window of blocks, then the patience
    # a swing from the end of the warm-up (300): the default waits for the full 40-block
    # window (800 steps); min_blocks=20 tests from 20 blocks on, and reads the period
    # from the window it used
    early = gan_stream(steps=2000, oscillate_at=300)
    (a,) = alerts_of("oscillation", early)
    assert a.onset_step >= 800
    (b,) = alerts_of("oscillation", early, min_blocks=20)
    # (a swing that began in the window's last third is neither persistent nor yet
    # rising third to third: it counts once it reaches the middle third, 2 blocks on)
    assert 300 <= b.onset_step and b.step <= 20 * 20 + 5 * 20
    assert 80 <= b.evidence["period_steps"] <= 120


def test_rotation_of_update_directions() -> None:
    recs = [
        StepRecord(t, {S.update_cosine("G"): (0.6 if t < 1000 else -0.8)})
        for t in range(0, 2000, 50)
    ]
    (a,) = alerts_of("oscillation", recs)
    assert a.onset_step >= 1000 and a.evidence["cosine_max"] == -0.5


def test_one_discriminator_saturating_while_another_does_not() -> None:
    assert alerts_of("discriminator_imbalance", gan_stream(steps=2000)) == []
    # both saturating is the vanishing-gradient story, not an imbalance
    assert alerts_of("discriminator_imbalance", gan_stream(steps=2000, saturate_at=500)) == []
    (a,) = alerts_of("discriminator_imbalance", gan_stream(steps=2000, imbalance_at=800))
    # the onset is when the smoothed outputs (time constant 20 steps) crossed the thresholds
    assert "D_b is saturated" in a.diagnosis and 800 <= a.onset_step <= 860
    assert a.step - a.onset_step >= 50 and a.evidence["fake_prob_max"] == 0.05


def test_dead_units_by_kl_per_dimension_and_relative_warmup() -> None:
    # no active-unit probe: the KL-per-dimension criterion alone finds 4 dead dims of 8
    recs = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if not k.startswith("vae/active")})
        for r in vae_stream(steps=1000, dead_from=0, dead_dims=4)
    ]
    (a,) = alerts_of("posterior_collapse", recs)
    assert a.evidence["dead_kl"] == 0.01 and a.evidence["dead_share"] == 0.5
    assert a.onset_step == 200  # the absolute warm-up without total_steps
    # a 500-step run: the warm-up is 10% of it
    (b,) = alerts_of("posterior_collapse", recs, total_steps=500)
    assert b.onset_step == 50 and b.step == 100


def test_every_alert_names_the_threshold_it_crossed() -> None:
    from test_state_and_config import stream_for

    names = [
        "mode_collapse",
        "sample_coverage",
        "oscillation",
        "discriminator_imbalance",
        "vanishing_gradients",
        "d_overfitting",
        "exploding_gradients",
        "posterior_collapse",
    ]
    for name in names:
        alerts = alerts_of(name, stream_for(name))
        assert alerts, name
        for a in alerts:
            keys = set(a.evidence)
            assert any(k.endswith(("_max", "_min", "_drop", "_kl")) for k in keys), (name, keys)
            assert all(math.isfinite(v) or math.isnan(v) for v in a.evidence.values())


def test_imbalance_is_silent_about_missing_signals_in_a_run_with_one_discriminator() -> None:
    """A run whose networks hold one discriminator has nothing to compare: the missing
    per-discriminator outputs are expected there, so no "inactive" notice; with two
    discriminators recorded and no per-D outputs, the notice names the gap."""
    plain = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if not k.startswith("d/")})
        for r in gan_stream(steps=1500)
    ]

    def notices(roles: dict[str, Role]) -> list:
        suite = DetectorSuite(build_detectors(["discriminator_imbalance"]), roles=roles)
        return [a for a in suite.run(plain) if a.severity is Severity.INFO]

    assert notices({"G": Role.GENERATOR, "D": Role.DISCRIMINATOR}) == []
    (note,) = notices({"G": Role.GENERATOR, "D_s": Role.DISCRIMINATOR, "D_t": Role.DISCRIMINATOR})
    assert "inactive" in note.diagnosis


def _without_evals(recs: list[StepRecord]) -> list[StepRecord]:
    return [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if not k.startswith("eval/")})
        for r in recs
    ]


def test_mode_hopping_caught_label_free() -> None:
    # batch signals only: the coverage probe's fake_shift and top_bin_share carry the hops
    recs = _without_evals(gan_stream(steps=3000, coverage_hop_at=1500))
    (a,) = alerts_of("non_convergence", recs)
    # evaluations every 100 steps, each shift a transition from the previous one: the
    # onset is the first hop, the alert the fourth (hop_window = 4, all of them hops)
    assert (a.onset_step, a.step) == (1500, 1800)
    assert a.evidence["shift_min"] == 0.5 and a.evidence["fake_shift"] >= 0.85
    assert "label-free" in a.diagnosis


def test_label_free_hopping_ignores_early_phase_collapse_and_spread_moves() -> None:
    # the early one-mode phase hops too (shift 0.8, concentrated) and here lasts past the
    # warm-up (500) to step 700: two hopping evaluations after it are not four
    early = _without_evals(gan_stream(steps=3000, early_phase_until=700))
    assert alerts_of("non_convergence", early) == []
    # collapse onto one mode that stays put: concentrated, but no shift
    still = _without_evals(gan_stream(steps=3000))
    for r in still:
        if S.COVERAGE_FAKE_SHIFT in r.scalars and r.step >= 1500:
            r.scalars[S.COVERAGE_TOP_BIN_SHARE] = 0.95
    assert alerts_of("non_convergence", still) == []
    # large moves of a generator that covers the data (no region holds half the samples)
    spread = _without_evals(gan_stream(steps=3000))
    for r in spread:
        if S.COVERAGE_FAKE_SHIFT in r.scalars and r.step >= 1500:
            r.scalars[S.COVERAGE_FAKE_SHIFT] = 0.9
    assert alerts_of("non_convergence", spread) == []
    # one evaluation without a hop in every four is no alarm (hop_fraction 0.75 of 4 is 3:
    # three of four still alarms, two of four does not)
    every_other = _without_evals(gan_stream(steps=3000, coverage_hop_at=1500))
    for r in every_other:
        if S.COVERAGE_FAKE_SHIFT in r.scalars and r.step >= 1500 and (r.step // 100) % 2:
            r.scalars[S.COVERAGE_FAKE_SHIFT] = 0.1
    assert alerts_of("non_convergence", every_other) == []


def test_one_dip_in_the_margin_is_not_an_oscillation() -> None:
    # D's margin dips once when something in training changes (a collapse beginning),
    # then settles: its detrended spectrum has a peak, but the swing sits in one third
    import pytest

    from gandiag.detectors.oscillation import swing_by_thirds

    recs = []
    for t in range(2000):
        dip = -0.5 * math.exp(-(((t - 1000) / 60.0) ** 2))
        noise = 0.05 * math.sin(t * 12.9898) * math.cos(t * 78.233)
        recs.append(StepRecord(t, {S.D_REAL_RAW_MEAN: 2.0 + dip + noise, S.D_FAKE_RAW_MEAN: 0.0}))
    assert alerts_of("oscillation", recs) == []
    # without the spread rule the dip's spectral peak passes for a persistent swing
    assert [a.onset_step for a in alerts_of("oscillation", recs, spread_min=0.0)]
    thirds = swing_by_thirds([1.0, -1.0] * 6 + [0.0] * 12 + [1.0, -1.0] * 6)
    assert thirds[1] < 0.05 * thirds[0] and thirds[2] == pytest.approx(thirds[0])

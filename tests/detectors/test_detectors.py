"""Each detector on synthetic streams: the fault injected at step t alarms at t (+ patience), a
healthy stream never alarms, and what the alert says (severity, onset, evidence, remedies)."""

from __future__ import annotations

import math
import re

import pytest
from detector_streams import gan_stream, vae_stream

from gandiag import signals as S
from gandiag.detectors import build_detectors, get_detector_class, run_detectors
from gandiag.types import Severity, StepRecord

GAN_NAMES = [
    "nonfinite",
    "exploding_gradients",
    "stalled_training",
    "vanishing_gradients",
    "mode_collapse",
    "non_convergence",
    "d_overfitting",
]


def alerts_of(name: str, records, **params):
    det = get_detector_class(name)(**params)
    return [a for a in run_detectors([det], records) if a.severity is not Severity.INFO]


@pytest.mark.parametrize("seed", range(3))
def test_healthy_gan_stream_raises_nothing(seed: int) -> None:
    recs = gan_stream(steps=5000, seed=seed)
    alerts = run_detectors(build_detectors(GAN_NAMES), recs)
    assert alerts == []


def test_healthy_vae_stream_raises_nothing() -> None:
    alerts = run_detectors(build_detectors(["posterior_collapse", "nonfinite"]), vae_stream())
    assert alerts == []


@pytest.mark.parametrize("t", [0, 1, 37, 999])
def test_nan_alerts_at_the_step_it_appears(t: int) -> None:
    alerts = alerts_of("nonfinite", gan_stream(steps=1200, nan_at=t))
    assert len(alerts) == 1  # a dead run alerts once
    a = alerts[0]
    assert (a.step, a.onset_step, a.severity) == (t, t, Severity.CRITICAL)
    assert "loss/G" in a.diagnosis and a.remedies


def test_nan_rearms_after_recovery() -> None:
    recs = gan_stream(steps=600)
    bad = {10, 11, 400}
    recs = [
        StepRecord(r.step, {**r.scalars, S.loss("G"): math.nan}) if r.step in bad else r
        for r in recs
    ]
    assert [a.step for a in alerts_of("nonfinite", recs, rearm_steps=100)] == [10, 400]


def test_exploding_gradients_alarm_after_patience() -> None:
    alerts = alerts_of("exploding_gradients", gan_stream(steps=2000, explode_at=800))
    assert len(alerts) == 1
    a = alerts[0]
    assert a.onset_step > 800 and a.step - a.onset_step == 20
    assert a.evidence["ratio"] >= 1e4
    assert "G gradients are exploding" in a.diagnosis


def test_exploding_threshold_is_overridable() -> None:
    recs = gan_stream(steps=2000, explode_at=800)
    assert alerts_of("exploding_gradients", recs, decades=6.0) == []
    capped = alerts_of("exploding_gradients", gan_stream(steps=600), max_norm=0.05)
    assert capped and capped[0].onset_step < 100


def test_critic_divergence() -> None:
    recs = gan_stream(steps=600)
    recs = [StepRecord(r.step, {**r.scalars, S.D_FAKE_RAW_MEAN: -float(r.step)}) for r in recs]
    alerts = alerts_of("exploding_gradients", recs)
    assert [(a.onset_step, a.step) for a in alerts] == [(101, 121)]
    assert "outputs are diverging" in alerts[0].diagnosis


def test_stalled_training() -> None:
    alerts = alerts_of("stalled_training", gan_stream(steps=1000, stall_at=500))
    assert len(alerts) == 1
    assert alerts[0].onset_step == 500 and alerts[0].step == 600


def test_vanishing_gradients_needs_saturation_and_small_generator_gradient() -> None:
    alerts = alerts_of("vanishing_gradients", gan_stream(steps=1000, saturate_at=300))
    assert len(alerts) == 1
    assert alerts[0].onset_step == 300 and alerts[0].step == 330
    assert alerts[0].evidence["d_fake_prob"] < 0.05
    # The same saturated D under the non-saturating loss keeps G's gradient: no alarm.
    ns = gan_stream(steps=1000, saturate_at=300, saturating_loss=False)
    assert alerts_of("vanishing_gradients", ns) == []


def test_mode_collapse_after_warmup_but_not_in_the_early_phase() -> None:
    # The early one-mode phase lasts until step 400 in every stream: never an alarm.
    assert alerts_of("mode_collapse", gan_stream(steps=3000, early_phase_until=450)) == []
    alerts = alerts_of("mode_collapse", gan_stream(steps=3000, collapse_at=1500))
    assert len(alerts) == 1
    a = alerts[0]
    assert 1500 <= a.onset_step <= 1510 and a.step <= 1500 + 150
    assert a.evidence["pdist_ratio"] < 0.3


def test_mode_collapse_that_never_leaves_the_early_phase_has_an_honest_onset() -> None:
    # collapsed since step 100, inside the warm-up: the evidence counts from the end of the
    # warm-up, so the onset is 500 (not a back-dated 100) and the alert comes one
    # patience later
    alerts = alerts_of("mode_collapse", gan_stream(steps=2000, collapse_at=100))
    assert len(alerts) == 1 and alerts[0].onset_step == 500 and alerts[0].step == 600
    assert alerts[0].evidence["pdist_max"] == 0.3


def test_mode_collapse_from_evaluations_only() -> None:
    recs = gan_stream(steps=3000, hop_at=1500)
    evals_only = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if k.startswith("eval/")})
        for r in recs
    ]
    alerts = alerts_of("mode_collapse", evals_only)
    assert len(alerts) == 1 and alerts[0].onset_step == 1500 and alerts[0].step == 1700


def test_non_convergence_mode_hopping() -> None:
    alerts = alerts_of("non_convergence", gan_stream(steps=3000, hop_at=1500))
    assert len(alerts) == 1
    assert alerts[0].onset_step == 1500 and alerts[0].step == 1900
    # A dominant mode that stays put is collapse, not hopping.
    assert alerts_of("non_convergence", gan_stream(steps=3000, collapse_at=1500)) == []


def test_d_overfitting_needs_rv() -> None:
    alerts = alerts_of("d_overfitting", gan_stream(steps=3000, overfit_at=1500))
    assert len(alerts) == 1
    assert 1500 <= alerts[0].onset_step <= 1520 and alerts[0].step <= 1500 + 250
    assert alerts[0].evidence["r_v"] > 0.4


@pytest.mark.parametrize(("dead", "severity"), [(8, Severity.CRITICAL), (4, Severity.WARNING)])
def test_posterior_collapse(dead: int, severity: Severity) -> None:
    alerts = alerts_of("posterior_collapse", vae_stream(dead_from=600, dead_dims=dead))
    assert [a.severity for a in alerts] == [severity]
    assert 600 <= alerts[0].onset_step <= 610 and alerts[0].step <= 720
    assert alerts[0].evidence["dead_share"] == pytest.approx(dead / 8)


def test_posterior_collapse_from_kl_dims_without_active_units() -> None:
    recs = vae_stream(dead_from=600, dead_dims=4)
    recs = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if "active" not in k}) for r in recs
    ]
    alerts = alerts_of("posterior_collapse", recs)
    assert [a.severity for a in alerts] == [Severity.WARNING]


def test_every_alert_is_complete() -> None:
    recs = gan_stream(steps=3000, saturate_at=2600, collapse_at=1000, overfit_at=1200, hop_at=1500)
    alerts = run_detectors(build_detectors(GAN_NAMES), recs)
    assert {a.detector for a in alerts} >= {
        "mode_collapse",
        "d_overfitting",
        "non_convergence",
        "vanishing_gradients",
    }
    for a in alerts:
        assert a.severity in (Severity.WARNING, Severity.CRITICAL)
        assert a.onset_step <= a.step
        assert not re.search(r"[.;]\s", a.diagnosis) and len(a.diagnosis) < 220  # one sentence
        assert a.evidence and all(isinstance(v, float) for v in a.evidence.values())
        assert len(a.remedies) >= 2
        assert a.one_line().startswith(f"[{a.severity.value.upper()}] step {a.step} {a.detector}:")


def test_non_convergence_margin_rule_is_opt_in() -> None:
    recs = gan_stream(steps=2000)
    recs = [
        StepRecord(r.step, {**r.scalars, S.D_REAL_PROB_MEAN: 0.9, S.D_FAKE_PROB_MEAN: 0.1})
        if r.step >= 1000
        else r
        for r in recs
    ]
    assert alerts_of("non_convergence", recs) == []
    alerts = alerts_of("non_convergence", recs, margin_min=0.6)
    assert len(alerts) == 1 and "D keeps winning" in alerts[0].diagnosis
    assert 1000 <= alerts[0].onset_step <= 1100 and alerts[0].step - alerts[0].onset_step == 200


def test_partial_then_total_posterior_collapse_escalates() -> None:
    recs = vae_stream(steps=1500, dead_from=400, dead_dims=4)
    recs = recs[:900] + vae_stream(steps=1500, seed=1, dead_from=0, dead_dims=8)[900:]
    alerts = alerts_of("posterior_collapse", recs)
    assert [a.severity for a in alerts] == [Severity.WARNING, Severity.CRITICAL]


def _rv_records(steps: int, overfit_at: int | None, seed: int = 0) -> list[StepRecord]:
    """D means on training reals, held-out reals and fakes with batch noise, and the
    per-batch r_v the Monitor logs from them (whose denominator now and then nears 0)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        gap = 1.0 + 0.8 * rng.standard_normal()  # E[D_train] - E[D_fake] on one batch
        tr = 0.5 + 0.1 * rng.standard_normal()
        shift = 0.7 if overfit_at is not None and t >= overfit_at else 0.0
        va = tr - shift + 0.3 * rng.standard_normal()
        fk = tr - gap
        rv = (tr - va) / (tr - fk)
        out.append(
            StepRecord(
                t, {S.D_REAL_RAW_MEAN: tr, S.D_VAL_RAW_MEAN: va, S.D_FAKE_RAW_MEAN: fk, S.D_RV: rv}
            )
        )
    return out


def test_d_overfitting_uses_smoothed_means_not_the_noisy_batch_ratio() -> None:
    healthy = [_rv_records(3000, None, seed) for seed in range(5)]
    ratio_only = [
        [StepRecord(r.step, {S.D_RV: r.scalars[S.D_RV]}) for r in recs] for recs in healthy
    ]
    # Smoothing the per-batch ratio (the fallback without the three means) is fooled...
    assert (
        sum(len(run_detectors(build_detectors(["d_overfitting"]), recs)) for recs in ratio_only) > 0
    )
    # ...the ratio of smoothed means is not.
    for recs in healthy:
        assert run_detectors(build_detectors(["d_overfitting"]), recs) == []
    # The same noisy stream with r_v -> 0.7 from step 1500 alarms once, shortly after.
    alerts = run_detectors(build_detectors(["d_overfitting"]), _rv_records(3000, 1500))
    assert len(alerts) == 1 and 1500 <= alerts[0].step <= 1500 + 250
    assert 0.5 < alerts[0].evidence["r_v"] < 0.9

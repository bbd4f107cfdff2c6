"""The failure suite's outcome labels: strict rule, margin band (not scored), and scoring."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from failure_suite import label_glyph, label_ring, label_vae
from failure_suite_score import is_healthy, score

from gandiag.types import Alert, Severity


def _ring(
    modes: list[float], dominant: list[int] | None = None, grad: list[float] | None = None
) -> dict:
    n = len(modes)
    return {
        "step": [50 * i for i in range(n)],
        "effective_modes": modes,
        "dominant_mode": dominant or [0] * n,
        "d_fake_prob": [0.3] * n if grad is None else [0.001] * n,
        "d_real_prob": [0.7] * n if grad is None else [0.999] * n,
        "g_grad_rel": grad or [1.0] * n,
        "sample_scale": [2.0] * n,
        "critic_scale": [1.0] * n,
    }


def test_ring_collapse_label_and_margin_band() -> None:
    labels, amb = label_ring(_ring([8.0] * 10 + [2.0] * 8))
    assert labels == {"mode_collapse": 500} and amb == {}
    # hovering at 2.5-2.6 effective modes is neither collapsed nor healthy: not scored
    labels, amb = label_ring(_ring([8.0] * 10 + [2.55] * 8))
    assert labels == {} and amb == {"mode_collapse": 500}
    labels, amb = label_ring(_ring([8.0] * 18))
    assert labels == {} and amb == {}


def test_ring_hopping_and_vanishing_bands() -> None:
    hop = [0, 1, 2, 3, 4, 5, 6, 7] * 3
    labels, amb = label_ring(_ring([2.0] * 24, dominant=hop))
    assert labels["non_convergence"] == 500
    labels, amb = label_ring(_ring([3.5] * 24, dominant=hop))
    assert "non_convergence" not in labels and amb["non_convergence"] == 500
    # the gradient ratio 0.235 then 0.328 straddles the strict 0.3
    labels, amb = label_ring(_ring([8.0] * 4, grad=[0.235, 0.328, 0.9, 0.9]))
    assert "vanishing_gradients" not in labels and amb["vanishing_gradients"] == 0
    labels, amb = label_ring(_ring([8.0] * 4, grad=[0.2, 0.1, 0.9, 0.9]))
    assert labels["vanishing_gradients"] == 0


def test_vae_and_glyph_bands() -> None:
    steps = [100 * i for i in range(8)]
    assert label_vae({"step": steps, "dead_share": [0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]}, 200) == (
        {"posterior_collapse": 200},
        {},
    )
    assert label_vae({"step": steps, "dead_share": [0, 0, 0, 0.125, 0.125, 0, 0, 0]}, 200) == (
        {},
        {"posterior_collapse": 300},
    )
    # sample concentration counts only where the classifier reads the decoder's outputs
    share = [1.0, 0.8, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7]
    blurry = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.7]
    vae = {"step": steps, "dead_share": [0] * 8, "dominant_class_share": share}
    assert label_vae(vae | {"recon_class_acc": blurry}, 200) == ({}, {"mode_collapse": 200})
    sharp = [0.1, 0.2, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert label_vae(vae | {"recon_class_acc": sharp}, 200) == ({"mode_collapse": 300}, {})
    spread = vae | {"dominant_class_share": [1.0, 0.8, 0.6, 0.3, 0.2, 0.2, 0.2, 0.2]}
    assert label_vae(spread | {"recon_class_acc": sharp}, 200) == ({}, {"mode_collapse": 200})
    assert label_vae(spread | {"dominant_class_share": [0.2] * 8}, 200) == ({}, {})
    assert label_glyph({"step": steps, "r_v_large": [0, 0.1, 0.4, 0.45, 0.4, 0.6, 0.7, 0.7]}) == (
        {"d_overfitting": 500},
        {},
    )
    assert label_glyph({"step": steps, "r_v_large": [0, 0.1, 0.4, 0.45, 0.4, 0.6, 0.2, 0.7]}) == (
        {},
        {"d_overfitting": 200},
    )


def _alert(det: str, step: int) -> Alert:
    return Alert(det, Severity.WARNING, step, step, "x", {}, ())


def test_margin_band_claims_are_not_scored_and_band_runs_are_not_healthy() -> None:
    case = {"family": "ring", "config": "c", "seed": 0}
    runs = [
        {
            "case": case,
            "labels": {"mode_collapse": 500},
            "ambiguous": {},
            "eval_every": 50,
            "steps_run": 900,
        },
        {
            "case": case,
            "labels": {},
            "ambiguous": {"mode_collapse": 500},
            "eval_every": 50,
            "steps_run": 900,
        },
        {"case": case, "labels": {}, "ambiguous": {}, "eval_every": 50, "steps_run": 900},
    ]
    alerts = [
        [_alert("mode_collapse", 550)],
        [_alert("mode_collapse", 500)],
        [_alert("non_convergence", 700)],
    ]
    s = score(runs, alerts)
    assert s["per_failure"]["mode_collapse"]["precision"] == 1.0
    assert s["per_failure"]["mode_collapse"]["median_delay_evals"] == 1.0
    assert len(s["margin_band"]) == 1 and s["overall"]["false_claims"] == 1
    assert [is_healthy(r) for r in runs] == [False, False, True]
    assert s["overall"]["healthy_steps"] == 900
    assert abs(s["overall"]["false_alarms_per_1k_healthy_steps"] - 1000 / 900) < 1e-12


def test_unlabelled_runs_count_alarms_except_the_margin_band_failures_own() -> None:
    """A run with no label but in one failure's margin band is not healthy, yet an alarm
    claiming *another* failure there is false; one claiming its own band's failure is not."""
    case = {"family": "video", "config": "c", "seed": 0}
    runs = [
        {
            "case": case,
            "labels": {},
            "ambiguous": {"frozen_video": 500},
            "eval_every": 25,
            "steps_run": 900,
        },
        {"case": case, "labels": {}, "ambiguous": {}, "eval_every": 25, "steps_run": 900},
        {
            "case": case,
            "labels": {"frozen_video": 500},
            "ambiguous": {},
            "eval_every": 25,
            "steps_run": 900,
        },
    ]
    info = Alert("temporal_flicker", Severity.INFO, 300, 300, "x", {}, ())
    alerts = [
        [_alert("frozen_video", 520), _alert("d_imbalance", 600), info],
        [],
        [_alert("frozen_video", 550), _alert("d_imbalance", 600)],
    ]
    o = score(runs, alerts)["overall"]
    assert o["healthy_runs"] == 1 and o["healthy_steps"] == 900
    assert o["false_alarms_per_1k_healthy_steps"] == 0.0
    assert o["unlabelled_runs"] == 2 and o["unlabelled_steps"] == 1800
    # the d_imbalance alarm of the band run counts; its frozen_video claim and the INFO do not
    assert abs(o["false_alarms_per_1k_unlabelled_steps"] - 1000 / 1800) < 1e-12
    assert score(runs, alerts)["unlabelled_alarms"] == ["c/s0: d_imbalance at step 600"]


def test_centroid_swings_count_after_the_early_phase() -> None:
    steps = [50 * i for i in range(24)]
    n = len(steps)
    base = {
        "step": steps,
        "effective_modes": [8.0] * n,
        "dominant_mode": [0] * n,
        "dominant_share": [0.15] * n,
        "d_fake_prob": [0.45] * n,
        "d_real_prob": [0.55] * n,
        "g_grad_rel": [1.0] * n,
        "sample_scale": [1.6] * n,
        "critic_scale": [0.2] * n,
    }
    # the early phase's centroid (one mode at a time) comes back at step 450, then one
    # swing after it: one swing is not non-convergence
    one = [1.3] * 9 + [0.3] + [0.2] * 2 + [1.9] * 6 + [0.3] * 6
    assert "non_convergence" not in label_ring(base | {"centroid": one})[0]
    # two swings after the early phase are, from the first departure
    two = [1.3] * 9 + [0.3] + [0.2] * 2 + [1.9] * 4 + [0.3] * 2 + [1.9] * 3 + [0.3] * 3
    assert label_ring(base | {"centroid": two})[0]["non_convergence"] == 600


def test_a_one_mode_start_that_outlasts_the_early_phase_is_in_the_band_not_a_collapse() -> None:
    # concentrated from the first trained evaluation to step 600, then spread for good:
    # nothing covered was lost, so not a transient collapse; not healthy either
    slow = [8.0] + [1.5] * 12 + [8.0] * 5
    labels, amb = label_ring(_ring(slow))
    assert labels == {} and amb == {"transient_collapse": 500}
    # the same concentration after the samples had spread is a transient collapse
    after = [8.0] * 8 + [1.5] * 5 + [8.0] * 5
    labels, amb = label_ring(_ring(after))
    assert labels == {"transient_collapse": 500} and amb == {}
    # and one that never spreads stays a mode collapse
    labels, amb = label_ring(_ring([8.0] + [1.5] * 17))
    assert labels == {"mode_collapse": 500}


def test_a_claim_on_a_slow_start_is_not_scored() -> None:
    case = {"family": "ring", "config": "c", "seed": 0}
    run = {
        "case": case,
        "labels": {},
        "ambiguous": {"transient_collapse": 500},
        "eval_every": 50,
        "steps_run": 900,
    }
    s = score([run, run], [[_alert("sample_coverage", 550)], []])
    assert s["overall"]["false_claims"] == 0 and s["overall"]["labelled"] == 0
    assert len(s["margin_band"]) == 2 and not is_healthy(run)


def test_glyph_gan_class_concentration_label() -> None:
    n = 12
    base = {"step": [100 * i for i in range(n)], "r_v_large": [0.0] * n}
    # the blob phase (steps 0-200) is concentrated in every run: not counted
    early = [1.0, 0.9, 0.9] + [0.2] * 9
    labels, amb = label_glyph(
        base | {"dominant_class_share": early, "confident_dominant_share": early}
    )
    assert labels == {} and amb == {}
    conc = [1.0, 0.9, 0.9, 0.3, 0.3, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    labels, amb = label_glyph(
        base | {"dominant_class_share": conc, "confident_dominant_share": conc}
    )
    assert labels == {"mode_collapse": 500} and amb == {}
    # the pile is in samples the classifier cannot name with confidence: the band
    unsure = [0.2] * n
    labels, amb = label_glyph(
        base | {"dominant_class_share": conc, "confident_dominant_share": unsure}
    )
    assert labels == {} and amb == {"mode_collapse": 500}
    # no sample named confidently at all (NaN share): never the strict label
    labels, amb = label_glyph(
        base | {"dominant_class_share": conc, "confident_dominant_share": [float("nan")] * n}
    )
    assert labels == {} and amb == {"mode_collapse": 500}
    # runs recorded without class outcomes: the overfitting label alone
    assert label_glyph(base | {"r_v_large": [0.6] * n}) == ({"d_overfitting": 0}, {})

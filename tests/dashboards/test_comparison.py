"""Verdicts that say what was checked, and comparisons that say which run is better."""

from gandiag.figures import compare_runs, side_by_side, verdict
from gandiag.figures.comparison import Entry, compare_metric
from gandiag.figures.findings import coverage, evaluation_findings
from gandiag.figures.text import RunSummary
from gandiag.types import MetricProtocol, MetricResult, Severity

PROTO = MetricProtocol("glyph", "ab" * 32, "none", 2000, 2000, {})


def _metric(name, value, interval=None, proto=PROTO):
    return MetricResult(name, value, proto, interval=interval, step=100)


def _summary(name, metrics=(), evals=None, findings=(), level="ok", data=None):
    return RunSummary(
        name=name,
        kind="gan",
        status="finished",
        last_step=100,
        num_steps=100,
        alert_counts={"critical": 0, "warning": 0, "info": 0},
        groups=[],
        latest_metrics={m.name: m for m in metrics},
        verdict="",
        level=level,
        findings=list(findings),
        latest_eval=evals or {},
        config={"data": {"name": data}} if data else {},
    )


def test_a_run_with_most_samples_in_one_class_is_not_called_fine():
    evals = {"eval/dominant_share": (500, 0.72), "eval/classes_covered": (500, 6.0)}
    findings = evaluation_findings(evals)
    checked, missing = coverage(["loss/total", "vae/kl", "eval/fid"], "vae")
    text, level = verdict(
        "finished", 500, 499, [], findings=findings, checked=checked, not_checked=missing
    )
    assert "No failure" not in text
    assert "72% of samples fall in one class" in text and "6 of 10 classes" in text
    assert "checked: loss divergence" in text and "not checked: gradients" in text
    assert level in ("warning", "critical")


def test_a_balanced_run_says_what_was_and_was_not_checked():
    evals = {"eval/dominant_share": (500, 0.12), "eval/classes_covered": (500, 10.0)}
    checked, missing = coverage(["loss/G", "loss/D", "grad/G/norm", "eval/fid"], "gan")
    text, level = verdict(
        "finished",
        500,
        499,
        [],
        findings=evaluation_findings(evals),
        checked=checked,
        not_checked=missing,
    )
    assert level == "ok" and text.startswith("No failure found by the checks that ran")
    assert "D overfitting (no held-out real batch)" in text
    assert not evaluation_findings(evals)


def test_two_d_findings_use_modes():
    found = evaluation_findings(
        {
            "eval/modes_covered": (9, 3.0),
            "eval/num_modes": (9, 8.0),
            "eval/hq_share": (9, 0.3),
            "eval/dominant_share": (9, 0.5),
            "eval/dominant_mode": (9, 2.0),
        }
    )
    texts = [f.text for f in found]
    assert "samples cover 3 of 8 modes" in texts
    assert "50% of samples fall in one mode (mode 2)" in texts
    assert "only 30% of samples lie near a real mode" in texts
    assert found[0].severity is Severity.CRITICAL


def test_separated_intervals_name_a_winner_in_the_better_direction():
    fid = compare_metric(
        "fid", [Entry("VAE", 53.8, (50.0, 57.0)), Entry("DCGAN", 13.2, (12.0, 14.5))]
    )
    assert fid.best == "DCGAN" and not fid.within_uncertainty
    assert fid.sentence.startswith("DCGAN beats VAE on FID: DCGAN 13.2 [12, 14.5] vs VAE 53.8")
    assert "intervals do not overlap" in fid.sentence and "lower is better" in fid.sentence
    rec = compare_metric("recall", [Entry("a", 0.2, (0.1, 0.3)), Entry("b", 0.8, (0.7, 0.9))])
    assert rec.best == "b"


def test_overlapping_intervals_are_within_uncertainty():
    m = compare_metric("fid", [Entry("a", 13.0, (11.0, 15.0)), Entry("b", 14.0, (12.5, 16.0))])
    assert m.best is None and m.within_uncertainty
    assert "within uncertainty" in m.sentence


def test_density_is_best_closest_to_one():
    m = compare_metric("density", [Entry("a", 1.6), Entry("b", 0.95)])
    assert m.best == "b" and "no interval stored" in m.sentence


def test_overall_statement_and_findings():
    a = _summary(
        "DCGAN",
        [_metric("fid", 13.2, (12.0, 14.5)), _metric("recall", 0.80, (0.78, 0.82))],
    )
    from gandiag.figures.findings import Finding

    b = _summary(
        "VAE",
        [_metric("fid", 53.8, (50.0, 57.0)), _metric("recall", 0.79, (0.77, 0.81))],
        findings=[Finding(Severity.WARNING, "72% of samples fall in one class (class 1)", 500)],
    )
    c = compare_runs({"DCGAN": a, "VAE": b})
    assert c.overall.startswith("DCGAN is better on every decided metric (FID)")
    assert "within uncertainty: recall" in c.overall
    assert "VAE: 72% of samples fall in one class" in c.overall


def test_different_protocols_are_not_ranked():
    other = MetricProtocol("inception", "cd" * 32, "bicubic", 2000, 2000, {})
    a = _summary("a", [_metric("fid", 10.0, (9.0, 11.0))])
    b = _summary("b", [_metric("fid", 30.0, (29.0, 31.0), proto=other)])
    (m,) = compare_runs({"a": a, "b": b}).metrics
    assert m.best is None and "different protocols" in m.sentence


def test_two_d_runs_are_compared_on_what_they_have():
    a = _summary("wgan", evals={"eval/modes_covered": (9, 8.0), "eval/num_modes": (9, 8.0)})
    b = _summary("gan", evals={"eval/modes_covered": (9, 3.0), "eval/num_modes": (9, 8.0)})
    c = compare_runs({"wgan": a, "gan": b})
    assert [m.metric for m in c.metrics] == ["eval/modes_covered"]
    assert c.metrics[0].best == "wgan"
    assert c.overall.startswith("wgan is better")


def test_side_by_side_marks_the_better_direction():
    sbs = side_by_side({"a": {"fid": _metric("fid", 1.0)}, "b": {"recall": _metric("recall", 1)}})
    assert [r[0] for r in sbs.rows] == ["fid ↓", "recall ↑"]


def test_smoothing_overlays_a_debiased_ema_and_keeps_the_raw_curve():
    import numpy as np

    from gandiag.figures.curves import ema, lines_figure
    from gandiag.store import Series

    np.testing.assert_allclose(ema(np.array([4.0, 4.0, 4.0]), 0.9), [4.0, 4.0, 4.0])
    s = Series("loss/G", np.arange(4), np.array([0.0, 10.0, 0.0, 10.0]))
    fig, _ = lines_figure([s], title="t", smoothing=0.5)
    raw, smooth = fig.data
    assert raw.opacity == 0.25 and list(raw.y) == [0.0, 10.0, 0.0, 10.0]
    assert np.ptp(smooth.y) < 10 and smooth.name == "loss/G"


def test_identical_series_are_named_and_dashed_not_hidden():
    import numpy as np

    from gandiag.figures.curves import lines_figure
    from gandiag.store import Series

    a = Series("loss/D_adv", np.arange(3), np.array([1.0, 2.0, 3.0]))
    b = Series("loss/D", np.arange(3), np.array([1.0, 2.0, 3.0]))
    fig, _ = lines_figure([a, b], title="t")
    assert fig.data[1].name == "loss/D (= loss/D_adv)" and fig.data[1].line.dash == "dash"


def test_the_verdict_names_a_familys_own_checks_and_only_the_kinds_expected_ones():
    translation = ["loss/G", "grad/G/norm", "d/real/D/mean", "translation/G/class_kept"]
    checked, missing = coverage(translation, "translation")
    assert "translation probes" in checked
    assert not any(m.startswith("translation") for m in missing)
    # a translation run without its probes says so; a GAN is not asked for them
    _, missing = coverage(["loss/G", "grad/G/norm"], "translation")
    assert any(m.startswith("translation") and "no probe batch" in m for m in missing)
    _, missing = coverage(["loss/G", "grad/G/norm"], "gan")
    assert not any(m.startswith(("translation", "clip motion", "phase")) for m in missing)
    _, missing = coverage(["loss/G"], "video")
    assert any(m.startswith("clip motion") for m in missing)
    # family signals that are there are named, whatever the kind
    checked, _ = coverage(["loss/G", "phase/alpha", "style/w_std", "ada/p"], "gan")
    assert {"phase transitions", "W space and style mixing", "adaptive augmentation"} <= set(
        checked
    )
    # an autoencoder has no discriminator to check, and its KL terms are no posterior check
    checked, missing = coverage(["loss/total", "vae/kl", "eval/fid"], "ae")
    assert not any(m.startswith(("discriminator", "D overfitting")) for m in missing)
    assert "VAE posterior" not in checked


def test_image_to_image_runs_are_ranked_network_by_network():
    # an image-to-image model's metrics carry its generator's name (G_fid, eval/G_psnr)
    healthy = _summary(
        "pix2pix",
        [_metric("G_fid", 21.7, (20.9, 22.4))],
        evals={
            "eval/G_class_kept": (599, 0.62),
            "eval/G_psnr": (599, 15.7),
            "eval/G_fid": (599, 21.7),  # the metric again, as a scalar: ranked once
        },
        data="glyphs_edges",
    )
    no_l1 = _summary(
        "no_l1",
        [_metric("G_fid", 51.6, (49.8, 53.0))],
        evals={
            "eval/G_class_kept": (599, 0.11),
            "eval/G_psnr": (599, 9.2),
            "eval/G_class_kept_inverted": (599, 0.3),  # not a quality: not ranked
        },
        data="glyphs_edges",
    )
    c = compare_runs({"pix2pix": healthy, "no_l1": no_l1})
    assert {m.metric for m in c.metrics} == {"G_fid", "eval/G_class_kept", "eval/G_psnr"}
    assert all(m.best == "pix2pix" for m in c.metrics)
    assert c.overall.startswith("pix2pix is better on every decided metric")
    assert "FID (G)" in c.overall and "class kept (G)" in c.overall
    sbs = side_by_side({"a": {"G_AB_fid": _metric("G_AB_fid", 1.0)}})
    assert sbs.rows[0][0] == "G_AB_fid ↓"


def test_runs_on_different_data_are_not_ranked():
    # the same protocol against another reference set is another number
    a = _summary("pix2pix", [_metric("G_fid", 21.7, (20.9, 22.4))], data="glyphs_edges")
    b = _summary("srgan", [_metric("G_fid", 1.8, (1.5, 2.1))], data="glyphs_sr")
    c = compare_runs({"pix2pix": a, "srgan": b})
    (m,) = c.metrics
    assert m.best is None and not m.comparable
    assert "different data (glyphs_edges, glyphs_sr)" in m.sentence
    assert c.overall.startswith("No metric is ranked") and "different data" in c.overall
    # a run of the user's own loop (no data name) is compared as before
    c = compare_runs({"pix2pix": a, "mine": _summary("mine", [_metric("G_fid", 30.0)])})
    assert c.metrics[0].best == "pix2pix"


def test_an_image_to_image_run_whose_outputs_fail_is_not_called_fine():
    # no detector fired (a content loss between the detector's line and the outcome's),
    # but the held-out evaluation shows it: the verdict says so, per generator
    from gandiag.figures.findings import translation_findings

    evals = {
        "eval/G_input_l1": (599, 0.2),
        "eval/G_true_l1": (599, 0.15),
        "eval/G_class_kept": (599, 0.17),
        "eval/G_classes_effective": (599, 6.0),
        "eval/G_target_class_acc": (599, 1.0),
        "eval/G_true_corr": (599, 0.4),
    }
    text, level = verdict(
        "finished", 600, 599, [], findings=evaluation_findings(evals), checked=[], not_checked=[]
    )
    assert "No failure" not in text and level == "warning"
    assert "G loses the input's glyph: its class kept in 17% of outputs" in text
    # each failure the benchmark defines, read from its own outcome
    cycle = {
        "eval/G_AB_input_l1": (449, 0.3),
        "eval/G_AB_true_l1": (449, 0.4),  # output = input: 0.3 is not under 0.4 / 2
        "eval/G_AB_true_corr": (449, -0.7),
        "eval/G_AB_cycle_l1": (449, 0.05),
        "eval/G_AB_cycle_l1_halfres": (449, 0.12),
        "eval/G_AB_halfres_change": (449, 0.1),
        "eval/G_BA_input_l1": (449, 0.02),
        "eval/G_BA_true_l1": (449, 0.2),
        "eval/G_BA_classes_effective": (449, 1.2),
        "eval/G_BA_target_class_acc": (449, 0.9),
        "eval/G_BA_class_kept": (449, 0.1),
    }
    found = [f.text for f in translation_findings(cycle)]
    assert any(t.startswith("G_AB inverts: correlation -0.70") for t in found)
    assert any(t.startswith("G_AB's cycle hides the input") for t in found)
    assert any(t.startswith("G_BA gives nearly one output for all inputs") for t in found)
    assert any(t.startswith("G_BA returns its input") for t in found)
    assert not any("loses the input's glyph" in t for t in found)  # collapse says it first
    sr = {
        "eval/G_input_l1": (599, 0.05),
        "eval/G_psnr": (599, 21.4),
        "eval/G_psnr_bicubic": (599, 21.9),
    }
    assert [f.text for f in translation_findings(sr)] == [
        "G is no sharper than bicubic: PSNR 21.4 vs 21.9 dB"
    ]
    healthy = {"eval/G_input_l1": (599, 0.2), "eval/G_true_l1": (599, 0.1)}
    healthy |= {"eval/G_class_kept": (599, 0.8), "eval/G_target_class_acc": (599, 1.0)}
    assert translation_findings(healthy) == []


def test_a_video_run_whose_clips_stand_still_is_not_called_fine():
    moving = evaluation_findings({"eval/motion_ratio": (599, 0.9)})
    frozen = evaluation_findings({"eval/motion_ratio": (599, 0.21)})
    assert moving == []
    assert [f.text for f in frozen] == [
        "generated clips move 0.21x as much as real ones (frozen video)"
    ]
    # clips that move but loop, or whose frames are each drawn anew
    looping = {"eval/motion_ratio": (599, 1.0), "eval/recurrence_excess": (599, 1.3)}
    (loop,) = evaluation_findings(looping | {"eval/coherence_ratio": (599, 0.6)})
    assert loop.text.startswith("generated clips come back to earlier frames (1.30 more")
    flicker = {"eval/motion_ratio": (599, 1.0), "eval/coherence_ratio": (599, 0.05)}
    (found,) = evaluation_findings(flicker | {"eval/recurrence_excess": (599, 0.35)})
    assert "(flickering video)" in found.text and "0.05x" in found.text
    # a still clip has no coherence to read: frozen only
    still = {"eval/motion_ratio": (599, 0.1), "eval/coherence_ratio": (599, 0.0)}
    assert [f.text for f in evaluation_findings(still)] == [
        "generated clips move 0.10x as much as real ones (frozen video)"
    ]
    healthy = {"eval/motion_ratio": (599, 0.9), "eval/coherence_ratio": (599, 0.9)}
    assert evaluation_findings(healthy | {"eval/recurrence_excess": (599, 0.1)}) == []

"""Figure builders and panels (gandiag.figures): numerics against numpy, live extension."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_runs import write_synthetic_run

from gandiag import signals as sig
from gandiag.figures import (
    SECTIONS,
    align_series,
    build_run_panels,
    group_alerts,
    histogram_matrix,
    label,
    lines_figure,
    read_updates,
    rebin,
    summarize_run,
    verdict,
)
from gandiag.store import RunReader, Series
from gandiag.types import Alert, Histogram, Severity, StepRecord


def test_rebin_matches_numpy_histogram_on_refined_edges():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 5000)
    counts, _ = np.histogram(x, bins=10, range=(0, 1))
    h = Histogram(0.0, 1.0, tuple(int(c) for c in counts))
    # Coarsening by 2 is exact; refining splits each bin's mass evenly.
    coarse = rebin(h, np.linspace(0, 1, 6))
    np.testing.assert_allclose(coarse, counts.reshape(5, 2).sum(1) / counts.sum())
    fine = rebin(h, np.linspace(0, 1, 21))
    np.testing.assert_allclose(fine, np.repeat(counts / counts.sum() / 2, 2))


def test_rebin_keeps_mass_outside_range_in_end_bins():
    h = Histogram(-2.0, 2.0, (10, 0, 0, 10))
    out = rebin(h, np.linspace(-1, 1, 5))
    assert out.sum() == pytest.approx(1.0)
    assert out[0] == pytest.approx(0.5) and out[-1] == pytest.approx(0.5)


def test_histogram_matrix_columns_are_distributions():
    hists = [(s, Histogram(0, 1, (s, 1, 2, 3))) for s in range(1, 5)]
    steps, z = histogram_matrix(hists, np.linspace(0, 1, 9))
    assert steps.tolist() == [1, 2, 3, 4] and z.shape == (8, 4)
    np.testing.assert_allclose(z.sum(0), 1.0)


def test_align_series_fills_missing_steps_with_nan():
    a = Series("a", np.array([0, 2, 4]), np.array([1.0, 2.0, 3.0]))
    b = Series("b", np.array([2, 3]), np.array([5.0, 6.0]))
    steps, z = align_series([a, b])
    assert steps.tolist() == [0, 2, 3, 4]
    np.testing.assert_array_equal(z[0], [1, 2, np.nan, 3])
    np.testing.assert_array_equal(z[1], [np.nan, 5, 6, np.nan])


def test_lines_figure_specs_name_every_trace_and_bands_add_two():
    s = Series("d/real/prob_mean", np.arange(3), np.ones(3), np.zeros(3), np.full(3, 2.0))
    fig, specs = lines_figure([s], title="t", bands=True)
    assert len(fig.data) == len(specs) == 3
    assert specs == [(s.name, "hi"), (s.name, "lo"), (s.name, "values")]
    fig, specs = lines_figure([Series("x", np.arange(3), np.ones(3))], title="t", bands=True)
    assert len(fig.data) == len(specs) == 1


def test_label_escapes_markup_for_plotly():
    assert label("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def _alert(det: str, sev: Severity, step: int, onset: int) -> Alert:
    return Alert(det, sev, step, onset, f"{det} at {step}", {"x": 1.0}, ("do this",))


def test_group_alerts_one_group_per_detector_worst_first():
    alerts = [
        _alert("a", Severity.WARNING, 10, 5),
        _alert("b", Severity.CRITICAL, 20, 15),
        _alert("a", Severity.CRITICAL, 30, 8),
        _alert("c", Severity.INFO, 40, 40),
    ]
    groups = group_alerts(alerts)
    assert [g.detector for g in groups] == ["a", "b", "c"]
    a = groups[0]
    assert (a.count, a.onset_step, a.last_step, a.severity) == (2, 5, 30, Severity.CRITICAL)
    assert a.latest.step == 30


@pytest.mark.parametrize(
    ("status", "steps", "alerts", "level"),
    [
        ("finished", 0, [], "empty"),
        ("finished", 10, [], "ok"),
        ("finished", 10, [_alert("c", Severity.INFO, 1, 1)], "info"),
        ("training", 10, [_alert("w", Severity.WARNING, 1, 1)], "warning"),
        ("crashed", 10, [], "crashed"),
        ("crashed", 10, [_alert("k", Severity.CRITICAL, 1, 1)], "critical"),
    ],
)
def test_verdict_levels(status, steps, alerts, level):
    text, got = verdict(status, steps, 9 if steps else None, group_alerts(alerts))
    assert got == level
    if status == "crashed" and steps:
        assert text.startswith("Crashed")


def test_panels_cover_gan_and_vae_signals(runs_folder):
    with RunReader(runs_folder / "dcgan") as r:
        keys = {p.key for p in build_run_panels(r)}
        assert {
            "losses",
            "d-outputs",
            "hist-d-real-prob",
            "hist-d-fake-prob",
            "grad-norms",
            "grad-layers-G",
            "grad-layers-D",
            "overfit",
            "diversity",
            "eval",
        } <= keys
        assert summarize_run(r).level == "critical"
    with RunReader(runs_folder / "vae") as r:
        keys = {p.key for p in build_run_panels(r)}
        assert {"losses", "vae-terms", "vae-kl-dims", "vae-units"} <= keys
        assert not any(k.startswith("hist-") for k in keys)


def test_sections_partition_the_panels(runs_folder):
    with RunReader(runs_folder / "dcgan") as r:
        every = [p.key for p in build_run_panels(r)]
        parts = [p.key for s in SECTIONS for p in build_run_panels(r, sections=[s])]
    assert sorted(every) == sorted(parts)


def test_downsampled_panels_keep_at_most_max_points(runs_folder):
    with RunReader(runs_folder / "dcgan") as r:
        for p in build_run_panels(r, max_points=50):
            for trace in p.figure.data:
                assert len(trace.x) <= 50, p.key


def test_read_updates_returns_exactly_the_new_steps(tmp_path):
    writer = write_synthetic_run(tmp_path / "live", steps=120, close=False)
    try:
        with RunReader(tmp_path / "live") as r:
            panels = build_run_panels(r, max_points=1000)
            last = r.last_step()
        new = [
            StepRecord(
                s,
                {
                    sig.loss("G"): float(s),
                    sig.grad_layer_norm("G", "net.0"): 10.0,
                    sig.D_REAL_PROB_MEAN: 0.5,
                },
                {sig.HIST_D_REAL: Histogram(0, 1, (0, 4))},
            )
            for s in range(120, 125)
        ]
        writer.write_steps(new)
        with RunReader(tmp_path / "live") as r:
            updates = read_updates(r, [p.spec() for p in panels], last, until_step=124)
    finally:
        writer.close()
    losses = next(p for p in panels if p.key == "losses")
    i = losses.traces.index((sig.loss("G"), "values"))
    assert updates["losses"]["traces"][i] == (
        [120, 121, 122, 123, 124],
        [120.0, 121, 122, 123, 124],
    )
    grad = next(p for p in panels if p.key == "grad-layers-G")
    row = grad.rows.index(sig.grad_layer_norm("G", "net.0"))
    assert updates["grad-layers-G"]["x"] == [120, 121, 122, 123, 124]
    assert updates["grad-layers-G"]["z"][row] == [1.0] * 5  # log10(10)
    hist = updates["hist-d-real-prob"]
    assert hist["x"] == [120, 121, 122, 123, 124]
    z = np.array(hist["z"])  # bins x new steps; the upper half of [0, 1] holds all the mass
    np.testing.assert_allclose(z[z.shape[0] // 2 :].sum(0), 1.0)
    np.testing.assert_allclose(z[: z.shape[0] // 2].sum(0), 0.0)
    assert "eval" not in updates  # nothing new there


def test_side_by_side_metrics_flag_mixed_protocols_in_both_renderers():
    from gandiag.dashboards.components import metrics_side_by_side
    from gandiag.figures import MIXED_PROTOCOLS, metric_rows, side_by_side
    from gandiag.reports.html import side_by_side_block
    from gandiag.types import MetricProtocol, MetricResult

    def fid(value, extractor, n=1000):
        proto = MetricProtocol(extractor, "ab" * 32, "none", n, n, {})
        return MetricResult("fid", value, proto, step=10)

    same = {
        "a": {"fid": fid(12.0, "glyph")},
        "b": {"fid": fid(15.5, "glyph"), "kid": fid(1, "glyph")},
    }
    sbs = side_by_side(same)
    assert sbs.columns == ["metric", "a", "b"]
    assert sbs.rows == [["fid ↓", "12", "15.5"], ["kid ↓", "–", "1"]]
    assert not sbs.mixed_protocols
    assert metric_rows(same["b"])[0][:3] == ["fid ↓", "15.5", "10"]
    mixed = {"a": {"fid": fid(12.0, "glyph")}, "b": {"fid": fid(15.5, "inception")}}
    assert side_by_side(mixed).mixed_protocols
    assert "different protocols" in side_by_side_block(mixed)
    assert "different protocols" not in side_by_side_block(same)
    assert MIXED_PROTOCOLS in str(metrics_side_by_side(mixed))
    assert MIXED_PROTOCOLS not in str(metrics_side_by_side(same))


def test_runs_whose_metrics_use_several_networks_alike_are_not_mixed():
    """A video run's fvd_lite (video network) and frame_fid (glyph network) differ in
    protocol within the run; two runs computed alike are comparable, and each run's
    protocol names which metrics used which network. A metric computed differently across
    the runs is still flagged."""
    from gandiag.figures import side_by_side
    from gandiag.figures.comparison import Entry, compare_metric
    from gandiag.types import MetricProtocol, MetricResult

    def result(name, value, extractor, n=500):
        proto = MetricProtocol(extractor, "cd" * 32, "none", n, n, {})
        return MetricResult(name, value, proto, step=599)

    def run(fvd, ffid, n=500):
        return {
            "fvd_lite": result("fvd_lite", fvd, "video_classifier", n),
            "frame_fid": result("frame_fid", ffid, "glyph", n),
        }

    sbs = side_by_side({"healthy": run(29.1, 17.6), "no_temporal": run(49.2, 20.3)})
    assert not sbs.mixed_protocols
    assert sbs.rows[1][0] == "fvd_lite ↓" and sbs.rows[0][0] == "frame_fid ↓"
    proto = dict(sbs.protocol_rows)["healthy"]
    assert proto.startswith("frame_fid: glyph") and " | fvd_lite: video_classifier" in proto
    assert side_by_side({"a": run(29.1, 17.6), "b": run(49.2, 20.3, n=256)}).mixed_protocols
    verdict = compare_metric("fvd_lite", [Entry("no_temporal", 49.2), Entry("healthy", 29.1)])
    assert verdict.best == "healthy"  # lower is better


def test_two_d_scatter_has_square_axes_real_data_and_mode_centres(tmp_path):
    from synthetic_runs import write_ring_run

    from gandiag.figures import points_figure

    with RunReader(write_ring_run(tmp_path / "ring")) as reader:
        grid = reader.sample_grids("samples")[-1]
        points = reader.sample_points(grid)
    fig = points_figure(points, "samples at step 199")
    names = [t.name for t in fig.data]
    assert names == ["mode centres (8)", "real data (256)", "samples (256)"]
    # one unit is as long on both axes, and both axes show the same range with ticks
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range)
    lo, hi = fig.layout.xaxis.range
    every = np.concatenate([points.points, points.reference, points.centers])
    assert lo < every.min() and every.max() < hi
    assert fig.layout.xaxis.ticks == "outside" and fig.data[2].marker.size >= 5
    # distinct colours for samples, real data and centres
    assert len({t.marker.color for t in fig.data}) == 3
    # an image grid has no points: viewers show its PNG
    with RunReader(write_synthetic_run(tmp_path / "gan")) as reader:
        assert all(reader.sample_points(g) is None for g in reader.sample_grids())


def test_two_d_scatter_keeps_far_off_samples_in_view():
    from gandiag.figures import points_figure
    from gandiag.store import SamplePoints

    pts = np.array([[0.0, 0.0], [40.0, -3.0], [np.nan, 1.0]])
    fig = points_figure(SamplePoints(pts, reference=np.zeros((4, 2))), "diverged")
    lo, hi = fig.layout.xaxis.range
    assert lo < -3.0 and hi > 40.0
    assert len(fig.data[-1].x) == 2  # the NaN point is left out, not drawn at 0


def test_info_alerts_are_the_least_visible_marks():
    """A missing optional signal is not an event in training: it draws no line on the loss
    plot, and on the alert timeline it is smaller and fainter than a warning."""
    import plotly.graph_objects as go

    from gandiag.figures import alert_timeline_figure
    from gandiag.figures.curves import alert_markers

    alerts = [
        _alert("missing", Severity.INFO, 10, 10),
        _alert("collapse", Severity.WARNING, 30, 25),
    ]
    fig = alert_markers(go.Figure(), alerts)
    assert [shape.x0 for shape in fig.layout.shapes] == [25]
    timeline = {t.name: t.marker for t in alert_timeline_figure(alerts).data}
    assert timeline["info"].size < timeline["warning"].size
    assert timeline["info"].opacity < timeline["warning"].opacity


def test_verdict_names_the_other_detectors_that_fired():
    """The headline is the worst, earliest failure; the others are named with their onsets
    (a count alone hid a video's freezing behind its earlier sample collapse); INFO is not."""
    alerts = [
        _alert("sample_coverage", Severity.WARNING, 750, 500),
        _alert("frozen_video", Severity.WARNING, 670, 645),
        _alert("mode_collapse", Severity.WARNING, 899, 850),
        _alert("temporal_flicker", Severity.INFO, 300, 300),
    ]
    text, level = verdict("finished", 900, 899, group_alerts(alerts))
    assert level == "warning"
    assert (
        "(sample_coverage, from step 500; also frozen_video from step 645, mode_collapse "
        "from step 850)" in text
    )
    assert "temporal_flicker" not in text
    many = [_alert(f"d{i}", Severity.WARNING, 10 + i, i) for i in range(6)]
    text, _ = verdict("finished", 900, 899, group_alerts(many))
    assert "also d1 from step 1, d2 from step 2, d3 from step 3 and 2 more)" in text


def test_a_failure_a_later_evaluation_no_longer_shows_is_reported_as_past():
    """A DVD-GAN whose clips stood still from step 200 and move at 0.94x the reals' motion
    at the last evaluation has recovered: the verdict says so (a warning, not "Failing"),
    with the steps it failed and what the evaluation shows; an evaluation taken before the
    alert, or one that still shows the failure, changes nothing."""
    from gandiag.figures.findings import ended_failures, evaluation_findings

    alerts = [_alert("frozen_video", Severity.WARNING, 200, 100)]
    groups = group_alerts(alerts)
    moving = {"eval/motion_ratio": (599, 0.94)}
    ended = ended_failures({"frozen_video": 200}, moving)
    assert ended == {"frozen_video": "at step 599 the clips move 0.94x as much as real ones"}
    text, level = verdict("finished", 600, 599, groups, findings=[], ended=ended)
    assert level == "warning"
    assert text.startswith("Recovered: ") and "(frozen_video, steps 100-200); at step 599" in text
    # still frozen at the last evaluation: no change, and the finding says it
    still = {"eval/motion_ratio": (599, 0.2)}
    assert ended_failures({"frozen_video": 200}, still) == {}
    text, _ = verdict("finished", 600, 599, groups, findings=evaluation_findings(still), ended={})
    assert text.startswith("Needs attention: ")
    # an evaluation before the last alert says nothing about it
    assert ended_failures({"frozen_video": 200}, {"eval/motion_ratio": (150, 0.94)}) == {}
    # a loop ends when the clips move and recur no more than real ones' threshold allows
    loop_over = {"eval/motion_ratio": (599, 0.8), "eval/recurrence_excess": (599, 0.2)}
    assert set(ended_failures({"looping_video": 300}, loop_over)) == {"looping_video"}
    loop_on = {"eval/motion_ratio": (599, 0.8), "eval/recurrence_excess": (599, 1.4)}
    assert ended_failures({"looping_video": 300}, loop_on) == {}
    # flicker has a class-flip clause no evaluation measures: never cleared by one
    assert (
        ended_failures({"temporal_flicker": 300}, moving | {"eval/coherence_ratio": (599, 2.0)})
        == {}
    )
    # another, unresolved failure keeps the run failing, and the past one is named as such
    both = group_alerts(alerts + [_alert("mode_collapse", Severity.CRITICAL, 500, 450)])
    text, level = verdict("finished", 600, 599, both, ended=ended)
    assert level == "critical" and text.startswith("Failing: ")
    assert "recovered since: " in text and "(frozen_video, steps 100-200)" in text

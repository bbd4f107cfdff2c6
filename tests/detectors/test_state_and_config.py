"""State round trips (resume == uninterrupted), missing-signal notices, parameters, overrides."""

from __future__ import annotations

import json
import math
import random
import warnings

import pytest
from detector_streams import gan_stream, vae_stream
from growing_streams import growing_fault_stream
from translation_streams import translation_stream
from video_streams import video_gan_stream

from gandiag.detectors import (
    DETECTORS,
    TRANSLATION_DETECTORS,
    DetectorSuite,
    build_detectors,
    default_detectors,
    get_detector_class,
    parse_overrides,
    run_detectors,
)
from gandiag.detectors._stats import cusum_arl0, cusum_threshold, cusum_update, new_cusum
from gandiag.types import Severity, StepRecord


def faulty_stream() -> list[StepRecord]:
    """Every failure the GAN detectors know, one after the other, plus a NaN at the end."""
    return gan_stream(
        steps=3200,
        seed=3,
        collapse_at=900,
        overfit_at=1100,
        hop_at=1400,
        imbalance_at=1800,
        saturate_at=2300,
        explode_at=2600,
        nan_at=3100,
    )


def stream_for(name: str) -> list[StepRecord]:
    growing = growing_fault_stream(name)
    if growing is not None:
        return growing
    if name in TRANSLATION_DETECTORS:
        return translation_stream(name, at=600)
    if "video" in get_detector_class(name).kinds:
        return video_gan_stream()
    if "vae" in get_detector_class(name).kinds and "gan" not in get_detector_class(name).kinds:
        return (
            vae_stream(dead_from=500, dead_dims=4)
            + vae_stream(seed=1, dead_from=0, dead_dims=8)[1000:]
        )
    if name == "exploding_gradients":
        return gan_stream(steps=3000, explode_at=1420)
    if name == "oscillation":
        return gan_stream(steps=3000, oscillate_at=1500)
    if name == "stalled_training":
        return gan_stream(steps=1500, stall_at=700)
    return faulty_stream()


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("split", [1, 517, 1401, 2999])
def test_resume_equals_uninterrupted(name: str, split: int) -> None:
    recs = stream_for(name)
    whole = run_detectors([get_detector_class(name)()], recs)
    assert [a for a in whole if a.severity is not Severity.INFO], (
        f"{name} saw no fault in its stream"
    )

    first = get_detector_class(name)()
    part1 = run_detectors([first], recs[:split])
    state = json.loads(json.dumps(first.state_dict()))  # must survive JSON (the store keeps it so)
    second = get_detector_class(name)()
    second.load_state_dict(state)
    part2 = run_detectors([second], recs[split:])
    assert part1 + part2 == whole
    assert second.state_dict() == get_state_after(name, recs)


def get_state_after(name: str, recs: list[StepRecord]) -> dict:
    det = get_detector_class(name)()
    run_detectors([det], recs)
    return json.loads(json.dumps(det.state_dict()))


def test_loading_another_detectors_state_is_refused() -> None:
    a, b = get_detector_class("mode_collapse")(), get_detector_class("nonfinite")()
    with pytest.raises(ValueError, match="belongs to detector 'mode_collapse'"):
        b.load_state_dict(a.state_dict())


def test_suite_state_round_trip_and_mismatch() -> None:
    recs = faulty_stream()
    suite = DetectorSuite.default("gan")
    whole = DetectorSuite.default("gan").run(recs)
    head = suite.run(recs[:1000])
    resumed = DetectorSuite.default("gan")
    resumed.load_state_dict(json.loads(json.dumps(suite.state_dict())))
    assert head + resumed.run(recs[1000:]) == whole
    with pytest.raises(ValueError, match="no entry for posterior_collapse"):
        DetectorSuite.default("vae").load_state_dict(suite.state_dict())


def test_missing_signal_is_reported_once_with_the_monitor_option() -> None:
    losses_only = [
        StepRecord(r.step, {"loss/G": r.scalars["loss/G"]}) for r in gan_stream(steps=3000)
    ]
    alerts = run_detectors(
        build_detectors(["mode_collapse", "d_overfitting", "vanishing_gradients"]), losses_only
    )
    assert all(a.severity is Severity.INFO for a in alerts)
    by_det = {a.detector: a for a in alerts}
    assert len(alerts) == 4  # vanishing_gradients misses two signal groups
    assert by_det["mode_collapse"].step == 1000
    assert "samples/pdist_ratio" in by_det["mode_collapse"].diagnosis
    assert "Monitor.step" in by_det["mode_collapse"].diagnosis
    assert "d_val=" in by_det["d_overfitting"].diagnosis


def test_signal_present_once_counts_as_present() -> None:
    recs = gan_stream(steps=2000)
    assert [a for a in run_detectors(build_detectors(["d_overfitting"]), recs)] == []


def test_unknown_parameter_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid parameters: .*pdist_max"):
        get_detector_class("mode_collapse")(pdist_maximum=0.2)
    with pytest.raises(ValueError, match="must be a number"):
        get_detector_class("mode_collapse")(pdist_max="low")


def test_unknown_detector_lists_registered_ones() -> None:
    with pytest.raises(ValueError, match="registered detectors: .*mode_collapse"):
        get_detector_class("mode_colapse")


def test_default_detectors_overrides() -> None:
    names = [d.name for d in default_detectors("gan")]
    assert "posterior_collapse" not in names and "mode_collapse" in names
    assert "posterior_collapse" in [d.name for d in default_detectors("vae")]
    dets = default_detectors(
        "gan", mode_collapse={"pdist_max": 0.1}, d_overfitting=False, posterior_collapse=True
    )
    by_name = {d.name: d for d in dets}
    assert by_name["mode_collapse"].cfg["pdist_max"] == 0.1
    assert "d_overfitting" not in by_name and "posterior_collapse" in by_name
    with pytest.raises(ValueError, match="valid kinds"):
        default_detectors("diffusion")
    with pytest.raises(ValueError, match="registered detectors"):
        default_detectors("gan", nope={})


def test_parse_overrides() -> None:
    got = parse_overrides(
        [
            "mode_collapse.pdist_max=0.2",
            "exploding_gradients.max_norm=none",
            "nonfinite.rearm_steps=5",
        ]
    )
    assert got == {
        "mode_collapse": {"pdist_max": 0.2},
        "exploding_gradients": {"max_norm": None},
        "nonfinite": {"rearm_steps": 5},
    }
    for bad in ["mode_collapse=0.2", "pdist_max=0.2", "mode_collapse.pdist_max=low"]:
        with pytest.raises(ValueError, match="detector.param=value|not a number|registered"):
            parse_overrides([bad])


def test_cusum_threshold_inverts_siegmund_and_matches_simulation() -> None:
    for arl in (100.0, 1000.0, 10000.0):
        assert cusum_arl0(cusum_threshold(arl, 0.5), 0.5) == pytest.approx(arl, rel=1e-6)
    # Simulated in-control run length of N(0,1) data at h for ARL0=200 (Siegmund is within ~10%).
    rng = random.Random(0)
    h = cusum_threshold(200.0, 0.5)
    lengths = []
    for _ in range(300):
        c, n = new_cusum(), 0
        while True:
            n += 1
            if cusum_update(c, rng.gauss(0.0, 1.0), 0.5, n) > h:
                break
        lengths.append(n)
    assert 160 < sum(lengths) / len(lengths) < 240
    with pytest.raises(ValueError):
        cusum_threshold(1.0)


def test_detectors_do_not_warn_or_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, gandiag.detectors; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_detectors(default_detectors("gan"), gan_stream(steps=500))
    assert not math.isnan(0.0)

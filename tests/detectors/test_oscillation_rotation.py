"""The oscillation detector's rotation evidence: G's update cosines reversing, not noise."""

from __future__ import annotations

import itertools

from gandiag import signals as S
from gandiag.detectors import build_detectors, run_detectors
from gandiag.types import Severity, StepRecord


def _rotation_alerts(cosines: list[float], start: int = 300, every: int = 10) -> list:
    """Feed one update cosine of G every ``every`` steps from ``start``, cycling ``cosines``."""
    recs = [
        StepRecord(start + i * every, {S.update_cosine("G"): c})
        for i, c in zip(range(40), itertools.cycle(cosines))
    ]
    alerts = run_detectors(build_detectors(["oscillation"]), recs)
    return [a for a in alerts if a.severity is not Severity.INFO]


def test_cosines_swinging_through_zero_are_noise_not_rotation() -> None:
    # the five cosines behind the false claim on a healthy DVD-GAN-lite run (Adam with
    # beta1 = 0): median -0.56, but +0.62 among them; every window of this cycle holds the
    # same five values, so the median of each is below cosine_max = -0.5
    assert _rotation_alerts([0.62, -0.65, -0.67, -0.1, -0.56]) == []


def test_updates_reversing_at_every_measurement_are_rotation() -> None:
    (a,) = _rotation_alerts([-0.9, -0.6, -0.7, -0.1, -0.8])
    assert a.detector == "oscillation"
    assert a.evidence["update_cosine_median"] == -0.7
    assert a.evidence["update_cosine_highest"] == -0.1
    assert a.onset_step == 300 + 4 * 10  # the fifth measurement completes the window


def test_one_cosine_at_zero_breaks_the_reversal() -> None:
    # "below 0" is strict: an update orthogonal to the previous one does not reverse it
    assert _rotation_alerts([-0.9, -0.6, -0.7, 0.0, -0.8]) == []

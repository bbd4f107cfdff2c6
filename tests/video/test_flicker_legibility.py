"""The flip rate counts glyph-class changes only between frames the classifier can read.

A scripted classifier stands in for the glyph classifier, so each frame's class and
confidence are set by the test: a frame is a constant grey level, and the level encodes
(band, class). Bands: ``BLOB`` (logit 0.5 on one class: top-class probability 0.16, what
a classifier gives a shapeless blob), ``FAIR`` (logit 6: 0.978), ``GOOD`` (logit 7: 0.992)
and ``SHARP`` (logit 20).
"""

from __future__ import annotations

import numpy as np
import torch

from gandiag import signals as S
from gandiag.detectors import build_detectors, run_detectors
from gandiag.monitor.video import clip_stats, flip_counts
from gandiag.types import Severity, StepRecord

BLOB, FAIR, GOOD, SHARP = 0, 1, 2, 3
SCALE = {BLOB: 0.5, FAIR: 6.0, GOOD: 7.0, SHARP: 20.0}
STEP = 0.045  # grey levels -0.9 + STEP * (10 * band + class), all inside [-1, 1]


def level(band: int, cls: int) -> float:
    return -0.9 + STEP * (10 * band + cls)


class ScriptedClassifier(torch.nn.Module):
    """Logits ``SCALE[band]`` on ``cls`` for a crop of grey level ``level(band, cls)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.round((x.mean((1, 2, 3)) + 0.9) / STEP).long()
        band, cls = k // 10, k % 10
        scale = torch.tensor([SCALE[b] for b in (BLOB, FAIR, GOOD, SHARP)])[band]
        return torch.nn.functional.one_hot(cls, 10).float() * scale[:, None]


def clips(bands: np.ndarray, classes: np.ndarray) -> torch.Tensor:
    """``[B, T, 1, 8, 8]`` constant frames from ``[B, T]`` bands and classes."""
    lv = np.vectorize(level)(bands, classes)
    return torch.tensor(lv, dtype=torch.float32)[:, :, None, None, None].expand(-1, -1, 1, 8, 8)


def real_clips(b: int = 16, t: int = 8) -> torch.Tensor:
    """Stable classes; one frame in eight read with less confidence (FAIR), so the 5%
    quantile of the reals' top-class probability, the legibility level, is FAIR's."""
    bands = np.full((b, t), SHARP)
    bands[:, 3] = FAIR
    classes = np.repeat(np.arange(b)[:, None] % 10, t, 1)
    return clips(bands, classes)


def changing(band: int, b: int = 16, t: int = 8) -> torch.Tensor:
    """Clips whose class changes at every frame, all frames in ``band``."""
    classes = (np.arange(b)[:, None] + np.arange(t)[None, :]) % 10
    return clips(np.full((b, t), band), classes)


def stable(band: int, b: int = 16, t: int = 8) -> torch.Tensor:
    return clips(np.full((b, t), band), np.repeat(np.arange(b)[:, None] % 10, t, 1))


def signals(fake: torch.Tensor) -> dict[str, float]:
    sums, finalise = clip_stats(real_clips(), fake, None, ScriptedClassifier())
    return finalise(sums.numpy(), 1)


def test_scripted_classifier_reads_the_levels() -> None:
    x = changing(SHARP)
    probs = ScriptedClassifier()(x.reshape(-1, 1, 8, 8)).softmax(1)
    assert (
        probs.argmax(1).reshape(16, 8).tolist()
        == ((np.arange(16)[:, None] + np.arange(8)) % 10).tolist()
    )
    assert float(ScriptedClassifier()(changing(BLOB).reshape(-1, 1, 8, 8)).softmax(1).max()) < 0.2


def test_blobs_with_random_classes_give_no_flicker_evidence() -> None:
    out = signals(changing(BLOB))
    assert out[S.VIDEO_LEGIBLE_FAKE] == 0.0
    # no legible pair: no flip rate at all (no evidence), not a rate of 0
    assert S.VIDEO_FLIP_FAKE not in out and S.VIDEO_FLIP_EXCESS not in out
    assert out[S.VIDEO_FLIP_REAL] == 0.0


def test_legible_glyphs_that_change_class_flicker() -> None:
    out = signals(changing(SHARP))
    assert out[S.VIDEO_LEGIBLE_FAKE] == 1.0
    assert out[S.VIDEO_FLIP_FAKE] == 1.0 and out[S.VIDEO_FLIP_EXCESS] == 1.0
    # frames less confident than most reals but above the reals' least confident 5%
    assert signals(changing(GOOD))[S.VIDEO_FLIP_EXCESS] == 1.0


def test_stable_legible_glyphs_do_not_flicker() -> None:
    out = signals(stable(SHARP))
    assert out[S.VIDEO_LEGIBLE_FAKE] == 1.0 and out[S.VIDEO_FLIP_EXCESS] == 0.0


def test_legibility_level_comes_from_the_reals() -> None:
    # with one real frame in eight FAIR, the level is FAIR's probability and GOOD fakes are
    # legible (above); all-SHARP reals raise the level above GOOD: the same fakes turn
    # illegible, and their class changes stop counting
    assert signals(changing(GOOD))[S.VIDEO_LEGIBLE_FAKE] == 1.0
    sums, finalise = clip_stats(stable(SHARP), changing(GOOD), None, ScriptedClassifier())
    out = finalise(sums.numpy(), 1)
    assert out[S.VIDEO_LEGIBLE_REAL] == 1.0 and out[S.VIDEO_LEGIBLE_FAKE] == 0.0
    assert S.VIDEO_FLIP_EXCESS not in out


def test_flip_counts_count_only_pairs_of_two_legible_frames() -> None:
    preds = torch.tensor([[0, 1, 2, 2, 3], [4, 4, 5, 6, 6]])
    legible = torch.tensor([[1, 1, 0, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.bool)
    # legible pairs: row 0 (0,1) changes, (3,4) changes; row 1 (0,1) same, (1,2), (2,3) change
    assert flip_counts(preds, legible).tolist() == [4.0, 5.0, 8.0]
    assert flip_counts(preds).tolist() == [5.0, 8.0, 8.0]


def test_a_blob_between_two_glyphs_breaks_the_pairs() -> None:
    bands = np.tile([SHARP, BLOB], (16, 4))
    classes = (np.arange(16)[:, None] + np.arange(8)) % 10
    out = signals(clips(bands, classes))
    assert out[S.VIDEO_LEGIBLE_FAKE] == 0.0 and S.VIDEO_FLIP_EXCESS not in out


def test_flip_signals_leave_the_random_state_alone() -> None:
    # a signal that consumed the global RNG would change the training it monitors
    before = torch.random.get_rng_state()
    signals(changing(SHARP))
    assert torch.equal(torch.random.get_rng_state(), before)


def _stream(fake_of_step, steps: int = 400, every: int = 5) -> list[StepRecord]:
    out = []
    for step in range(0, steps, every):
        sums, finalise = clip_stats(real_clips(), fake_of_step(step), None, ScriptedClassifier())
        out.append(StepRecord(step, finalise(sums.numpy(), 1)))
    return out


def _flicker_alerts(records: list[StepRecord]) -> list:
    alerts = run_detectors(build_detectors(["temporal_flicker"]), records)
    return [a for a in alerts if a.severity is not Severity.INFO]


def test_detector_quiet_on_blobs_whose_classes_wander() -> None:
    assert _flicker_alerts(_stream(lambda step: changing(BLOB))) == []


def test_detector_fires_on_legible_flicker_and_not_on_stable_glyphs() -> None:
    (alert,) = _flicker_alerts(_stream(lambda step: changing(SHARP)))
    assert alert.evidence["flip_excess"] == 1.0 and alert.evidence["legible_fake"] == 1.0
    assert "legible" in alert.diagnosis
    assert _flicker_alerts(_stream(lambda step: stable(SHARP))) == []


def _records(flip_fake: list[float], legible_fake: list[float]) -> list[StepRecord]:
    out = []
    for i, (f, lf) in enumerate(zip(flip_fake, legible_fake)):
        sc = {S.VIDEO_MOTION_RATIO: 1.0, S.VIDEO_LEGIBLE_REAL: 0.9, S.VIDEO_FLIP_REAL: 0.1}
        sc[S.VIDEO_LEGIBLE_FAKE] = lf
        if lf > 0:
            sc[S.VIDEO_FLIP_FAKE] = f
            sc[S.VIDEO_FLIP_EXCESS] = f - 0.1
        out.append(StepRecord(5 * i, sc))
    return out


def test_records_with_few_legible_pairs_weigh_little() -> None:
    # every other record: 20% of pairs legible, all of them changing class; the others: 90%
    # legible, none changing. Pooled, 0.2 / 1.1 = 0.18 of legible pairs flip (excess 0.08);
    # averaging the per-record rates would say 0.5 (excess 0.4, past the threshold).
    n = 100
    flips = [1.0 if i % 2 else 0.0 for i in range(n)]
    legible = [0.2 if i % 2 else 0.9 for i in range(n)]
    assert _flicker_alerts(_records(flips, legible)) == []
    # the same rates on legible records do flicker
    assert len(_flicker_alerts(_records(flips, [0.9] * n))) == 1


def test_records_without_legible_pairs_are_not_zero_flicker() -> None:
    # every other record has no legible fake pair: it adds no evidence either way, so the
    # pooled excess is 0.6 - 0.1; counting those records as 0 flicker would give 0.2 < 0.25
    n = 100
    (alert,) = _flicker_alerts(_records([0.6] * n, [0.9 if i % 2 else 0.0 for i in range(n)]))
    assert alert.evidence["flip_excess"] > 0.45


def test_too_few_legible_pairs_are_no_evidence() -> None:
    # 5% of the fakes' pairs legible, every one of them flipping: below min_legible_share
    n = 100
    assert _flicker_alerts(_records([1.0] * n, [0.05] * n)) == []
    (alert,) = _flicker_alerts(_records([1.0] * n, [0.15] * n))
    assert alert.evidence["legible_fake"] == 0.15


def test_records_from_before_the_legibility_gate_judge_motion_only() -> None:
    # an ungated flip excess (no video/legible_*) is not evidence of flicker
    recs = [
        StepRecord(5 * i, {S.VIDEO_MOTION_RATIO: 1.0, S.VIDEO_FLIP_EXCESS: 0.6}) for i in range(100)
    ]
    assert _flicker_alerts(recs) == []
    jumps = [StepRecord(r.step, {**r.scalars, S.VIDEO_MOTION_RATIO: 3.0}) for r in recs]
    assert len(_flicker_alerts(jumps)) == 1

"""Each video detector fires on its failure stream and stays quiet on healthy clips."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import video_stream

from gandiag import signals as S
from gandiag.detectors import build_detectors, default_detectors, run_detectors
from gandiag.types import Severity, StepRecord

VIDEO = (
    "frozen_video",
    "looping_video",
    "temporal_flicker",
    "d_imbalance",
    "class_concentration",
)


@pytest.fixture(scope="module")
def streams():
    kinds = ("healthy", "frozen", "looping", "flicker", "one_class", "redrawn", "chunked")
    return {k: video_stream(k, seed=0) for k in kinds}


def _fired(stream, names=VIDEO):
    alerts = run_detectors(build_detectors(names), stream)
    return {a.detector for a in alerts if a.severity is not Severity.INFO}


def test_quiet_on_healthy_clips(streams):
    assert _fired(streams["healthy"]) == set()


@pytest.mark.parametrize(
    "kind, detector",
    [
        ("frozen", "frozen_video"),
        ("looping", "looping_video"),
        ("flicker", "temporal_flicker"),
        ("redrawn", "temporal_flicker"),
        ("chunked", "looping_video"),
        ("one_class", "class_concentration"),
    ],
)
def test_fires_on_its_failure_only(streams, kind, detector):
    assert _fired(streams[kind]) == {detector}


def test_alert_carries_evidence_threshold_and_remedies(streams):
    (alert,) = [
        a
        for a in run_detectors(build_detectors(["frozen_video"]), streams["frozen"])
        if a.severity is Severity.WARNING
    ]
    assert alert.evidence["motion_ratio"] < alert.evidence["threshold"] == 0.3
    assert alert.remedies and "temporal discriminator" in alert.remedies[0]
    assert alert.onset_step <= alert.step


def test_flicker_at_real_motion_is_found_by_coherence(streams):
    """Frames in an order of their own per clip change about as much as real ones and keep
    their glyph: no class flips, motion 1.4x, yet each frame looks drawn anew. Only the
    coherence part of ``temporal_flicker`` sees it."""
    (alert,) = [
        a
        for a in run_detectors(build_detectors(["temporal_flicker"]), streams["redrawn"])
        if a.severity is Severity.WARNING
    ]
    ev = alert.evidence
    assert ev["coherence_ratio"] < ev["coherence_threshold"] == 0.3
    assert 0.3 < ev["motion_ratio"] < ev["motion_threshold"]
    assert ev.get("flip_excess", 0.0) < ev["flip_threshold"]
    assert "drawn anew" in alert.diagnosis
    # the same records without the coherence signals (a run recorded before them): quiet
    old = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if "coherence" not in k})
        for r in streams["redrawn"]
    ]
    assert not [
        a
        for a in run_detectors(build_detectors(["temporal_flicker"]), old)
        if a.severity is Severity.WARNING
    ]


def _two_d_stream(steps=400, idle=None, how="constant", seed=0):
    """Per-discriminator records; from step 150 ``idle`` is constant, frozen or saturated."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        sc = {}
        for net in ("D_S", "D_T"):
            mr, mf = 1.0 + 0.3 * rng.standard_normal(), -1.0 + 0.3 * rng.standard_normal()
            sr, sf = abs(1 + 0.2 * rng.standard_normal()), abs(1 + 0.2 * rng.standard_normal())
            loss = max(0.0, 1.2 + 0.2 * rng.standard_normal())
            upd = 1e-3 * np.exp(0.3 * rng.standard_normal())
            grad = 0.5 * np.exp(0.3 * rng.standard_normal())
            if net == idle and t >= 150:
                if how == "constant":
                    mr = mf = 0.0137
                    sr = sf = 0.0
                    loss = 2.0
                elif how == "frozen_weights":  # outputs vary, gradients flow, weights never move
                    upd = 0.0
                else:  # saturated hinge D: separates every pair, zero gradient, zero update
                    mr, mf, loss, upd, grad = 5.0, -5.0, 0.0, 0.0, 0.0
            sc[S.d_net(net, "real", "raw_mean")] = mr
            sc[S.d_net(net, "fake", "raw_mean")] = mf
            sc[S.d_net(net, "real", "raw_std")] = sr
            sc[S.d_net(net, "fake", "raw_std")] = sf
            sc[S.loss(net)] = loss
            sc[S.grad_norm(net)] = grad
            if t % 10 == 0:
                sc[S.update_ratio(net)] = upd
        out.append(StepRecord(t, sc))
    return out


@pytest.mark.parametrize("how", ["constant", "frozen_weights"])
def test_imbalance_fires_on_the_idle_discriminator(how):
    alerts = run_detectors(build_detectors(["d_imbalance"]), _two_d_stream(idle="D_T", how=how))
    (alert,) = [a for a in alerts if a.severity is Severity.WARNING]
    assert "D_T is idle while D_S trains" in alert.diagnosis
    assert 150 <= alert.onset_step <= 160 and alert.step >= 250
    if how == "constant":
        assert "hinge loss is stuck at 2.000" in alert.diagnosis
    else:
        assert alert.evidence["update_ratio"] == 0.0


def test_imbalance_quiet_when_both_train_or_one_discriminator():
    assert not run_detectors(build_detectors(["d_imbalance"]), _two_d_stream())
    # a discriminator that wins outright rests (zero gradient, zero update): not idle
    saturated = _two_d_stream(idle="D_S", how="saturated")
    assert not run_detectors(build_detectors(["d_imbalance"]), saturated)
    one = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if "D_T" not in k})
        for r in _two_d_stream(idle="D_T")
    ]
    assert not run_detectors(build_detectors(["d_imbalance"]), one)


def test_video_kind_adds_the_video_detectors():
    names = [d.name for d in default_detectors("video")]
    assert set(VIDEO) - {"class_concentration"} <= set(names) and "mode_collapse" in names
    assert not set(VIDEO) & {d.name for d in default_detectors("gan")}
    # class concentration is opt-in (its docstring says why)
    assert "class_concentration" not in names
    opted = [d.name for d in default_detectors("video", class_concentration=True)]
    assert "class_concentration" in opted


def test_state_round_trip_equals_uninterrupted(streams):
    stream = streams["frozen"]
    whole = run_detectors(build_detectors(VIDEO), stream)
    first = build_detectors(VIDEO)
    a = run_detectors(first, stream[:15])
    second = build_detectors(VIDEO)
    for d, s in zip(second, first):
        d.load_state_dict(s.state_dict())
    b = run_detectors(second, stream[15:])
    assert [x.to_dict() for x in whole] == [x.to_dict() for x in a + b]


def test_imbalance_holds_when_the_other_rests_at_update_measurements():
    """D_T frozen (lr 0) while D_S wins outright at the layer-cadence steps, where the update
    ratio is measured (zero gradient, zero update), and has gradients in between. The update
    ratio must be judged with the gradient of its own record: a stale zero update paired with
    a later gradient made D_S look frozen between measurements and reset D_T's streak."""
    stream = _two_d_stream(idle="D_T", how="frozen_weights")
    for r in stream:
        if r.step % 10 == 0:  # D_S separates every pair at the measured steps
            r.scalars[S.update_ratio("D_S")] = 0.0
            r.scalars[S.grad_norm("D_S")] = 0.0
    alerts = run_detectors(build_detectors(["d_imbalance"]), stream)
    (alert,) = [a for a in alerts if a.severity is Severity.WARNING]
    assert "D_T is idle while D_S trains" in alert.diagnosis
    assert 150 <= alert.onset_step <= 160 and alert.step >= 250


def _motion_stream(frozen_from=None, dip_at=None, every=5, steps=400, seed=0, frozen_to=None):
    """``video/motion_ratio`` every ``every`` steps: healthy spread (0.98 +- 0.12 per batch,
    docs/detectors.md), from ``frozen_from`` (to ``frozen_to``) clips that barely move
    (0.1 +- 0.05); one batch at 0.2 at ``dip_at``."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(0, steps, every):
        m = 0.98 + 0.12 * rng.standard_normal()
        if frozen_from is not None and t >= frozen_from and (frozen_to is None or t < frozen_to):
            m = abs(0.1 + 0.05 * rng.standard_normal())
        if t == dip_at:
            m = 0.2
        out.append(StepRecord(t, {S.VIDEO_MOTION_RATIO: m}))
    return out


@pytest.mark.parametrize("every", [5, 10])
def test_frozen_alert_after_the_clips_stay_still_for_the_span(every):
    """Onset at step 200: the alert comes once the clips have stood still for 100 steps (the
    label's span), about one record later, and its onset is the change."""
    alerts = run_detectors(build_detectors(["frozen_video"]), _motion_stream(200, every=every))
    (alert,) = [a for a in alerts if a.severity is Severity.WARNING]
    assert 200 <= alert.onset_step <= 200 + every
    assert 100 <= alert.step - alert.onset_step <= 100 + every


@pytest.mark.parametrize("still", [25, 50, 75])
def test_frozen_quiet_on_a_still_phase_shorter_than_the_span(still):
    """A generator still learning to draw stands still for a while and then moves: no alert."""
    stream = _motion_stream(200, frozen_to=200 + still)
    assert not run_detectors(build_detectors(["frozen_video"]), stream)


def test_frozen_quiet_on_one_low_batch_and_before_warmup():
    assert not run_detectors(build_detectors(["frozen_video"]), _motion_stream(dip_at=200))
    early = _motion_stream(frozen_from=0, steps=100)  # an untrained G does not move yet
    assert not run_detectors(build_detectors(["frozen_video"]), early)


def _class_records(fake_counts, steps=400, every=5, seed=0):
    """Records of clip counts per class: 14 readable real clips drawn uniformly over 10
    classes, and ``fake_counts(step, rng)`` for the fakes."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(0, steps, every):
        real, fake = rng.multinomial(14, [0.1] * 10), fake_counts(t, rng)
        sc = {S.video_class_real(k): float(real[k]) for k in range(10)}
        sc |= {S.video_class_fake(k): float(fake[k]) for k in range(10)}
        out.append(StepRecord(t, sc))
    return out


def _concentrated(readable, in_class, from_step=0):
    def counts(t, rng):
        c = rng.multinomial(readable - in_class, [0.1] * 10)
        if t >= from_step:
            c[3] += in_class
        else:
            c += rng.multinomial(in_class, [0.1] * 10)
        return c

    return counts


def test_class_concentration_alert_onset_and_evidence():
    recs = _class_records(_concentrated(14, 10, from_step=200))
    (alert,) = run_detectors(build_detectors(["class_concentration"]), recs)
    assert alert.evidence["top_class"] == 3
    assert alert.evidence["excess"] >= alert.evidence["threshold"] == 0.3
    # the pooled window reaches the threshold within it, then holds for patience_steps
    assert 200 <= alert.onset_step <= 260 and alert.step == alert.onset_step + 50
    assert alert.remedies and "temporal discriminator" in alert.remedies[0]


@pytest.mark.parametrize("seed", range(5))
def test_class_concentration_quiet_when_fakes_follow_the_reals(seed):
    recs = _class_records(lambda t, rng: rng.multinomial(14, [0.1] * 10), 2000, seed=seed)
    assert not run_detectors(build_detectors(["class_concentration"]), recs)


def test_class_concentration_needs_enough_readable_fakes():
    # 3 readable fake clips a batch, all of one class (an early generator whose simplest
    # strokes alone read as a glyph): below a quarter of the reals' 14, not evidence
    few = _class_records(_concentrated(3, 3))
    assert not run_detectors(build_detectors(["class_concentration"]), few)
    # the same share with enough of them is
    many = _class_records(_concentrated(5, 5))
    assert run_detectors(build_detectors(["class_concentration"]), many)


def test_class_concentration_waits_for_warmup_and_re_arms():
    def episodes(t, rng):
        c = rng.multinomial(4, [0.1] * 10)
        if t < 300 or 500 <= t < 800:
            c[3] += 10
        else:
            c += rng.multinomial(10, [0.1] * 10)
        return c

    alerts = run_detectors(build_detectors(["class_concentration"]), _class_records(episodes, 1000))
    assert [a.onset_step for a in alerts] == [100, pytest.approx(550, abs=50)]


def test_coherence_signal_on_clip_streams(streams):
    """Temporal coherence of fakes over reals (gandiag/monitor/video.py): real clips against
    other real clips read about 1; frames in an order of their own per clip about 0; a
    clip played twice keeps the coherence of its motion."""

    def median(kind):
        return float(np.median([r.scalars[S.VIDEO_COHERENCE_RATIO] for r in streams[kind]]))

    assert 0.8 < median("healthy") < 1.25
    assert median("redrawn") < 0.2
    assert median("chunked") > 0.4
    for r in streams["frozen"]:  # nothing left after removing the clip's mean
        assert r.scalars[S.VIDEO_COHERENCE_FAKE] == 0.0

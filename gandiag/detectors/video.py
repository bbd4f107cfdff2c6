"""Video-GAN detectors: frozen motion, looping, temporal flicker, discriminator imbalance,
class concentration.

They read the ``video/*`` signals the Monitor computes from clip batches ``[B, T, C, H, W]``
(:mod:`gandiag.monitor.video`) and the per-discriminator signals of a model with several
discriminators (DVD-GAN's spatial ``D_S`` and temporal ``D_T``). Every threshold compares
the fakes with the real clips of the same steps (ratios and excesses), so it carries over
between datasets of different motion; the defaults and the false-alarm rate they were set
for are in docs/detectors.md ("Video detectors").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import (
    Streak,
    finite,
    held_with_raw,
    new_streak,
    onset_of,
    smooth,
    streak_held,
    streak_update,
)
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord

TEMPORAL_D = "add (or restore) a temporal discriminator that sees whole clips (DVD-GAN's D_T)"
TEMPORAL_D_LR = "check the temporal discriminator trains: its learning rate, optimiser and loss"
GRU_NOISE = "give the generator a latent that varies over time (per-frame noise into the Conv-GRU)"
SHUFFLE_NEGATIVES = "add frame-shuffled real clips as negatives for the temporal discriminator"
MORE_FRAMES = "let D_S sample more frames (k) and D_T see longer clips"
LOWER_LR = "lower the learning rates, or give the lagging discriminator more steps"
BALANCE_D = "balance the discriminators: equal learning rates, or weight the idle one's loss up"
NO_BN_IN_D = (
    "use spectral norm rather than batch norm in the discriminators (BN can make D constant)"
)

FROZEN = (TEMPORAL_D, TEMPORAL_D_LR, GRU_NOISE, SHUFFLE_NEGATIVES)
WHOLE_CLIP_STATE = (
    "carry the generator's recurrent state over the whole clip: a state reset every k frames "
    "(a chunked unroll) repeats the clip with period k"
)
LOOPING = (WHOLE_CLIP_STATE, MORE_FRAMES, GRU_NOISE, TEMPORAL_D, SHUFFLE_NEGATIVES)
RECURRENT_G = (
    "draw the frames from a latent carried through time (a recurrent generator, DVD-GAN's "
    "Conv-GRU), not from one independent code per frame"
)
FLICKER = (RECURRENT_G, TEMPORAL_D, SHUFFLE_NEGATIVES, LOWER_LR, MORE_FRAMES)
IMBALANCE = (TEMPORAL_D_LR, BALANCE_D, NO_BN_IN_D, LOWER_LR)

VIDEO_CLIPS = Advice(
    "pass video clips [B, T, C, H, W] as real= and fake= to Monitor.step",
    "applies to video models, for which the trainer passes clips; nothing to do for other models",
)


@dataclass
class SmoothedThresholdState(DeclaredState):
    """State of :class:`_SmoothedThreshold`."""

    streak: Streak = field(default_factory=new_streak)
    raw: Streak = field(default_factory=new_streak)
    alerted: bool = False


class _SmoothedThreshold(SignalDetector):
    """A smoothed signal past a threshold on every record for ``patience_steps`` after
    ``warmup_steps``; the raw signal back-dates the onset. Subclasses give ``value`` and
    ``past``; one alert per episode (re-armed once the smoothed signal recovers)."""

    kinds: ClassVar[tuple[str, ...]] = ("video",)
    params: ClassVar[dict[str, Any]] = {
        "smooth_steps": 50,
        "warmup_steps": 100,
        "patience_steps": 100,
        "min_records": 5,
    }

    State = SmoothedThresholdState

    def values(self, record: StepRecord) -> dict[str, float] | None:
        raise NotImplementedError

    def past(self, v: dict[str, float]) -> bool:
        raise NotImplementedError

    def check(self, record: StepRecord) -> list[Alert]:
        st, cfg = self.state, self.cfg
        raw = self.values(record)
        if raw is None:
            return []
        sm = {k: smooth(st, k, v, record.step, cfg["smooth_steps"]) for k, v in raw.items()}
        warm = record.step >= cfg["warmup_steps"]
        streak_update(st["raw"], warm and self.past(raw), record.step)
        streak_update(st["streak"], warm and self.past(sm), record.step)
        if st["streak"]["since"] is None:
            st["alerted"] = False
        held = held_with_raw(
            st["streak"], st["raw"], record.step, cfg["patience_steps"], cfg["min_records"]
        )
        if not held or st["alerted"]:
            return []
        st["alerted"] = True
        return [self.make_alert(record.step, onset_of(st["streak"], st["raw"]), sm)]

    def make_alert(self, step: int, onset: int, sm: dict[str, float]) -> Alert:
        raise NotImplementedError


@dataclass
class FrozenMotionState(SmoothedThresholdState):
    """State of :class:`FrozenMotionDetector`: the smoothed values (``values``) and their steps."""

    ratio: float | None = None
    ratio_step: int | None = None


@register_detector
class FrozenMotionDetector(_SmoothedThreshold):
    """Generated clips hardly move: the fakes' mean frame-to-frame change, smoothed, is below
    ``ratio_max`` times that of the real clips of the same steps."""

    name = "frozen_video"
    # Persistence is the failure's own time scale: the smoothed ratio below the threshold on
    # every sampled batch for 100 steps (the family's defaults), as the benchmark's label
    # asks the clips to stand still for 100 steps. A generator still learning to draw moves
    # little for a while: on DVD-GAN-lite's healthy runs the held-out motion ratio fell below
    # 0.3 for 25-100 steps between steps 75 and 325 (seeds 0-4) and sometimes for longer
    # (100 steps or more on four of ten fresh seeds, which the label then counts as frozen), and
    # an earlier 25-step hold (tau 10) alarmed after still phases of only 25-50 steps. The
    # longer hold costs delay (70-250 steps after the onset on the fresh seeds), not
    # detections (docs/benchmarks.md, "Video detectors").
    params: ClassVar[dict[str, Any]] = {
        **_SmoothedThreshold.params,
        "ratio_max": 0.3,
    }
    requires_any = ((S.VIDEO_MOTION_RATIO,),)
    provided_by_groups = (VIDEO_CLIPS,)
    State = FrozenMotionState

    def values(self, record: StepRecord) -> dict[str, float] | None:
        r = record.get(S.VIDEO_MOTION_RATIO)
        return {"ratio": r} if finite(r) else None

    def past(self, v: dict[str, float]) -> bool:
        return v["ratio"] < self.cfg["ratio_max"]

    def make_alert(self, step: int, onset: int, sm: dict[str, float]) -> Alert:
        return self.alert(
            Severity.WARNING,
            step,
            onset,
            f"generated video is frozen: frames change {sm['ratio']:.2f}x as much as in real "
            f"clips (threshold {self.cfg['ratio_max']})",
            {"motion_ratio": sm["ratio"], "threshold": self.cfg["ratio_max"]},
            FROZEN,
        )


@dataclass
class _MotionState(SmoothedThresholdState):
    """The smoothed motion ratio, which the looping and flicker detectors both read."""

    motion: float | None = None
    motion_step: int | None = None


@dataclass
class LoopingState(_MotionState):
    """State of :class:`LoopingDetector`: the smoothed values (``values``) and their steps."""

    excess: float | None = None
    excess_step: int | None = None


@register_detector
class LoopingDetector(_SmoothedThreshold):
    """Generated clips come back to where they were: their recurrence (the best correlation
    of mean-removed frames ``L >= 2`` apart minus that of neighbouring frames; about 2 for a
    period-2 loop, 1.5 for period 3, <= 0 for steady motion) exceeds the real clips' by
    ``excess_max``, while the clips do move (motion ratio at least ``min_motion_ratio``; a
    frozen clip is the frozen detector's case). Incoherent motion (frames in random order)
    sits near 0.5 above reals: below the default threshold."""

    name = "looping_video"
    params: ClassVar[dict[str, Any]] = {
        **_SmoothedThreshold.params,
        "excess_max": 1.0,
        "min_motion_ratio": 0.3,
    }
    requires_any = ((S.VIDEO_RECURRENCE_EXCESS,),)
    provided_by_groups = (
        Advice(
            "pass video clips of at least 3 frames to Monitor.step",
            "needs clips of at least 3 frames (the frames option of the video data)",
        ),
    )
    State = LoopingState

    def values(self, record: StepRecord) -> dict[str, float] | None:
        e, m = record.get(S.VIDEO_RECURRENCE_EXCESS), record.get(S.VIDEO_MOTION_RATIO)
        if not (finite(e) and finite(m)):
            return None
        return {"excess": e, "motion": m}

    def past(self, v: dict[str, float]) -> bool:
        return v["excess"] > self.cfg["excess_max"] and v["motion"] >= self.cfg["min_motion_ratio"]

    def make_alert(self, step: int, onset: int, sm: dict[str, float]) -> Alert:
        return self.alert(
            Severity.WARNING,
            step,
            onset,
            f"generated video loops: clips return to earlier frames (recurrence "
            f"{sm['excess']:.2f} above real clips, threshold {self.cfg['excess_max']})",
            {
                "recurrence_excess": sm["excess"],
                "motion_ratio": sm["motion"],
                "threshold": self.cfg["excess_max"],
            },
            LOOPING,
        )


@dataclass
class TemporalFlickerState(_MotionState):
    """State of :class:`TemporalFlickerDetector`: the smoothed values (``values``) and their
    steps. ``flips_*`` are legible class changes per frame pair, ``legible_*`` the share of
    legible pairs: their ratio is the flip rate pooled over the smoothing window."""

    flips_fake: float | None = None
    flips_fake_step: int | None = None
    legible_fake: float | None = None
    legible_fake_step: int | None = None
    flips_real: float | None = None
    flips_real_step: int | None = None
    legible_real: float | None = None
    legible_real_step: int | None = None
    coherence_fake: float | None = None
    coherence_fake_step: int | None = None
    coherence_real: float | None = None
    coherence_real_step: int | None = None
    recurrence: float | None = None
    recurrence_step: int | None = None

    #: 2: the pooled legible flip rates replace ``flip`` (the smoothed excess of the ungated
    #: rates, which counted the classifier's noise on illegible frames): version 1's is
    #: dropped, and the pooled rates start afresh at the first record after the resume
    version: ClassVar[int] = 2
    retired: ClassVar[tuple[str, ...]] = ("flip", "flip_step")

    @classmethod
    def upgrade(cls, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
        return super().upgrade(fields, None if version == 1 else version)


def pooled_flip_excess(v: dict[str, float], min_legible: float = 0.0) -> float | None:
    """Fakes' flip rate over legible frame pairs minus the reals', each pooled as (legible
    changes per pair) / (legible pairs per pair); None when either side's share of legible
    pairs is not above ``min_legible``: too few readable frames to be evidence either way."""
    lf, lr = v.get("legible_fake", 0.0), v.get("legible_real", 0.0)
    if lf <= min_legible or lr <= min_legible:
        return None
    return v["flips_fake"] / lf - v["flips_real"] / lr


@register_detector
class TemporalFlickerDetector(_SmoothedThreshold):
    """Identity flicker or drift: the glyph classifier's label changes between consecutive
    legible frames ``flip_excess_max`` more often in fakes than in reals, the fakes change
    from frame to frame more than ``motion_ratio_max`` times as much as real clips (jumps),
    or, while they move at least ``coherence_motion_min`` times as much as real clips, their
    temporal coherence (how much more alike neighbouring frames are than the least alike
    pair, :mod:`gandiag.monitor.video`) is under ``coherence_ratio_min`` times the reals'
    and they do not loop (recurrence excess at most ``coherence_recurrence_max``, the
    looping detector's threshold): each frame drawn anew, a glyph jumping from place to
    place by about as much as real glyphs move (an image generator run frame by frame),
    which neither the flip rate (the frames may be blobs) nor the amount of change sees.

    A label change is evidence that a glyph changed identity only when the classifier can
    read both frames: an early generator draws blobs to which the classifier gives a label
    that wanders at random, and counting those changes raised a false alarm on a healthy
    run. So the flip rates count only pairs of frames the monitor calls legible (top-class
    probability at least the 5% quantile of the real frames' in the same step,
    :mod:`gandiag.monitor.video`), and the detector pools them over its smoothing window
    as legible changes over legible pairs, so that a record with few legible pairs weighs
    little and one with none adds nothing (it does not pull the rate towards 0: no
    legible frames is no evidence, not "no flicker"). The flip part is judged only while
    more than ``min_legible_share`` of the fakes' frame pairs are legible over the window
    (about 90% of the reals' are, by the 5% level): below a tenth, a batch of 16 clips of 8
    frames offers fewer than 12 readable pairs, and the rate would rest on a handful of
    frames the classifier barely reads as glyphs. The alert reports the legible shares.
    Records from before the legibility gate (no
    ``video/legible_*``) carry only the ungated flip rate, which is not evidence of flicker
    by the same reasoning: on them only the motion part is judged.
    """

    name = "temporal_flicker"
    params: ClassVar[dict[str, Any]] = {
        **_SmoothedThreshold.params,
        "flip_excess_max": 0.25,
        "min_legible_share": 0.1,
        "motion_ratio_max": 2.5,
        # real against real clips, batches of 16: coherence ratio 0.71-1.34; frames
        # shuffled within each real clip: at most 0.32 per batch, 0.06 pooled
        "coherence_ratio_min": 0.3,
        "coherence_motion_min": 0.3,
        # a clip that comes back to earlier frames is a loop (looping_video's threshold): a
        # two-frame alternation has no coherence either, and is reported as a loop only
        "coherence_recurrence_max": 1.0,
    }
    requires_any = ((S.VIDEO_MOTION_RATIO,),)
    provided_by_groups = (VIDEO_CLIPS,)
    State = TemporalFlickerState

    def values(self, record: StepRecord) -> dict[str, float] | None:
        m = record.get(S.VIDEO_MOTION_RATIO)
        if not finite(m):
            return None
        out = {"motion": m}
        lf, lr = record.get(S.VIDEO_LEGIBLE_FAKE), record.get(S.VIDEO_LEGIBLE_REAL)
        if finite(lf) and finite(lr):
            ff, fr = record.get(S.VIDEO_FLIP_FAKE), record.get(S.VIDEO_FLIP_REAL)
            out["flips_fake"] = ff * lf if lf > 0 and finite(ff) else 0.0
            out["flips_real"] = fr * lr if lr > 0 and finite(fr) else 0.0
            out["legible_fake"], out["legible_real"] = lf, lr
        cf, cr = record.get(S.VIDEO_COHERENCE_FAKE), record.get(S.VIDEO_COHERENCE_REAL)
        if finite(cf) and finite(cr):
            out["coherence_fake"], out["coherence_real"] = cf, cr
            rec = record.get(S.VIDEO_RECURRENCE_EXCESS)
            out["recurrence"] = rec if finite(rec) else 0.0
        return out

    def _coherence(self, v: dict[str, float]) -> float | None:
        """Fakes' coherence over the reals' (None: not recorded, or reals with none)."""
        if "coherence_real" not in v or v["coherence_real"] <= 0:
            return None
        return v["coherence_fake"] / v["coherence_real"]

    def _incoherent(self, v: dict[str, float]) -> bool:
        ratio = self._coherence(v)
        return (
            ratio is not None
            and v["motion"] >= self.cfg["coherence_motion_min"]
            and ratio < self.cfg["coherence_ratio_min"]
            and v["recurrence"] <= self.cfg["coherence_recurrence_max"]
        )

    def _excess(self, v: dict[str, float]) -> float | None:
        return pooled_flip_excess(v, self.cfg["min_legible_share"])

    def _flip_past(self, v: dict[str, float]) -> bool:
        excess = self._excess(v)
        return excess is not None and excess > self.cfg["flip_excess_max"]

    def past(self, v: dict[str, float]) -> bool:
        return (
            self._flip_past(v) or v["motion"] > self.cfg["motion_ratio_max"] or self._incoherent(v)
        )

    def make_alert(self, step: int, onset: int, sm: dict[str, float]) -> Alert:
        excess = self._excess(sm)
        evidence = {
            "motion_ratio": sm["motion"],
            "flip_threshold": self.cfg["flip_excess_max"],
            "motion_threshold": self.cfg["motion_ratio_max"],
        }
        if "legible_fake" in sm:
            evidence |= {"legible_fake": sm["legible_fake"], "legible_real": sm["legible_real"]}
        if excess is not None:
            evidence["flip_excess"] = excess
        coherence = self._coherence(sm)
        if coherence is not None:
            evidence |= {
                "coherence_ratio": coherence,
                "coherence_threshold": self.cfg["coherence_ratio_min"],
            }
        if self._flip_past(sm):
            what = (
                f"the glyph's class changes between legible frames {excess:.2f} more often "
                f"than in real clips (threshold {self.cfg['flip_excess_max']}; "
                f"{sm['legible_fake']:.0%} of generated frame pairs legible, "
                f"{sm['legible_real']:.0%} of real ones)"
            )
        elif sm["motion"] > self.cfg["motion_ratio_max"]:
            what = (
                f"frames change {sm['motion']:.2f}x as much as in real clips "
                f"(threshold {self.cfg['motion_ratio_max']})"
            )
        else:
            what = (
                f"each frame looks drawn anew: neighbouring frames are alike only "
                f"{coherence:.2f}x as much (over distant ones) as in real clips (threshold "
                f"{self.cfg['coherence_ratio_min']}) while the clips move "
                f"{sm['motion']:.2f}x as much"
            )
        return self.alert(
            Severity.WARNING, step, onset, f"generated video flickers: {what}", evidence, FLICKER
        )


def _d_nets(names: Any) -> list[str]:
    """Discriminators with per-network output signals ``d/<NET>/real/raw_std``."""
    out = set()
    for n in names:
        parts = n.split("/")
        if len(parts) == 4 and parts[0] == "d" and parts[2] == "real" and parts[3] == "raw_std":
            out.add(parts[1])
    return sorted(out)


@dataclass
class StuckDiscriminatorState(DeclaredState):
    """State of :class:`StuckDiscriminatorDetector`."""

    streaks: dict[str, Streak] = field(default_factory=dict)
    alerted: dict[str, bool] = field(default_factory=dict)
    # net -> update ratio and gradient norm, both from the last record with an update ratio
    last: dict[str, dict[str, float]] = field(default_factory=dict)

    retired: ClassVar[tuple[str, ...]] = ("idle",)  # written as {}, never read


@register_detector
class StuckDiscriminatorDetector(SignalDetector):
    """One of several discriminators has stopped judging while another trains.

    A discriminator is *idle* at a record when any of these holds: its outputs are constant
    (raw std on reals and on fakes and the real-fake gap all below ``constant_max``: the
    batch-norm failure of DGMR-pytorch issue #4); its loss is stuck at the hinge value 2.0
    (within ``hinge_tol``) with a real-fake gap below ``hinge_tol``: it separates nothing;
    its parameters do not move although its gradient does not vanish (update-to-weight ratio
    below ``update_min`` with gradient norm above ``grad_min``: a zero learning rate, an
    optimiser that never steps; a hinge discriminator that separates every pair has zero
    gradients and, with Adam's beta1 = 0, zero updates: it is winning, not idle). The alarm needs one discriminator idle on every record for
    ``patience_steps`` while another is not.
    """

    name = "d_imbalance"
    kinds: ClassVar[tuple[str, ...]] = ("video",)
    params: ClassVar[dict[str, Any]] = {
        "constant_max": 1e-3,
        "hinge_tol": 0.02,
        "update_min": 1e-7,
        "grad_min": 1e-8,
        "patience_steps": 100,
        "min_records": 5,
    }
    requires_any = (("d/*/real/raw_std",),)
    provided_by_groups = (
        Advice(
            "pass several discriminators to Monitor(discriminator={name: D, ...}) and their "
            "outputs as dicts d_real={name: ...}, d_fake={name: ...}",
            "the trainer passes both discriminators of video models; nothing to do for "
            "other models",
        ),
    )

    State = StuckDiscriminatorState

    def _idle(self, net: str, record: StepRecord) -> tuple[bool | None, dict[str, float]]:
        g = record.get
        sr, sf = (
            g(S.d_net(net, "real", "raw_std")),
            g(S.d_net(net, "fake", "raw_std")),
        )
        mr, mf = (
            g(S.d_net(net, "real", "raw_mean")),
            g(S.d_net(net, "fake", "raw_mean")),
        )
        if not (finite(sr) and finite(sf) and finite(mr) and finite(mf)):
            return None, {}
        gap = abs(mr - mf)
        ev = {"out_std_real": sr, "out_std_fake": sf, "real_fake_gap": gap}
        c = self.cfg
        idle = max(sr, sf, gap) < c["constant_max"]
        loss = g(S.loss(net))
        if finite(loss):
            ev["loss"] = loss
            idle = idle or (abs(loss - 2.0) < c["hinge_tol"] and gap < c["hinge_tol"])
        # The update ratio is measured only at layer-cadence steps, the gradient norm at
        # every step: the pair is taken from the record that carries the update ratio and
        # its verdict holds until the next one. Pairing a stale update with a fresh gradient
        # made a discriminator that rested (zero gradient, zero update) at the measurement
        # look frozen at the steps in between, which reset the other's streak.
        upd, grad = g(S.update_ratio(net)), g(S.grad_norm(net))
        if finite(upd):
            self.state["last"][net] = {"update": upd} | ({"grad": grad} if finite(grad) else {})
        last = self.state["last"].get(net, {})
        if "update" in last and "grad" in last:
            # weights that do not move although gradients flow: a zero learning rate or an
            # optimiser that never steps (a hinge D that wins outright has zero gradients:
            # it rests, it is not idle)
            ev["update_ratio"], ev["grad_norm"] = last["update"], last["grad"]
            idle = idle or (last["update"] < c["update_min"] and last["grad"] > c["grad_min"])
        return bool(idle), {k: float(v) for k, v in ev.items()}

    def check(self, record: StepRecord) -> list[Alert]:
        nets = _d_nets(record.scalars)
        if len(nets) < 2:
            return []
        st = self.state
        status = {n: self._idle(n, record) for n in nets}
        alerts = []
        for net, (idle, ev) in status.items():
            if idle is None:
                continue
            others = [m for m, (i, _) in status.items() if m != net and i is False]
            streak = st["streaks"].setdefault(net, new_streak())
            streak_update(streak, bool(idle) and bool(others), record.step)
            if streak["since"] is None:
                st["alerted"][net] = False
                continue
            held = streak_held(
                streak, record.step, self.cfg["patience_steps"], self.cfg["min_records"]
            )
            if not held or st["alerted"].get(net):
                continue
            st["alerted"][net] = True
            reasons = []
            if (
                max(ev["out_std_real"], ev["out_std_fake"], ev["real_fake_gap"])
                < self.cfg["constant_max"]
            ):
                reasons.append("its outputs are constant")
            if "loss" in ev and abs(ev["loss"] - 2.0) < self.cfg["hinge_tol"]:
                reasons.append(f"its hinge loss is stuck at {ev['loss']:.3f}")
            if (
                ev.get("update_ratio", math.inf) < self.cfg["update_min"]
                and ev.get("grad_norm", 0.0) > self.cfg["grad_min"]
            ):
                reasons.append(f"its weights do not move (update ratio {ev['update_ratio']:.2g})")
            alerts.append(
                self.alert(
                    Severity.WARNING,
                    record.step,
                    streak["since"],
                    f"discriminator {net} is idle while {', '.join(others)} trains: "
                    + "; ".join(reasons or ["it separates nothing"]),
                    {
                        **ev,
                        "constant_max": self.cfg["constant_max"],
                        "update_min": self.cfg["update_min"],
                    },
                    IMBALANCE,
                )
            )
        return alerts


CLASS_REACHES_G = (
    "make the class reach every block of the generator (DVD-GAN's conditional batch norm "
    "on [z; e(y)]) and the discriminators (projection), so clips follow the class asked for"
)
CLASS_CONCENTRATION = (TEMPORAL_D, CLASS_REACHES_G, R.TTUR_LOWER_LR, R.RESTART)


def class_counts(record: StepRecord, prefix: str) -> dict[str, float]:
    """``{class: clips}`` of one side (``video/class_fake/`` or ``video/class_real/``)."""
    return {
        k[len(prefix) :]: float(v)
        for k, v in record.scalars.items()
        if k.startswith(prefix) and finite(v)
    }


def top_class_excess(fake: dict[str, float], real: dict[str, float]) -> tuple[str, float, float]:
    """``(class, fake share, real share)`` of the class with the largest fake share (ties: the
    first in class order); shares among the clips each side could read."""
    n_f, n_r = sum(fake.values()), sum(real.values())
    top = max(sorted(fake, key=int), key=lambda k: fake[k])
    return top, fake[top] / n_f, real.get(top, 0.0) / n_r


@dataclass
class ClassConcentrationState(DeclaredState):
    """State of :class:`ClassConcentrationDetector`: per-record clip counts in the window
    (``[step, {class: fake clips}, {class: real clips}]``), the evidence streak."""

    window: list[list[Any]] = field(default_factory=list)
    streak: Streak = field(default_factory=new_streak)
    alerted: bool = False


@register_detector
class ClassConcentrationDetector(SignalDetector):
    """Mode collapse of a class-conditional video generator: its clips pile into one class.

    Reads the clip counts per glyph class the Monitor takes from each sampled batch
    (``video/class_fake/<k>``, ``video/class_real/<k>``: a clip's class is the glyph
    classifier's most frequent label over its legible frames; clips the classifier cannot
    read count for no class, :mod:`gandiag.monitor.video`). One batch of 16 clips says
    little, so the counts are pooled over the last ``window_steps``. The evidence holds
    when, in the pooled counts,

    * the fakes' most frequent class holds a share of the readable fake clips at least
      ``excess_min`` above that class's share of the readable real clips (0.3: the
      label-free coverage detector's threshold for one k-means bin, here one class; with
      10 equal classes, 40% of the clips in a class that holds 10% of the reals), and
    * at least ``min_clips`` fake clips were readable, and at least ``min_read_share`` as
      many as real clips: a generator that still draws blobs offers few readable clips,
      and the few it does (the simplest strokes) would pile into one class by selection,
      not by collapse.

    It fires when the evidence held on every sampled record for ``patience_steps`` after
    ``warmup_steps``; the onset is the first of them. One alert per episode.

    Under the null (fakes distributed like the reals) the excess of the top class of 50
    readable clips over 10 classes stays near 0.1: the threshold is three times that (on
    real-against-real clip streams, 201 windows over 3 seeds, at most 0.12).

    **Not a default** (add it with ``default_detectors("video", class_concentration=True)``
    or ``class_concentration = true`` under ``[monitor.overrides]``): a GAN learning to draw
    piles its samples into one class for a while, and DVD-GAN-lite does so on every run. In
    the video benchmark (docs/benchmarks.md, "Video detectors") the readable clips of one
    batch often all show one class, a class that changes from batch to batch, healthy runs
    included; the detector fires on all 15 runs of 600 steps, the five healthy ones too
    (first onsets at steps 100-545, eight at 100). It says what the samples do at that
    moment, which is not the failure a user needs told about. Use it after that phase
    (``warmup_steps``), on runs long enough to have one.
    """

    name = "class_concentration"
    kinds: ClassVar[tuple[str, ...]] = ("video",)
    params: ClassVar[dict[str, Any]] = {
        "excess_min": 0.3,
        "window_steps": 100,
        "min_clips": 50,
        "min_read_share": 0.25,
        "warmup_steps": 100,
        "patience_steps": 50,
        "min_records": 5,
    }
    requires_any = (("video/class_fake/*",),)
    provided_by_groups = (
        Advice(
            "pass single-channel glyph clips [B, T, 1, H, W] as real= and fake= to "
            "Monitor.step (the bundled glyph classifier reads their frames)",
            "applies to video models on glyph clips (moving_glyphs); nothing to set",
        ),
    )
    State = ClassConcentrationState

    def _pooled(self) -> tuple[dict[str, float], dict[str, float]]:
        fake: dict[str, float] = {}
        real: dict[str, float] = {}
        for _, f, r in self.state["window"]:
            for pooled, counts in ((fake, f), (real, r)):
                for k, n in counts.items():
                    pooled[k] = pooled.get(k, 0.0) + n
        return fake, real

    def _evidence(self) -> dict[str, float] | None:
        """The pooled shares, or None when the window reads too few clips to judge."""
        fake, real = self._pooled()
        n_f, n_r = sum(fake.values()), sum(real.values())
        c = self.cfg
        if n_r <= 0 or n_f < c["min_clips"] or n_f < c["min_read_share"] * n_r:
            return None
        top, share_f, share_r = top_class_excess(fake, real)
        return {
            "top_class": float(top),
            "fake_share": share_f,
            "real_share": share_r,
            "excess": share_f - share_r,
            "fake_clips_read": n_f,
            "real_clips_read": n_r,
        }

    def check(self, record: StepRecord) -> list[Alert]:
        fake = class_counts(record, "video/class_fake/")
        if not fake:
            return []
        real = class_counts(record, "video/class_real/")
        st, c = self.state, self.cfg
        st["window"].append([int(record.step), fake, real])
        st["window"] = [w for w in st["window"] if w[0] > record.step - c["window_steps"]]
        ev = self._evidence()
        warm = record.step >= c["warmup_steps"]
        streak_update(
            st["streak"], warm and ev is not None and ev["excess"] >= c["excess_min"], record.step
        )
        if st["streak"]["since"] is None:
            st["alerted"] = False
        if st["alerted"] or ev is None:
            return []
        if not streak_held(st["streak"], record.step, c["patience_steps"], c["min_records"]):
            return []
        st["alerted"] = True
        k = int(ev["top_class"])
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                st["streak"]["since"],
                f"generated clips pile into one class: {ev['fake_share']:.0%} of the readable "
                f"clips show glyph class {k}, which holds {ev['real_share']:.0%} of the real "
                f"clips (excess {ev['excess']:.2f}, threshold {c['excess_min']}; "
                f"{ev['fake_clips_read']:.0f} generated and {ev['real_clips_read']:.0f} real "
                f"clips read over the last {c['window_steps']} steps)",
                ev | {"threshold": float(c["excess_min"])},
                CLASS_CONCENTRATION,
            )
        ]

"""Detectors of style-based generators and their regularisers (signals: gandiag.train.style_probes).

Each is a threshold on a scale-free signal held for ``patience_steps`` (one bad probe
does not alert), with the numbers that crossed it as evidence:

* ``w_collapse``: the std of w across the batch (``style/w_std``) fallen by orders of
  magnitude below its level early in the run: the mapping network's output no longer
  depends on z (rosinality/stylegan2-pytorch#261);
* ``noise_dominated``: most of the image variance comes from the noise inputs
  (``style/noise_share``), not from the latent;
* ``mixing_no_effect``: swapping the styles of the second half of the layers changes
  the image by almost nothing (``style/mixing_effect``; NVlabs/stylegan2-ada-pytorch#208);
* ``regularizer_blowup``: R1 or path-length traces non-finite, or held a large factor
  above their current level for consecutive records (rosinality#210, lucidrains#78);
* ``channel_spike``: a few channels of the 8x8 features dominating (droplet artifacts);
* ``augment_runaway``: the adaptive augmentation probability near or past 1 while r_t
  stays above its target (NVlabs/stylegan2-ada#27: augmentations leak into samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors._stats import Streak, finite, median, new_streak, streak_held, streak_update
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord

STYLE_PROBES = Advice(
    "train with gandiag's stylegan stepper, or log style/* with mon.log_scalars",
    "the stylegan model's stepper logs style/*; nothing to do for other models",
)
MAPPING_LR = "check the mapping network: lr multiplier 0.01, no weight decay, no dead layers"
RESTART = "restart from the last checkpoint before the collapse"
MIXING = "keep style mixing on (probability ~0.9) so layers learn to use their own styles"
NOISE = "lower the noise strengths or check that w reaches every layer (affine, demodulation)"
REG_EPS = "add an epsilon inside sqrt in the path-length term and lower pl_weight / gamma"
REG_BATCH = "use a larger batch for the lazy regularisers (pl_batch_shrink 1 at small batch)"
DEMOD = "use weight demodulation instead of AdaIN (StyleGAN2), or lower the learning rate"
ADA_DATA = "use more data, or lower ada_target / cap p; stop when FID rises while p climbs"
ADA_PIPE = "use only invertible augmentations with p < 0.8 so they do not leak into samples"


@dataclass
class HeldState(DeclaredState):
    """State of :class:`_Held`."""

    streak: Streak = field(default_factory=new_streak)
    alerted: bool = False

    retired: ClassVar[tuple[str, ...]] = ("first",)  # written as None, never read


class _Held(SignalDetector):
    """A threshold on one signal held for ``patience_steps`` over at least ``min_records``."""

    signal: ClassVar[str]
    above: ClassVar[bool]  # alert when the signal is above (True) or below the threshold
    threshold_key: ClassVar[str]
    remedies: ClassVar[tuple[str, ...]]
    severity: ClassVar[Severity] = Severity.WARNING

    State = HeldState

    def diagnosis(self, value: float) -> str:
        raise NotImplementedError

    def evidence(self, record: StepRecord, value: float) -> dict[str, float]:
        return {self.signal: value, "threshold": self.cfg[self.threshold_key]}

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        v = record.get(self.signal)
        if not finite(v):
            return []
        thr = self.cfg[self.threshold_key]
        bad = v > thr if self.above else v < thr
        streak_update(st["streak"], bad and record.step >= self.cfg["warmup_steps"], record.step)
        if not bad:
            st["alerted"] = False
            return []
        if st["alerted"] or not streak_held(
            st["streak"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
        ):
            return []
        st["alerted"] = True
        return [
            self.alert(
                self.severity,
                record.step,
                st["streak"]["since"],
                self.diagnosis(v),
                self.evidence(record, v),
                self.remedies,
            )
        ]


_PATIENCE = {"patience_steps": 50, "min_records": 2, "warmup_steps": 0}


@dataclass
class WSpaceCollapseState(DeclaredState):
    """State of :class:`WSpaceCollapseDetector`."""

    first: list[float] = field(default_factory=list)  # the baseline's records
    base: float | None = None
    streak: Streak = field(default_factory=new_streak)
    alerted: bool = False
    share: float | None = None


@register_detector
class WSpaceCollapseDetector(SignalDetector):
    """``style/w_std`` below ``ratio_min`` times its baseline (median of the first
    ``baseline_records`` values), held for ``patience_steps``.

    Relative to the run's own start, because the scale of w depends on the mapping
    network (its depth, activation, learning-rate multiplier); a collapse is a fall by
    orders of magnitude (std(w) ~ 1e-5 in rosinality/stylegan2-pytorch#261).
    """

    name: ClassVar[str] = "w_collapse"
    requires_any = ((S.STYLE_W_STD,),)
    provided_by_groups = (STYLE_PROBES,)
    params: ClassVar[dict[str, Any]] = {
        "ratio_min": 0.01,
        "baseline_records": 5,
        "patience_steps": 50,
        "min_records": 3,
    }

    State = WSpaceCollapseState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        share = record.get(S.STYLE_NOISE_SHARE)
        if finite(share):
            st["share"] = share
        v = record.get(S.STYLE_W_STD)
        if not finite(v):
            return []
        if st["base"] is None:
            st["first"].append(float(v))
            if len(st["first"]) >= c["baseline_records"]:
                st["base"] = median(st["first"])
            return []
        ratio = v / st["base"] if st["base"] > 0 else 1.0
        bad = ratio < c["ratio_min"]
        streak_update(st["streak"], bad, record.step)
        if not bad:
            st["alerted"] = False
            return []
        if st["alerted"] or not streak_held(
            st["streak"], record.step, c["patience_steps"], c["min_records"]
        ):
            return []
        st["alerted"] = True
        evidence = {
            S.STYLE_W_STD: v,
            "baseline": st["base"],
            "ratio": ratio,
            "ratio_min": c["ratio_min"],
        }
        if st["share"] is not None:
            evidence[S.STYLE_NOISE_SHARE] = st["share"]
        return [
            self.alert(
                Severity.CRITICAL,
                record.step,
                st["streak"]["since"],
                f"W-space collapse: the std of w across the batch fell to {v:.2g}, "
                f"{ratio:.2g}x its early level; the mapping network ignores z and any "
                "diversity comes from the noise inputs",
                evidence,
                (MAPPING_LR, RESTART),
            )
        ]


@register_detector
class NoiseDominatedDetector(_Held):
    name: ClassVar[str] = "noise_dominated"
    requires_any = ((S.STYLE_NOISE_SHARE,),)
    provided_by_groups = (STYLE_PROBES,)
    signal, above, threshold_key = S.STYLE_NOISE_SHARE, True, "share_max"
    remedies = (MAPPING_LR, NOISE)
    params: ClassVar[dict[str, Any]] = {"share_max": 0.5, **_PATIENCE}

    def diagnosis(self, value: float) -> str:
        return (
            f"the noise inputs drive {value:.0%} of the image variance: samples vary with "
            "the per-pixel noise rather than with the latent"
        )


@register_detector
class StyleMixingDetector(_Held):
    name: ClassVar[str] = "mixing_no_effect"
    requires_any = ((S.STYLE_MIXING_EFFECT,),)
    provided_by_groups = (STYLE_PROBES,)
    signal, above, threshold_key = S.STYLE_MIXING_EFFECT, False, "effect_min"
    remedies = (MIXING, MAPPING_LR)
    params: ClassVar[dict[str, Any]] = {"effect_min": 0.02, **_PATIENCE}

    def diagnosis(self, value: float) -> str:
        return (
            f"style mixing has no effect: swapping the later layers' styles changes the image "
            f"by {value:.2%} of the distance between the two sources"
        )


@register_detector
class ChannelSpikeDetector(_Held):
    name: ClassVar[str] = "channel_spike"
    requires_any = ((S.STYLE_CHANNEL_SPIKE,),)
    provided_by_groups = (STYLE_PROBES,)
    signal, above, threshold_key = S.STYLE_CHANNEL_SPIKE, True, "spike_max"
    remedies = (DEMOD,)
    params: ClassVar[dict[str, Any]] = {"spike_max": 20.0, **_PATIENCE}

    def diagnosis(self, value: float) -> str:
        return (
            f"a few feature channels spike: the largest channel's mean activation is {value:.3g}x "
            "the median channel's (a precursor of droplet artifacts)"
        )


@dataclass
class AugmentRunawayState(DeclaredState):
    """State of :class:`AugmentRunawayDetector`."""

    rt: float | None = None
    alerted: bool = False
    since: int | None = None


@register_detector
class AugmentRunawayDetector(SignalDetector):
    """The adaptive augmentation probability at or past ``p_max`` with r_t above target."""

    name: ClassVar[str] = "augment_runaway"
    # no requires_any: silent (no "inactive" notice) in runs without augmentation
    params: ClassVar[dict[str, Any]] = {"p_max": 0.8, "target": 0.6}

    State = AugmentRunawayState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        rt = record.get(S.ADA_RT)
        if finite(rt):
            st["rt"] = rt
        p = record.get(S.ADA_P)
        if not finite(p) or st["rt"] is None:
            return []
        if p < c["p_max"]:
            st["since"] = None
            return []
        if st["since"] is None:
            st["since"] = int(record.step)
        if st["alerted"] or st["rt"] <= c["target"]:
            return []
        st["alerted"] = True
        return [
            self.alert(
                Severity.CRITICAL if p >= 1.0 else Severity.WARNING,
                record.step,
                st["since"],
                f"augmentation runaway: p = {p:.3g} (threshold {c['p_max']}) and the "
                f"discriminator still over-fits (r_t = {st['rt']:.2f} > {c['target']}); "
                "while p stays this high the augmentations can leak into the samples "
                "(look for rotated, flipped or recoloured samples)",
                {S.ADA_P: p, S.ADA_RT: st["rt"], "p_max": c["p_max"]},
                (ADA_DATA, ADA_PIPE),
            )
        ]


@dataclass
class RegularizerBlowupState(DeclaredState):
    """State of :class:`RegularizerBlowupDetector`."""

    hist: dict[str, list[float]] = field(
        default_factory=lambda: {s: [] for s in (S.REG_R1, S.REG_PL_LENGTH)}
    )
    alerted: list[str] = field(default_factory=list)
    #: trace -> [step of the first record above the level, records above it in a row]
    above: dict[str, list[int]] = field(default_factory=dict)

    #: 2: ``above`` (consecutive records above the level); absent in version 1, starts empty
    version: ClassVar[int] = 2

    @classmethod
    def upgrade(cls, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
        return super().upgrade(fields, None if version == 1 else version)


@register_detector
class RegularizerBlowupDetector(SignalDetector):
    """R1 or path-length traces non-finite, or above ``factor`` times their current level
    for ``confirm_records`` records in a row.

    The level is the larger of two medians: of the last ``history`` values (robust on a
    steady trace) and of the last ``min_history`` (the recent level). A trace that starts
    near zero (R1 of an initialised discriminator, whose input gradient is small) rises by
    orders of magnitude while D learns; the long median lags that rise and would read the
    warm-up as a blow-up, the recent median follows it. A single record far above the level
    is not a blow-up either: R1 is measured on one minibatch of reals (16-32 images) and
    spikes when D is briefly sharp on it, then returns; a blow-up stays up (and goes on to
    NaN, which alerts at once). Values above the level do not enter the history.
    """

    name: ClassVar[str] = "regularizer_blowup"
    requires_any = ((S.REG_R1, S.REG_PL_LENGTH),)
    provided_by_groups = (
        Advice(
            "log reg/r1 or reg/pl_length (the stylegan stepper does)",
            "the stylegan model's stepper logs reg/r1 and reg/pl_length; nothing to do for "
            "other models",
        ),
    )
    params: ClassVar[dict[str, Any]] = {
        "factor": 100.0,
        "history": 20,
        "min_history": 5,
        "confirm_records": 2,
    }
    signals: ClassVar[tuple[str, ...]] = (S.REG_R1, S.REG_PL_LENGTH)

    State = RegularizerBlowupState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        out = []
        for name in self.signals:
            v = record.get(name)
            if v is None:
                continue
            hist = st["hist"][name]
            what, onset, high = None, record.step, False
            evidence: dict[str, float] = {name: v}
            if not math.isfinite(v):
                what = f"{name} became {v}"
            elif len(hist) >= c["min_history"]:
                base = max(median(hist), median(hist[-c["min_history"] :]))
                evidence["level"] = base
                evidence["factor"] = c["factor"]
                high = base > 0 and v > c["factor"] * base
                if high:
                    run = st["above"].setdefault(name, [record.step, 0])
                    run[1] += 1
                    evidence["records_above"] = run[1]
                    if run[1] >= c["confirm_records"]:
                        onset = run[0]
                        what = (
                            f"{name} = {v:.3g} is {v / base:.3g}x its level {base:.3g} "
                            f"({run[1]} records in a row from step {run[0]})"
                        )
            if not high:
                st["above"].pop(name, None)
                if math.isfinite(v):
                    hist.append(float(v))
                    del hist[: -c["history"]]
            if what is None or name in st["alerted"]:
                continue
            st["alerted"].append(name)
            out.append(
                self.alert(
                    Severity.CRITICAL,
                    record.step,
                    onset,
                    f"regulariser blow-up: {what}",
                    evidence,
                    (REG_EPS, REG_BATCH, RESTART),
                )
            )
        return out

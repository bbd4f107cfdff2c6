"""A class-conditional generator that ignores its condition (samples do not follow the class).

Reads the trainer's condition probe (:mod:`gandiag.train.condition_probe`): the same latents
generated under each class, and ``cond/variance_share``, the share of the samples' variance the
requested class explains (epsilon-squared of a two-way layout, 0 on average when the class
changes nothing), against ``cond/variance_share_real``, the share the class explains among
labelled reals. Label-free for the samples: no classifier reads them, only the classes that
were asked for.

Why this and not the discriminator's score gap between matching and wrong (image, class)
pairs: the gap measures whether D checks the condition, a cause; the failure users see is
that the generator's samples do not change with it, and a D that rejects wrong pairs
perfectly does not make the generator follow (a noisy conditioning path, or a generator
that has not learned it yet, leaves samples class-blind while D_wrong is near 0). The share
measures the failure itself, for any conditional generator (concatenated one-hot,
conditional batch norm, StackGAN's CA); the gap, logged where D is conditional, is evidence
that says which side to fix.

Fires when the smoothed share stays below ``share_fraction`` of the data's for
``patience_steps`` after ``warmup_steps`` (restarted at each phase: a freshly started stage
draws class-blind samples until it has learned). A dataset whose classes explain less than
``real_share_min`` of its variance gives nothing to compare with; the detector stays quiet.

The share says whether the samples change with the class, not whether they change to the
right class: a generator can draw a different glyph for each class, just not the asked-for
one, and the share is then as high as the data's. Where a classifier knows the data's classes
(the trainer's evaluation with the bundled glyph classifier, or any user's classifier logged
as ``eval/class_consistency``), the evaluation measures the failure itself: the classifier's
accuracy on samples against the class they were drawn for, over its accuracy on reals, both
above chance. The detector reads it when present and fires when, after the phase's warm-up,
an evaluation finds the consistency below ``consistency_min`` (the samples show their class
less than half as reliably, above chance, as the data does). An evaluation draws many samples
(1,000 by default), so one reading is a measurement, not a noisy probe, and needs no
patience. The share keeps watching between evaluations and without a classifier: samples
that do not change with the class cannot show the right one, so a low share is the same
failure seen without labels, earlier (the probe runs far more often than the evaluation).
Either finding raises the one alert of the phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import (
    Streak,
    finite,
    held_with_raw,
    new_phase,
    new_streak,
    onset_of,
    smooth,
    streak_update,
)
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord

D_BLIND = (
    (
        "the discriminator does not check the condition: make it matching-aware, scoring real "
        "images with a wrong class as fake (GAN-CLS, Reed et al. 2016; StackGAN's wrong pairs), or "
        "condition it by projection (Miyato & Koyama 2018) instead of concatenation"
    ),
)
G_BLIND = (
    (
        "the discriminator checks the condition but the generator does not follow it: make the "
        "condition reach the generator clearly (a condition code larger than its noise, e.g. a "
        "dense class embedding, or conditional batch norm), lower a conditioning augmentation's "
        "sigma or KL weight, or train longer"
    ),
)
ANY_BLIND = (
    (
        "check that the labels reach the generator (the class passed to G is the one asked for, "
        "not a constant or a shuffled copy) and that the discriminator sees the class too"
    ),
)


@dataclass
class ConditionIgnoredState(DeclaredState):
    """State of :class:`ConditionIgnoredDetector`."""

    share: float | None = None  # smoothed generator share
    share_step: int | None = None
    real: float | None = None  # latest data share
    gap: float | None = None  # latest D logit gap (matching - wrong)
    phase: float | None = None
    phase_start: int = 0
    streak: Streak = field(default_factory=new_streak)
    raw: Streak = field(default_factory=new_streak)
    alerted: bool = False
    consistency: float | None = None  # the classifier's reading in this phase (latest)
    consistency_step: int | None = None
    accuracy: float | None = None  # its accuracy on the samples, and on reals
    accuracy_real: float | None = None

    #: 2: the classifier's class consistency (absent fields start empty)
    version: ClassVar[int] = 2

    @classmethod
    def upgrade(cls, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
        return super().upgrade(fields, None if version == 1 else version)


@register_detector
class ConditionIgnoredDetector(SignalDetector):
    """The class explains far less of the samples' variance than of the data's."""

    name: ClassVar[str] = "condition_ignored"
    requires_any = ((S.COND_VARIANCE_SHARE, S.EVAL_CLASS_CONSISTENCY),)
    provided_by_groups = (
        Advice(
            "train a class-conditional model with gandiag train (its condition probe logs "
            "cond/variance_share), or log cond/variance_share and cond/variance_share_real "
            "(or, with a classifier of the data's classes, eval/class_consistency) with "
            "Monitor.log_scalars",
            "only class-conditional generators have a condition to follow; nothing to do for "
            "other models",
        ),
    )
    reads = (
        S.COND_VARIANCE_SHARE,
        S.EVAL_CLASS_CONSISTENCY,
        S.EVAL_CLASS_ACCURACY,
        S.EVAL_CLASS_ACCURACY_REAL,
        S.PHASE_INDEX,
    )
    params: ClassVar[dict[str, Any]] = {
        "share_fraction": 0.25,
        "consistency_min": 0.5,
        "real_share_min": 0.02,
        "smooth_steps": 100,
        "warmup_steps": 200,
        "patience_steps": 150,
        "min_records": 3,
    }

    State = ConditionIgnoredState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        if new_phase(st, record.get(S.PHASE_INDEX), record.step):
            # a new stage draws class-blind samples at first
            st.update(share=None, share_step=None, alerted=False)
            st.update(consistency=None, consistency_step=None, accuracy=None, accuracy_real=None)
            st["streak"], st["raw"] = new_streak(), new_streak()
        warm = record.step - st["phase_start"] >= c["warmup_steps"]
        consistency = record.get(S.EVAL_CLASS_CONSISTENCY)
        if warm and finite(consistency):
            return self._judge_consistency(record, float(consistency))
        share, real = record.get(S.COND_VARIANCE_SHARE), record.get(S.COND_VARIANCE_SHARE_REAL)
        gap = record.get(S.COND_D_MATCH_GAP)
        if finite(gap):
            st["gap"] = float(gap)
        if finite(real):
            st["real"] = float(real)
        if not finite(share):
            return []
        smooth(st, "share", share, record.step, c["smooth_steps"])
        judged = warm and st["real"] is not None and st["real"] >= c["real_share_min"]
        limit = c["share_fraction"] * (st["real"] or 0.0)
        bad = judged and st["share"] < limit
        streak_update(st["streak"], bad, record.step)
        streak_update(st["raw"], judged and share < limit, record.step)
        if not bad or st["alerted"]:
            return []
        if not held_with_raw(
            st["streak"], st["raw"], record.step, c["patience_steps"], c["min_records"]
        ):
            return []
        st["alerted"] = True
        return [self._alert(record.step, onset_of(st["streak"], st["raw"]))]

    def _judge_consistency(self, record: StepRecord, consistency: float) -> list[Alert]:
        """An evaluation's class consistency, after the phase's warm-up: it decides."""
        st, c = self.state, self.cfg
        st["consistency"], st["consistency_step"] = consistency, int(record.step)
        for key, name in (
            ("accuracy", S.EVAL_CLASS_ACCURACY),
            ("accuracy_real", S.EVAL_CLASS_ACCURACY_REAL),
        ):
            value = record.get(name)
            st[key] = float(value) if finite(value) else None
        if consistency >= c["consistency_min"] or st["alerted"]:
            return []
        st["alerted"] = True
        evidence = {
            "class_consistency": consistency,
            "consistency_min": float(c["consistency_min"]),
        }
        seen = ""
        if st["accuracy"] is not None and st["accuracy_real"] is not None:
            evidence.update(class_accuracy=st["accuracy"], class_accuracy_real=st["accuracy_real"])
            seen = (
                f" (the classifier finds the asked-for class in {st['accuracy']:.0%} of them, "
                f"in {st['accuracy_real']:.0%} of real images)"
            )
        if st["share"] is not None and st["real"]:
            evidence.update(
                variance_share=float(st["share"]), variance_share_real=float(st["real"])
            )
            seen += (
                f"; the class explains {st['share']:.1%} of their pixel variance against "
                f"{st['real']:.1%} among reals, so they "
                + (
                    "do change with it, to the wrong class"
                    if st["share"] >= c["share_fraction"] * st["real"]
                    else "barely change with it"
                )
            )
        remedies, cause = self._remedies(evidence)
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                record.step,
                f"samples do not show their condition: their class consistency is "
                f"{consistency:.2f} (1: as the data, 0: chance; below {c['consistency_min']})"
                f"{seen}{cause}",
                evidence,
                remedies,
            )
        ]

    def _remedies(self, evidence: dict[str, float]) -> tuple[tuple[str, ...], str]:
        """The remedies and the cause sentence the discriminator's logit gap points to."""
        gap = self.state["gap"]
        if gap is None:
            return ANY_BLIND + D_BLIND + G_BLIND, ""
        evidence["d_match_gap"] = gap
        if gap <= 0.0:
            return D_BLIND + ANY_BLIND, (
                f"; the discriminator scores reals with a wrong class as high as with "
                f"their own (logit gap {gap:.3g}), so nothing asks for the class"
            )
        return G_BLIND + ANY_BLIND, (
            f"; the discriminator does tell matching from wrong pairs (logit gap "
            f"{gap:.3g}), so the generator is the side that ignores it"
        )

    def _alert(self, step: int, since: int) -> Alert:
        st, c = self.state, self.cfg
        evidence = {
            "variance_share": float(st["share"]),
            "variance_share_real": float(st["real"]),
            "share_ratio": float(st["share"]) / float(st["real"]),
            "share_fraction": float(c["share_fraction"]),
        }
        remedies, cause = self._remedies(evidence)
        return self.alert(
            Severity.WARNING,
            step,
            since,
            f"samples ignore their condition: the requested class explains "
            f"{st['share']:.1%} of their variance against {st['real']:.1%} among real "
            f"images (below {c['share_fraction']:.0%} of it){cause}",
            evidence,
            remedies,
        )


CLASS_COLLAPSE_REMEDIES = (
    R.CA_ON,
    (
        "check that the noise z reaches the generator alongside the condition (a condition code "
        "much larger than z can drown it), or add a diversity term (mode seeking, Mao et al. "
        "2019) or minibatch discrimination"
    ),
)


@dataclass
class ClassCollapseState(DeclaredState):
    """State of :class:`ClassCollapseDetector`."""

    spread: float | None = None  # smoothed within-class spread (fakes / reals)
    spread_step: int | None = None
    phase: float | None = None
    phase_start: int = 0
    streak: Streak = field(default_factory=new_streak)
    raw: Streak = field(default_factory=new_streak)
    alerted: bool = False


@register_detector
class ClassCollapseDetector(SignalDetector):
    """Mode collapse within each class: the samples of a class barely vary with ``z``.

    Reads ``cond/within_class_spread`` (the condition probe's pooled within-class variance of
    the samples over the reals'). A batch mixes classes, so its diversity stays high while
    every class has collapsed to one image; the probe holds the class fixed and varies only
    ``z``. Fires when the smoothed spread stays below ``spread_min`` (0.25: a variance ratio
    of a quarter is a typical distance of half the reals', the scale at which the
    benchmarks call a set collapsed) for ``patience_steps`` after ``warmup_steps``,
    restarted at each phase.
    """

    name: ClassVar[str] = "class_collapse"
    requires_any = ((S.COND_WITHIN_CLASS_SPREAD,),)
    provided_by_groups = ConditionIgnoredDetector.provided_by_groups
    reads = (S.COND_WITHIN_CLASS_SPREAD, S.PHASE_INDEX)
    params: ClassVar[dict[str, Any]] = {
        "spread_min": 0.25,
        "smooth_steps": 100,
        "warmup_steps": 200,
        "patience_steps": 150,
        "min_records": 3,
    }

    State = ClassCollapseState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        if new_phase(st, record.get(S.PHASE_INDEX), record.step):
            st.update(spread=None, spread_step=None, alerted=False)
            st["streak"], st["raw"] = new_streak(), new_streak()
        spread = record.get(S.COND_WITHIN_CLASS_SPREAD)
        if not finite(spread):
            return []
        smooth(st, "spread", spread, record.step, c["smooth_steps"])
        warm = record.step - st["phase_start"] >= c["warmup_steps"]
        bad = warm and st["spread"] < c["spread_min"]
        streak_update(st["streak"], bad, record.step)
        streak_update(st["raw"], warm and spread < c["spread_min"], record.step)
        if not bad or st["alerted"]:
            return []
        if not held_with_raw(
            st["streak"], st["raw"], record.step, c["patience_steps"], c["min_records"]
        ):
            return []
        st["alerted"] = True
        return [
            self.alert(
                Severity.CRITICAL,
                record.step,
                onset_of(st["streak"], st["raw"]),
                f"samples collapsed within each class: for a fixed class they vary "
                f"{st['spread']:.1%} as much as real images of one class do (below "
                f"{c['spread_min']:.0%}), so z barely changes the image",
                {"within_class_spread": float(st["spread"]), "spread_min": float(c["spread_min"])},
                CLASS_COLLAPSE_REMEDIES,
            )
        ]

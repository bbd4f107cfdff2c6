"""Mode collapse and non-convergence: what the generator's samples look like over time."""

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
from gandiag.detectors.names import signal_names
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord


def eval_coverage(record: StepRecord) -> float | None:
    """Share of known modes (2-D data) or classes (glyphs) the samples cover, if evaluated.

    Classes count only with ``eval/num_classes`` (how many the classifier knows) beside
    ``eval/classes_covered``: the share is never computed against an assumed class count.

    On 2-D data a mode counts as covered only with a high-quality sample (within 3σ of
    its centre); while most samples are not high quality yet (``eval/hq_share`` below
    0.5, early training) that count says nothing about collapse, so this returns None.
    """
    covered, total = record.get(S.EVAL_MODES_COVERED), record.get(S.EVAL_NUM_MODES)
    if finite(covered) and finite(total) and total > 0:
        hq = record.get(S.EVAL_HQ_SHARE)
        if finite(hq) and hq < 0.5:
            return None
        return covered / total
    classes, known = record.get(S.EVAL_CLASSES_COVERED), record.get(S.EVAL_NUM_CLASSES)
    if finite(classes) and finite(known) and known > 0:
        return classes / known
    return None


def eval_concentrated(record: StepRecord, share_min: float, coverage_max: float) -> bool | None:
    """Whether an evaluation found the samples piled on few modes/classes (None: no evaluation)."""
    share = record.get(S.EVAL_DOMINANT_SHARE)
    cov = eval_coverage(record)
    if not finite(share) and cov is None:
        return None
    return (finite(share) and share >= share_min) or (cov is not None and cov <= coverage_max)


@dataclass
class ModeCollapseState(DeclaredState):
    """State of :class:`ModeCollapseDetector`."""

    pdist: float | None = None  # smoothed samples/pdist_ratio
    pdist_step: int | None = None
    streak: Streak = field(default_factory=new_streak)
    raw: Streak = field(default_factory=new_streak)
    evals: list[list[int | bool]] = field(default_factory=list)  # [step, concentrated]
    alerted: bool = False


def _evaluated(names: tuple[str, ...]) -> bool:
    """Whether a record with these names can hold an evaluation eval_concentrated reads."""
    return any(
        n in names for n in (S.EVAL_DOMINANT_SHARE, S.EVAL_MODES_COVERED, S.EVAL_CLASSES_COVERED)
    )


Fired = tuple[int, str, dict[str, float]]  # (onset, what is seen, evidence)


def non_convergence_once(det: SignalDetector, step: int, fired: Fired | None) -> list[Alert]:
    """The one non-convergence WARNING a detector raises per run, from the first of its
    tests that ``fired``; later firings are silent (``det.state["alerted"]``)."""
    if fired is None or det.state["alerted"]:
        return []
    det.state["alerted"] = True
    onset, what, evidence = fired
    return [
        det.alert(
            Severity.WARNING,
            step,
            onset,
            f"training is not converging: {what}",
            evidence,
            R.NON_CONVERGENCE,
        )
    ]


@register_detector
class ModeCollapseDetector(SignalDetector):
    """The generator producing a small part of the data distribution, persistently.

    Two kinds of evidence, each of which must persist:

    * batch diversity: the exponentially weighted mean (time constant ``smooth_steps``) of
      ``samples/pdist_ratio`` (mean pairwise distance of fakes over that of reals) stays
      below ``pdist_max`` for ``patience_steps``;
    * evaluations (when ``eval/*`` are logged): on ``eval_patience`` successive
      evaluations, at least ``dominant_share_min`` of the samples in one mode/class, or
      mode/class coverage at or below ``coverage_max``.

    Nothing fires before ``warmup_steps``: healthy runs pass through an early
    one-or-two-mode phase (up to ~450 steps on the 2-D ring in the benchmark) that is
    not an alarm.
    """

    name = "mode_collapse"
    params: ClassVar[dict[str, Any]] = {
        "pdist_max": 0.3,
        "smooth_steps": 50,
        "warmup_steps": 500,
        "patience_steps": 100,
        "min_records": 3,
        "coverage_max": 0.25,
        "dominant_share_min": 0.5,
        "eval_patience": 3,
    }
    requires_any = ((S.SAMPLES_PDIST_RATIO, S.EVAL_MODES_COVERED, S.EVAL_CLASSES_COVERED),)
    provided_by_groups = (
        Advice(
            "pass real= and fake= batches to Monitor.step (batch diversity), or log "
            "eval/modes_covered or eval/classes_covered with Monitor.log_scalars",
            "the trainer measures batch diversity at every step and logs eval/modes_covered "
            "or eval/classes_covered at each evaluation (eval.every in the config)",
        ),
    )

    State = ModeCollapseState

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        ratio = record.get(S.SAMPLES_PDIST_RATIO)
        fired: tuple[int, str, dict[str, float]] | None = None
        if finite(ratio):
            smooth(st, "pdist", ratio, record.step, self.cfg["smooth_steps"])
            # evidence counts from the end of the warm-up on, so an onset is never a
            # warm-up artefact (a generator that starts near-constant is not "collapsing
            # since step 0")
            warm = record.step >= self.cfg["warmup_steps"]
            streak_update(st["raw"], warm and ratio < self.cfg["pdist_max"], record.step)
            streak_update(st["streak"], warm and st["pdist"] < self.cfg["pdist_max"], record.step)
            held = held_with_raw(
                st["streak"],
                st["raw"],
                record.step,
                self.cfg["patience_steps"],
                self.cfg["min_records"],
            )
            if held and record.step >= self.cfg["warmup_steps"]:
                fired = (
                    onset_of(st["streak"], st["raw"]),
                    f"samples are {st['pdist']:.2f}x as spread out as real data",
                    {
                        "pdist_ratio": st["pdist"],
                        "dup_rate": record.get(S.SAMPLES_DUP_RATE, math.nan),
                        "pdist_max": float(self.cfg["pdist_max"]),
                    },
                )
        conc = (
            eval_concentrated(record, self.cfg["dominant_share_min"], self.cfg["coverage_max"])
            if signal_names(record).derive(_evaluated)
            else None
        )
        if conc is not None and record.step >= self.cfg["warmup_steps"]:
            patience = int(self.cfg["eval_patience"])
            st["evals"] = (st["evals"] + [[int(record.step), bool(conc)]])[-patience:]
            low = len(st["evals"]) >= patience and all(c for _, c in st["evals"])
            if low and record.step >= self.cfg["warmup_steps"] and fired is None:
                fired = (
                    st["evals"][0][0],
                    f"{patience} evaluations in a row found the samples piled on few modes/classes",
                    {
                        "dominant_share": record.get(S.EVAL_DOMINANT_SHARE, math.nan),
                        "coverage": eval_coverage(record) or math.nan,
                        "dominant_share_min": float(self.cfg["dominant_share_min"]),
                        "coverage_max": float(self.cfg["coverage_max"]),
                    },
                )
        if fired is None:
            calm = st["streak"]["since"] is None
            if calm and not (st["evals"] and st["evals"][-1][1]):
                st["alerted"] = False  # recovered: a later collapse is a new event
            return []
        if st["alerted"]:
            return []
        st["alerted"] = True
        onset, what, evidence = fired
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                onset,
                f"mode collapse: {what}",
                evidence,
                R.MODE_COLLAPSE,
            )
        ]


@dataclass
class NonConvergenceState(DeclaredState):
    """State of :class:`NonConvergenceDetector`."""

    modes: list[list[int | bool]] = field(default_factory=list)  # [step, mode, concentrated]
    # coverage evaluations: [step, moved since the previous one, concentrated]
    shifts: list[list[int | bool]] = field(default_factory=list)
    cosine: float | None = None  # smoothed update cosine of G
    cosine_step: int | None = None
    streak: Streak = field(default_factory=new_streak)
    margin: float | None = None  # smoothed D(real) - D(fake)
    margin_step: int | None = None
    pdist: float | None = None
    pdist_step: int | None = None
    margin_streak: Streak = field(default_factory=new_streak)
    margin_raw: Streak = field(default_factory=new_streak)
    alerted: bool = False


_COSINE_G = S.update_cosine("G")


@register_detector
class NonConvergenceDetector(SignalDetector):
    """Training that never settles: the generator hops between modes instead of covering them.

    Evaluation evidence (``eval/dominant_mode``, logged by periodic evaluation): the
    dominant mode or class changed in at least ``hop_fraction`` of the last
    ``hop_window`` transitions between evaluations, while coverage stayed at or below
    ``hop_coverage_max`` (a generator covering most modes may change its most populated
    one by chance). Label-free coverage evidence (``coverage/fake_shift`` and
    ``coverage/top_bin_share``, computed by the Monitor from its reservoir of reals and
    fixed probe latents, no ``eval/*`` needed): the same rule, with a "hop" an evaluation
    at which at least ``shift_min`` of the probe samples' bin histogram moved since the
    previous one (total-variation distance; the latents are fixed, so a generator that
    stands still scores 0) and "concentrated" at least ``hop_share_min`` of them in one
    region of the data. Optional update evidence: the EWMA (``smooth_steps``) of
    ``update/G/cosine`` below ``cosine_max`` for ``patience_steps`` means successive
    generator updates point in opposite directions (rotation around an equilibrium);
    it is off by default (``cosine_max=None``) because it was not calibrated on the
    benchmark suite. Optional discriminator evidence: the EWMA of D's margin, mean
    sigmoid(D(x)) - mean sigmoid(D(G(z))), above ``margin_min`` for ``patience_steps``
    while the samples stay diverse (pdist ratio >= 0.3): D keeps winning and G does not
    catch up. Off by default (``margin_min=None``): on the benchmark's non-convergence
    configuration the outcomes at 1,200 steps do not separate it from slow healthy
    training, so it could not be calibrated (docs/detectors.md).
    """

    name = "non_convergence"
    params: ClassVar[dict[str, Any]] = {
        "hop_window": 4,
        "hop_fraction": 0.75,
        "hop_coverage_max": 0.25,
        "hop_share_min": 0.5,
        "shift_min": 0.5,
        "warmup_steps": 500,
        "cosine_max": None,
        "margin_min": None,
        "smooth_steps": 100,
        "patience_steps": 200,
        "min_records": 5,
    }
    requires_any = ((S.EVAL_DOMINANT_MODE, S.COVERAGE_FAKE_SHIFT, S.update_cosine("G")),)
    provided_by_groups = (
        Advice(
            "log eval/dominant_mode (and eval/modes_covered or eval/classes_covered) with "
            "Monitor.log_scalars at each periodic evaluation, as gandiag.train does, or "
            "pass real= batches to Monitor.step with Cadence(coverage=N) > 0",
            "the trainer logs eval/dominant_mode at each evaluation of data with known modes "
            "(2-D mixtures, glyphs); set eval.every > 0 in the config for more than one",
        ),
    )

    State = NonConvergenceState

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        fired: tuple[int, str, dict[str, float]] | None = None
        mode = record.get(S.EVAL_DOMINANT_MODE)
        if finite(mode) and record.step >= self.cfg["warmup_steps"]:
            window = int(self.cfg["hop_window"])
            conc = eval_concentrated(
                record, self.cfg["hop_share_min"], self.cfg["hop_coverage_max"]
            )
            st["modes"] = (st["modes"] + [[int(record.step), int(mode), bool(conc)]])[
                -(window + 1) :
            ]
            if len(st["modes"]) > window and record.step >= self.cfg["warmup_steps"]:
                hops = sum(a[1] != b[1] for a, b in zip(st["modes"], st["modes"][1:]))
                low = all(c for _, _, c in st["modes"])
                if hops / window >= self.cfg["hop_fraction"] and low:
                    fired = (
                        st["modes"][0][0],
                        (
                            f"the dominant mode changed in {hops} of the last {window} evaluations "
                            "while the samples cover few modes at a time (mode hopping)"
                        ),
                        {
                            "hops": float(hops),
                            "window": float(window),
                            "hop_fraction_min": float(self.cfg["hop_fraction"]),
                        },
                    )
        fired = fired or self._coverage_hops(record)
        cos = record.get(_COSINE_G)
        if finite(cos) and self.cfg["cosine_max"] is not None:
            smooth(st, "cosine", cos, record.step, self.cfg["smooth_steps"])
            streak_update(st["streak"], st["cosine"] < self.cfg["cosine_max"], record.step)
            held = streak_held(
                st["streak"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
            )
            if held and record.step >= self.cfg["warmup_steps"] and fired is None:
                fired = (
                    st["streak"]["since"],
                    (
                        f"successive generator updates point in opposite directions "
                        f"(cosine {st['cosine']:.2f}): the players rotate around each other"
                    ),
                    {"update_cosine_G": st["cosine"], "cosine_max": float(self.cfg["cosine_max"])},
                )
        fired = fired or self._margin(record)
        return non_convergence_once(self, record.step, fired)

    def _coverage_hops(self, record: StepRecord) -> tuple[int, str, dict[str, float]] | None:
        """Mode hopping seen by the Monitor's label-free coverage probe."""
        shift = record.get(S.COVERAGE_FAKE_SHIFT)
        share = record.get(S.COVERAGE_TOP_BIN_SHARE)
        if not (finite(shift) and finite(share)) or record.step < self.cfg["warmup_steps"]:
            return None
        st, window = self.state, int(self.cfg["hop_window"])
        hop = shift >= self.cfg["shift_min"]
        conc = share >= self.cfg["hop_share_min"]
        # one entry per evaluation: [step, moved since the previous one, concentrated]
        st["shifts"] = (st["shifts"] + [[int(record.step), bool(hop), bool(conc)]])[-window:]
        if len(st["shifts"]) < window:
            return None
        hops = sum(h for _, h, _ in st["shifts"])
        if hops / window < self.cfg["hop_fraction"] or not all(c for _, _, c in st["shifts"]):
            return None
        return (
            st["shifts"][0][0],
            (
                f"the generated samples moved to other regions of the data in {hops} of the "
                f"last {window} coverage evaluations while piled on one region at a time "
                "(mode hopping, label-free)"
            ),
            {
                "hops": float(hops),
                "window": float(window),
                "hop_fraction_min": float(self.cfg["hop_fraction"]),
                "fake_shift": float(shift),
                "shift_min": float(self.cfg["shift_min"]),
                "top_bin_share": float(share),
                "hop_share_min": float(self.cfg["hop_share_min"]),
            },
        )

    def _margin(self, record: StepRecord) -> tuple[int, str, dict[str, float]] | None:
        st = self.state
        ratio = record.get(S.SAMPLES_PDIST_RATIO)
        if finite(ratio):
            smooth(st, "pdist", ratio, record.step, 50)
        p_real, p_fake = record.get(S.D_REAL_PROB_MEAN), record.get(S.D_FAKE_PROB_MEAN)
        if self.cfg["margin_min"] is None or not (finite(p_real) and finite(p_fake)):
            return None
        margin = p_real - p_fake
        smooth(st, "margin", margin, record.step, self.cfg["smooth_steps"])
        diverse = st["pdist"] is None or st["pdist"] >= 0.3
        diverse = diverse and record.step >= self.cfg["warmup_steps"]
        wins = st["margin"] > self.cfg["margin_min"] and diverse
        streak_update(st["margin_streak"], wins, record.step)
        streak_update(st["margin_raw"], margin > self.cfg["margin_min"] and diverse, record.step)
        held = held_with_raw(
            st["margin_streak"],
            st["margin_raw"],
            record.step,
            self.cfg["patience_steps"],
            self.cfg["min_records"],
        )
        if not held or record.step < self.cfg["warmup_steps"]:
            return None
        return (
            onset_of(st["margin_streak"], st["margin_raw"]),
            (
                f"D keeps winning (margin D(x)-D(G(z)) = {st['margin']:.2f}) while G's samples "
                "stay spread out without improving"
            ),
            {
                "d_margin": st["margin"],
                "pdist_ratio": st["pdist"] if st["pdist"] is not None else math.nan,
                "margin_min": float(self.cfg["margin_min"]),
            },
        )

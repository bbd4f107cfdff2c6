"""Divergence (non-finite values, exploding gradients) and stalled training."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import (
    Baseline,
    Streak,
    baseline_feed,
    finite,
    new_baseline,
    new_streak,
    streak_held,
    streak_update,
)
from gandiag.detectors.base import register_detector
from gandiag.detectors.names import signal_names
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord


def _grad_norms(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(net, "grad/<net>/norm")`` for each network with a gradient norm, by net name."""
    return tuple((net, S.grad_norm(net)) for net in S.nets_with_prefix(names, ""))


def _nonfinite_counts(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names that count non-finite values (``loss/nonfinite``, ``.../nonfinite``)."""
    return tuple(k for k in names if k == S.LOSS_NONFINITE or k.endswith("/nonfinite"))


def _losses(names: tuple[str, ...]) -> tuple[str, ...]:
    """The loss terms (``loss/*`` but the non-finite count), in record order."""
    return tuple(k for k in names if k.startswith("loss/") and k != S.LOSS_NONFINITE)


def _all_finite(values: Iterable[float]) -> bool:
    """True when every value is a finite number (a NaN or an infinity makes the sum one;
    a sum that overflows only sends the caller to its exact, slower check)."""
    try:
        return math.isfinite(sum(values))
    except TypeError:  # a None among the values: let the exact check sort it out
        return False


@dataclass
class NonFiniteState(DeclaredState):
    """State of :class:`NonFiniteDetector`."""

    last_bad: int | None = None  # step of the last non-finite record


@register_detector
class NonFiniteDetector(SignalDetector):
    """A NaN or Inf in any loss term, gradient or discriminator output, at the step it appears.

    Reads ``loss/*``, ``loss/nonfinite``, ``grad/<NET>/nonfinite`` (counted by the monitor
    before any sanitiser or clipping), ``grad/<NET>/norm`` and ``d/*/raw_mean``. No
    threshold: one non-finite value is a failure. After an alert the detector stays quiet
    until ``rearm_steps`` steps have passed with finite values, so a dead run alerts once.
    """

    name = "nonfinite"
    kinds = ("gan", "vae")
    params: ClassVar[dict[str, Any]] = {"rearm_steps": 100}
    requires_any = (("loss/*",),)
    provided_by_groups = (
        Advice(
            "pass losses={...} to Monitor.step",
            "the trainer logs its losses; nothing to set in the config",
        ),
    )
    reads = ("*/nonfinite", "loss/*", "grad/*", "d/*", "vae/*", "update/*", "weight/*")

    State = NonFiniteState

    def check(self, record: StepRecord) -> list[Alert]:
        bad: list[str] = []
        count = 0.0
        scalars = record.scalars
        if _all_finite(scalars.values()):
            # the usual record: only the counts of non-finite values can flag anything
            for key in signal_names(record).derive(_nonfinite_counts):
                value = scalars[key]
                if value > 0:
                    bad.append(key.rsplit("/nonfinite", 1)[0] or key)
                    count += value
        else:
            bad, count = self._scan(scalars)
        if not bad:
            return []
        return self._alert(record, bad, count)

    @staticmethod
    def _scan(scalars: Mapping[str, float]) -> tuple[list[str], float]:
        bad: list[str] = []
        count = 0.0
        for key, value in scalars.items():
            if key == S.LOSS_NONFINITE or key.endswith("/nonfinite"):
                if finite(value) and value > 0:
                    bad.append(key.rsplit("/nonfinite", 1)[0] or key)
                    count += value
                elif not finite(value):
                    bad.append(key)
            elif (
                key.startswith(("loss/", "grad/", "d/", "vae/", "update/", "weight/"))
                and value is not None
                and not math.isfinite(value)
            ):
                bad.append(key)
                count += 1
        return bad, count

    def _alert(self, record: StepRecord, bad: list[str], count: float) -> list[Alert]:
        last = self.state["last_bad"]
        self.state["last_bad"] = int(record.step)
        if last is not None and record.step - last < self.cfg["rearm_steps"]:
            return []
        bad = sorted(set(bad))
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        return [
            self.alert(
                Severity.CRITICAL,
                record.step,
                record.step,
                f"training diverged: non-finite values in {shown}",
                {
                    "nonfinite_signals": float(len(bad)),
                    "nonfinite_count": count,
                    "nonfinite_max": 0.0,
                },
                R.NONFINITE,
            )
        ]


class NetGrowth(TypedDict):
    """One network's gradient-norm baseline (log10) and how long it has stayed above it."""

    base: Baseline
    streak: Streak
    alerted: bool


@dataclass
class ExplodingGradientState(DeclaredState):
    """State of :class:`ExplodingGradientDetector`."""

    nets: dict[str, NetGrowth] = field(default_factory=dict)
    critic: Streak = field(default_factory=new_streak)
    critic_alerted: bool = False


@register_detector
class ExplodingGradientDetector(SignalDetector):
    """Gradient norms or critic outputs growing by orders of magnitude (divergence).

    Two kinds of evidence, each required on every measurement for ``patience_steps``:

    * the discriminator's (critic's) raw outputs, ``|d/real/raw_mean|`` or
      ``|d/fake/raw_mean|``, above ``critic_max``. A logit of 100 means a probability
      within e^-100 of 0 or 1, and healthy Wasserstein/hinge critics stay within
      O(10): values beyond ``critic_max`` only occur when nothing bounds the critic;
    * log10 ||grad NET|| above its median over the first ``baseline_records``
      measurements by ``decades`` (4 = 10,000x), or above ``max_norm`` if set. The
      baseline is taken from the first steps because explosions can start within
      twenty steps; ``decades`` is large because a non-saturating generator facing a
      strong D legitimately grows its gradient ~1,000x (the collapse runs of the
      benchmark) without diverging.
    """

    name = "exploding_gradients"
    kinds = ("gan", "vae")
    params: ClassVar[dict[str, Any]] = {
        "critic_max": 100.0,
        "baseline_records": 5,
        "decades": 4.0,
        "max_norm": None,
        "patience_steps": 20,
        "min_records": 3,
    }
    requires_any = (("grad/*/norm", "d/real/raw_mean"),)
    provided_by_groups = (
        Advice(
            "gradient norms are captured when Monitor gets generator=/discriminator=/model=; "
            "critic outputs when Monitor.step gets d_real= and d_fake=",
            "the trainer captures every network's gradient norms and D's outputs; nothing to set in the config",
        ),
    )
    reads = (S.D_REAL_RAW_MEAN, S.D_FAKE_RAW_MEAN, "grad/*/norm")

    State = ExplodingGradientState

    def check(self, record: StepRecord) -> list[Alert]:
        alerts = []
        scalars = record.scalars
        raw = [
            abs(v)
            for v in (scalars.get(S.D_REAL_RAW_MEAN), scalars.get(S.D_FAKE_RAW_MEAN))
            if finite(v)
        ]
        if raw:
            st = self.state
            big = max(raw)
            above = big > self.cfg["critic_max"]
            streak_update(st["critic"], above, record.step)
            # held needs the condition now (the streak restarts without it)
            held = above and streak_held(
                st["critic"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
            )
            if held and not st["critic_alerted"]:
                st["critic_alerted"] = True
                alerts.append(
                    self.alert(
                        Severity.CRITICAL,
                        record.step,
                        st["critic"]["since"],
                        f"the discriminator's outputs are diverging: |D(x)| reaches {big:.3g}, "
                        "nothing bounds the critic",
                        {"critic_abs_mean": big, "critic_max": float(self.cfg["critic_max"])},
                        R.EXPLODING,
                    )
                )
        nets = self.state["nets"]
        cfg = self.cfg
        for net, key in signal_names(record).derive(_grad_norms):
            value = scalars[key]
            if net not in nets:
                nets[net] = {"base": new_baseline(), "streak": new_streak(), "alerted": False}
            st = nets[net]
            if value is None or not (value > 0 and math.isfinite(value)):
                continue  # NaN is the nonfinite detector's; 0 is the stall detector's
            logv = math.log10(value)
            med = st["base"]["median"]
            if med is None:
                baseline_feed(st["base"], logv, int(cfg["baseline_records"]))
                med = st["base"]["median"]
            above = med is not None and logv - med >= cfg["decades"]
            cap = cfg["max_norm"]
            if cap is not None and value > cap:
                above = True
            streak_update(st["streak"], above, record.step)
            if st["alerted"] or not above:
                continue  # no alert to raise (one per network; none without the evidence)
            held = streak_held(st["streak"], record.step, cfg["patience_steps"], cfg["min_records"])
            if held and not st["alerted"]:
                st["alerted"] = True  # explosions rarely recover: one alert per network
                ratio = 10 ** (logv - med) if med is not None else math.inf
                alerts.append(
                    self.alert(
                        Severity.CRITICAL,
                        record.step,
                        st["streak"]["since"],
                        f"{net} gradients are exploding: ||grad {net}|| is {ratio:.3g}x its "
                        "initial level",
                        {
                            f"grad_{net}_norm": value,
                            "baseline_norm": 10**med if med is not None else math.nan,
                            "ratio": ratio,
                            "decades_min": float(self.cfg["decades"]),
                            "max_norm": math.nan
                            if self.cfg["max_norm"] is None
                            else float(self.cfg["max_norm"]),
                        },
                        R.EXPLODING,
                    )
                )
        return alerts


@dataclass
class StalledTrainingState(DeclaredState):
    """State of :class:`StalledTrainingDetector`."""

    last: dict[str, float] | None = None  # the previous record's losses
    prev_step: int | None = None
    streak: Streak = field(default_factory=new_streak)
    alerted: bool = False


@register_detector
class StalledTrainingDetector(SignalDetector):
    """Every loss term exactly constant (bit for bit) over ``patience_steps`` steps.

    Exact equality is the signature of a frozen optimiser (lr 0, detached graph, a
    ``requires_grad=False`` slip, a dead ReLU network): floating-point training never
    repeats a loss value exactly across many steps otherwise.
    """

    name = "stalled_training"
    kinds = ("gan", "vae")
    params: ClassVar[dict[str, Any]] = {"patience_steps": 100, "min_records": 10}
    requires_any = (("loss/*",),)
    provided_by_groups = (
        Advice(
            "pass losses={...} to Monitor.step",
            "the trainer logs its losses; nothing to set in the config",
        ),
    )
    reads = ("loss/*",)

    State = StalledTrainingState

    def check(self, record: StepRecord) -> list[Alert]:
        scalars = record.scalars
        losses = {k: float(scalars[k]) for k in signal_names(record).derive(_losses)}
        if not losses:
            return []
        last, prev_step = self.state["last"], self.state["prev_step"]
        # equal terms, all finite (a NaN repeated is no stall; ``==`` alone would count a
        # NaN object that is the same in both dicts as equal)
        same = last is not None and last == losses and all(map(math.isfinite, losses.values()))
        self.state["last"] = losses
        self.state["prev_step"] = int(record.step)
        if not same:
            self.state["streak"] = new_streak()
            self.state["alerted"] = False
            return []
        if self.state["streak"]["since"] is None:
            # the run of identical values began at the previous record
            self.state["streak"] = {"since": int(prev_step), "records": 1}
        streak_update(self.state["streak"], True, record.step)
        held = streak_held(
            self.state["streak"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
        )
        if not held or self.state["alerted"]:
            return []
        self.state["alerted"] = True
        terms = ", ".join(sorted(losses))
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                self.state["streak"]["since"],
                f"training has stalled: {terms} exactly constant for "
                f"{record.step - self.state['streak']['since']} steps",
                {k.replace("/", "_"): v for k, v in losses.items()}
                | {"patience_steps": float(self.cfg["patience_steps"])},
                R.STALLED,
            )
        ]

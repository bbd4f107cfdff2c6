"""Divergence (non-finite values, exploding gradients) and stalled training."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import (
    baseline_feed,
    finite,
    new_baseline,
    new_streak,
    streak_held,
    streak_update,
)
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.types import Alert, Severity, StepRecord


def _grad_norm_nets(record: StepRecord) -> list[str]:
    return S.nets_with_prefix(set(record.scalars), "")


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
    provided_by_groups = ("pass losses={...} to Monitor.step",)

    def initial_state(self) -> dict[str, Any]:
        return {"last_bad": None}

    def check(self, record: StepRecord) -> list[Alert]:
        bad: list[str] = []
        count = 0.0
        for key, value in record.scalars.items():
            if key == S.LOSS_NONFINITE or key.endswith("/nonfinite"):
                if finite(value) and value > 0:
                    bad.append(key.rsplit("/nonfinite", 1)[0] or key)
                    count += value
                elif not finite(value):
                    bad.append(key)
            elif key.startswith(("loss/", "grad/", "d/", "vae/", "update/", "weight/")):
                if value is not None and not math.isfinite(value):
                    bad.append(key)
                    count += 1
        if not bad:
            return []
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
                {"nonfinite_signals": float(len(bad)), "nonfinite_count": count},
                R.NONFINITE,
            )
        ]


@register_detector
class ExplodingGradientDetector(SignalDetector):
    """Gradient norms (per network) growing by orders of magnitude over their early level.

    The baseline is the median of log10 ||grad|| over the first ``baseline_records``
    measurements at or after ``baseline_start_step``. The alarm needs log10 ||grad|| above
    that median by ``decades`` (2 = 100x) on every measurement for ``patience_steps``
    steps, or above ``max_norm`` if the user sets one. Healthy runs move by well under a
    decade after their first hundred steps (see docs/detectors.md for the calibration).
    """

    name = "exploding_gradients"
    kinds = ("gan", "vae")
    params: ClassVar[dict[str, Any]] = {
        "baseline_start_step": 20,
        "baseline_records": 20,
        "decades": 2.0,
        "patience_steps": 50,
        "min_records": 3,
        "max_norm": None,
    }
    requires_any = (("grad/*/norm",),)
    provided_by_groups = ("gradient norms are captured when Monitor gets generator=/discriminator=/model=",)

    def initial_state(self) -> dict[str, Any]:
        return {"nets": {}}

    def check(self, record: StepRecord) -> list[Alert]:
        alerts = []
        for net in _grad_norm_nets(record):
            value = record.scalars[S.grad_norm(net)]
            st = self.state["nets"].setdefault(
                net, {"base": new_baseline(), "streak": new_streak(), "alerted": False}
            )
            if not finite(value) or value <= 0:
                continue  # NaN is the nonfinite detector's; 0 is the stall detector's
            logv = math.log10(value)
            if record.step >= self.cfg["baseline_start_step"]:
                baseline_feed(st["base"], logv, int(self.cfg["baseline_records"]))
            med = st["base"]["median"]
            above = med is not None and logv - med >= self.cfg["decades"]
            cap = self.cfg["max_norm"]
            if cap is not None and value > cap:
                above = True
            streak_update(st["streak"], above, record.step)
            held = streak_held(
                st["streak"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
            )
            if held and not st["alerted"]:
                st["alerted"] = True
                ratio = 10 ** (logv - med) if med is not None else math.inf
                alerts.append(
                    self.alert(
                        Severity.CRITICAL,
                        record.step,
                        st["streak"]["since"],
                        f"{net} gradients are exploding: ||grad {net}|| is {ratio:.3g}x its "
                        "early-training median",
                        {
                            f"grad_{net}_norm": value,
                            "baseline_norm": 10**med if med is not None else math.nan,
                            "ratio": ratio,
                        },
                        R.EXPLODING,
                    )
                )
            elif not above and st["alerted"] and st["streak"]["since"] is None:
                pass  # stays alerted: explosion rarely recovers, one alert per net is enough
        return alerts


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
    provided_by_groups = ("pass losses={...} to Monitor.step",)

    def initial_state(self) -> dict[str, Any]:
        return {"last": None, "prev_step": None, "streak": new_streak(), "alerted": False}

    def check(self, record: StepRecord) -> list[Alert]:
        losses = {
            k: float(v)
            for k, v in record.scalars.items()
            if k.startswith("loss/") and k != S.LOSS_NONFINITE
        }
        if not losses:
            return []
        last, prev_step = self.state["last"], self.state["prev_step"]
        same = last is not None and set(last) == set(losses) and all(
            finite(v) and v == last[k] for k, v in losses.items()
        )
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
                {k.replace("/", "_"): v for k, v in losses.items()},
                R.STALLED,
            )
        ]

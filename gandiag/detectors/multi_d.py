"""Several discriminators: one saturating while another still gives the generator signal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import Streak, finite, new_streak, smooth, streak_held, streak_update
from gandiag.detectors.base import register_detector
from gandiag.detectors.names import signal_names
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord


@dataclass
class DiscriminatorImbalanceState(DeclaredState):
    """State of :class:`DiscriminatorImbalanceDetector`."""

    ema: dict[str, dict[str, float]] = field(default_factory=dict)  # net -> smoothed probs
    streak: Streak = field(default_factory=new_streak)
    alerted: bool = False


@register_detector
class DiscriminatorImbalanceDetector(SignalDetector):
    """One of several discriminators saturated while another is not.

    Multi-scale and multi-discriminator GANs (pix2pixHD, MSG-GAN, GMAN) pool their
    discriminators' losses, so the pooled outputs can look healthy while one of them
    rejects every fake and passes G no gradient. Reads the per-discriminator summaries
    ``d/<NET>/{real,fake}/prob_mean`` (the Monitor writes them when ``d_real``/``d_fake``
    are dicts or lists; sigmoid discriminators). For each, the exponentially weighted
    means (``smooth_steps``) of its output on reals and fakes; a discriminator is
    saturated when its mean on fakes is below ``fake_prob_max`` and on reals above
    ``real_prob_min``, and working when its mean on fakes is above ``working_fake_min``.
    Fires when some discriminator is saturated and another working on every record for
    ``patience_steps`` after ``warmup_steps``.
    """

    name = "discriminator_imbalance"
    params: ClassVar[dict[str, Any]] = {
        "fake_prob_max": 0.05,
        "real_prob_min": 0.95,
        "working_fake_min": 0.2,
        "smooth_steps": 20,
        "warmup_steps": 100,
        "patience_steps": 50,
        "min_records": 3,
    }
    requires_any = (("d/*/fake/prob_mean",),)
    provided_by_groups = (
        Advice(
            "pass d_real= and d_fake= as dicts {name: outputs} (or lists) to Monitor.step, "
            "with Monitor(loss='bce')",
            "this detector compares several discriminators; the trainer passes them for "
            "models that have them: nothing to do for a model with one",
        ),
    )

    State = DiscriminatorImbalanceState
    reads = ("d/*/real/*", "d/*/fake/*")

    def check(self, record: StepRecord) -> list[Alert]:
        nets = signal_names(record).derive(S.d_nets)
        if len(nets) < 2:
            return []
        st, cfg = self.state, self.cfg
        for net in nets:
            r = record.get(S.d_net(net, "real", "prob_mean"))
            f = record.get(S.d_net(net, "fake", "prob_mean"))
            if not (finite(r) and finite(f)):
                continue
            ema = st["ema"].setdefault(net, {})
            smooth(ema, "real", r, record.step, cfg["smooth_steps"])
            smooth(ema, "fake", f, record.step, cfg["smooth_steps"])
        saturated = [
            n
            for n, e in st["ema"].items()
            if e.get("fake", 1.0) < cfg["fake_prob_max"]
            and e.get("real", 0.0) > cfg["real_prob_min"]
        ]
        working = [n for n, e in st["ema"].items() if e.get("fake", 0.0) > cfg["working_fake_min"]]
        cond = bool(saturated and working) and record.step >= cfg["warmup_steps"]
        streak_update(st["streak"], cond, record.step)
        if not streak_held(st["streak"], record.step, cfg["patience_steps"], cfg["min_records"]):
            if st["streak"]["since"] is None:
                st["alerted"] = False
            return []
        if st["alerted"]:
            return []
        st["alerted"] = True
        sat, ok = saturated[0], working[0]
        es, eo = st["ema"][sat], st["ema"][ok]
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                st["streak"]["since"],
                f"discriminator {sat} is saturated (D(G(z))={es['fake']:.3f}, D(x)={es['real']:.3f}) "
                f"while {ok} is not (D(G(z))={eo['fake']:.2f}): {sat} gives G almost no gradient",
                {
                    f"{sat}_fake_prob": es["fake"],
                    f"{sat}_real_prob": es["real"],
                    f"{ok}_fake_prob": eo["fake"],
                    "fake_prob_max": float(cfg["fake_prob_max"]),
                    "real_prob_min": float(cfg["real_prob_min"]),
                    "working_fake_min": float(cfg["working_fake_min"]),
                },
                R.DISCRIMINATOR_IMBALANCE,
            )
        ]

"""GAN detectors that read the discriminator: vanishing generator gradients, D overfitting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import (
    Baseline,
    Streak,
    baseline_feed,
    finite,
    held_with_raw,
    new_baseline,
    new_streak,
    onset_of,
    smooth,
    streak_held,
    streak_update,
)
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.roles import Role, networks_with_role
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord


def generator_grad_norm(record: StepRecord, generators: list[str]) -> float | None:
    """Total gradient norm over the networks playing the generator role (None: not measured)."""
    return _total_norm(record.scalars, [S.grad_norm(net) for net in generators])


def _total_norm(scalars: Mapping[str, float], keys: list[str]) -> float | None:
    total, seen = 0.0, False
    for key in keys:
        v = scalars.get(key)
        if v is None:
            continue
        if not finite(v):
            return None
        total, seen = total + v * v, True
    return math.sqrt(total) if seen else None


@dataclass
class VanishingGradientState(DeclaredState):
    """State of :class:`VanishingGradientDetector`."""

    base: Baseline = field(default_factory=new_baseline)  # of log10 |grad G|
    grad: float | None = None
    streak: Streak = field(default_factory=new_streak)
    alerted: bool = False


@register_detector
class VanishingGradientDetector(SignalDetector):
    """A saturated discriminator starving the generator of gradient.

    Fires when, on every measurement for ``patience_steps`` steps, D rejects fakes
    (mean sigmoid(D(G(z))) < ``fake_prob_max``), accepts reals (mean sigmoid(D(x)) >
    ``real_prob_min``) AND ||grad G|| has fallen below ``grad_drop`` times its level over
    the first ``baseline_records`` measurements (taken before D can saturate). The
    gradient condition separates the saturating loss, whose gradient scales with
    D(G(z)), from the non-saturating loss, which keeps G's gradient large under the same
    saturated D (then it is a mode-collapse or non-convergence story, not this one).
    """

    name = "vanishing_gradients"
    params: ClassVar[dict[str, Any]] = {
        "fake_prob_max": 0.05,
        "real_prob_min": 0.95,
        "grad_drop": 0.3,
        "baseline_records": 5,
        "patience_steps": 30,
        "min_records": 3,
    }
    requires_any = ((S.D_FAKE_PROB_MEAN,), ("grad/<generator>/norm",))
    provided_by_groups = (
        Advice(
            "pass d_real= and d_fake= to Monitor.step with Monitor(loss='bce') (sigmoid discriminators)",
            "this detector reads D's probabilities, which only the minimax and non-saturating "
            "losses give (gan.loss in the config); with another loss there is nothing to do",
        ),
        Advice(
            "the generators' gradient norms are captured for networks with the role "
            "'generator' (Monitor(generator=G) or networks={'netG': (G, 'generator')})",
            "the trainer records the generator's gradient norms; nothing to set in the config",
        ),
    )

    State = VanishingGradientState
    reads = (S.D_FAKE_PROB_MEAN, "grad/<generator>/norm")

    def bind(self, roles: Mapping[str, Role], stages: Mapping[str, str] | None = None) -> None:
        super().bind(roles, stages)
        self._generator_norms = [
            S.grad_norm(net) for net in networks_with_role(self.roles, Role.GENERATOR)
        ]

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        g = _total_norm(record.scalars, self._generator_norms)
        if g is not None and g > 0:
            if st["base"]["median"] is None:  # until the baseline is frozen
                baseline_feed(st["base"], math.log10(g), int(self.cfg["baseline_records"]))
            st["grad"] = g
        p_fake = record.get(S.D_FAKE_PROB_MEAN)
        if not finite(p_fake) or st["grad"] is None or st["base"]["median"] is None:
            return []
        p_real = record.get(S.D_REAL_PROB_MEAN)
        base = 10 ** st["base"]["median"]
        cond = (
            p_fake < self.cfg["fake_prob_max"]
            and (not finite(p_real) or p_real > self.cfg["real_prob_min"])
            and st["grad"] < self.cfg["grad_drop"] * base
        )
        streak_update(st["streak"], cond, record.step)
        if not cond:
            st["alerted"] = False  # re-arm once the discriminator lets go
            return []
        if not streak_held(
            st["streak"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
        ):
            return []
        if st["alerted"]:
            return []
        st["alerted"] = True
        return [
            self.alert(
                Severity.CRITICAL,
                record.step,
                st["streak"]["since"],
                f"generator gradients vanished: D rejects fakes (D(G(z))={p_fake:.3g}) and "
                f"||grad G|| is {st['grad'] / base:.2g}x its initial level",
                {
                    "d_fake_prob": p_fake,
                    "d_real_prob": p_real if finite(p_real) else math.nan,
                    "grad_G_norm": st["grad"],
                    "grad_G_initial": base,
                    "fake_prob_max": float(self.cfg["fake_prob_max"]),
                    "real_prob_min": float(self.cfg["real_prob_min"]),
                    "grad_drop": float(self.cfg["grad_drop"]),
                },
                R.VANISHING,
            )
        ]


@dataclass
class DiscriminatorOverfittingState(DeclaredState):
    """State of :class:`DiscriminatorOverfittingDetector`."""

    rv: float | None = None
    rv_step: int | None = None
    rt: float | None = None
    rt_step: int | None = None
    m_tr: float | None = None  # smoothed raw D outputs on train, validation and fake
    m_tr_step: int | None = None
    m_val: float | None = None
    m_val_step: int | None = None
    m_fk: float | None = None
    m_fk_step: int | None = None
    streak: Streak = field(default_factory=new_streak)
    raw: Streak = field(default_factory=new_streak)
    alerted: bool = False


@register_detector
class DiscriminatorOverfittingDetector(SignalDetector):
    """D memorising the training reals: held-out reals scored like fakes (r_v, Karras et al. 2020).

    r_v = (E[D(x_train)] - E[D(x_val)]) / (E[D(x_train)] - E[D(G(z))]) is 0 when D
    generalises and 1 when it treats held-out reals as fakes. The alarm needs the
    smoothed r_v (time constant ``smooth_steps``; the ratio of the exponentially weighted
    means of D on training reals, held-out reals and fakes when the monitor logs them,
    else the weighted mean of the per-batch ratio) above ``rv_max`` on every measurement
    for ``patience_steps`` steps after ``warmup_steps``. Without a held-out batch r_v is
    absent: the detector says so once, and uses r_t = E[sign D(x)] only if the user sets
    ``rt_max`` (ADA's target is 0.6; healthy runs often exceed it, so it is off by default).
    """

    name = "d_overfitting"
    params: ClassVar[dict[str, Any]] = {
        "rv_max": 0.4,
        "smooth_steps": 50,
        "warmup_steps": 200,
        "patience_steps": 100,
        "min_records": 5,
        "rt_max": None,
    }
    requires_any = ((S.D_RV,),)
    provided_by_groups = (
        Advice(
            "pass d_val= (D outputs on a held-out real batch) to Monitor.step to enable r_v",
            "set data.val_size (e.g. 256) in the config: the trainer then scores a held-out "
            "real batch and measures r_v",
        ),
    )

    State = DiscriminatorOverfittingState
    reads = (S.D_RV, S.D_RT)

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        tau = self.cfg["smooth_steps"]
        rv, rt = record.get(S.D_RV), record.get(S.D_RT)
        if finite(rt):
            smooth(st, "rt", rt, record.step, tau)
        if finite(rv):
            names = (S.D_REAL_RAW_MEAN, S.D_VAL_RAW_MEAN, S.D_FAKE_RAW_MEAN)
            m_tr, m_val, m_fk = (record.get(n) for n in names)
            if finite(m_tr) and finite(m_val) and finite(m_fk):
                # r_v of smoothed means: a per-batch ratio has a near-zero denominator now
                # and then (healthy glyph runs logged single-batch r_v of -35 and +11)
                tr = smooth(st, "m_tr", m_tr, record.step, tau)
                va = smooth(st, "m_val", m_val, record.step, tau)
                fk = smooth(st, "m_fk", m_fk, record.step, tau)
                st["rv"] = (tr - va) / (tr - fk) if abs(tr - fk) > 1e-6 else 0.0
            else:
                smooth(st, "rv", rv, record.step, tau)
            warm = record.step >= self.cfg["warmup_steps"]
            streak_update(st["raw"], warm and rv > self.cfg["rv_max"], record.step)
            cond = st["rv"] > self.cfg["rv_max"]
        elif self.cfg["rt_max"] is not None and finite(rt) and st["rv"] is None:
            cond = st["rt"] > self.cfg["rt_max"]
        else:
            return []
        cond = cond and record.step >= self.cfg["warmup_steps"]
        streak_update(st["streak"], cond, record.step)
        held = held_with_raw(
            st["streak"],
            st["raw"],
            record.step,
            self.cfg["patience_steps"],
            self.cfg["min_records"],
        )
        if not held:
            return []
        if st["alerted"]:
            return []
        st["alerted"] = True
        if st["rv"] is not None:
            what = f"held-out reals score like fakes (r_v={st['rv']:.2f} > {self.cfg['rv_max']})"
        else:
            what = (
                f"D is overconfident on training reals (r_t={st['rt']:.2f} > {self.cfg['rt_max']})"
            )
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                onset_of(st["streak"], st["raw"]),
                f"the discriminator is overfitting the training set: {what}",
                {
                    "r_v": st["rv"] if st["rv"] is not None else math.nan,
                    "r_t": st["rt"] if st["rt"] is not None else math.nan,
                    "rv_max": float(self.cfg["rv_max"]),
                    "rt_max": math.nan if self.cfg["rt_max"] is None else float(self.cfg["rt_max"]),
                },
                R.D_OVERFITTING,
            )
        ]

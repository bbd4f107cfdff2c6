"""VAE posterior collapse: latent dimensions the encoder stops using."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import Streak, finite, new_streak, smooth, streak_held, streak_update
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord


def kl_dims(record: StepRecord) -> list[float]:
    prefix = "vae/kl_dim/"
    items = [(int(k[len(prefix) :]), v) for k, v in record.scalars.items() if k.startswith(prefix)]
    return [v for _, v in sorted(items)]


@dataclass
class PosteriorCollapseState(DeclaredState):
    """State of :class:`PosteriorCollapseDetector`."""

    kl: float | None = None
    kl_step: int | None = None
    kl_dims: list[float] | None = None
    active: float | None = None
    streak: Streak = field(default_factory=new_streak)
    level: int = 0


@register_detector
class PosteriorCollapseDetector(SignalDetector):
    """Total or partial posterior collapse, and KL vanishing.

    A latent dimension is dead when the encoder's mean no longer varies with the input
    (active units, Burda et al. 2016: Var_x(E[z_j|x]) <= 0.01 on the monitor's probe
    batch) or when its KL to the prior, KL_j = E_x KL(q(z_j|x) || N(0, 1)), is below
    ``dead_kl`` nats (0.01, the same scale: a unit whose posterior mean varies by less
    than 0.1 standard deviations of the prior carries at most ~0.005 nats); the dead
    share is the larger of the two criteria's. The warm-up is ``warmup_fraction`` of the
    run's length when ``total_steps`` is given (the reference trainer gives it), else
    ``warmup_steps``. After the warm-up, for ``patience_steps``:
    all dimensions dead, or total KL below ``kl_total_min`` nats, is a CRITICAL total
    collapse; a dead share of at least ``partial_min`` is a WARNING partial collapse.
    """

    name = "posterior_collapse"
    kinds = ("vae",)
    params: ClassVar[dict[str, Any]] = {
        "dead_kl": 0.01,
        "kl_total_min": 0.05,
        "partial_min": 0.25,
        "smooth_steps": 20,
        "warmup_steps": 200,
        "warmup_fraction": 0.1,
        "total_steps": None,
        "patience_steps": 50,
        "min_records": 3,
    }
    requires_any = ((S.VAE_ACTIVE_FRACTION, "vae/kl_dim/*", S.VAE_KL),)
    provided_by_groups = (
        Advice(
            "pass mu= and logvar= to Monitor.step (Monitor(model=vae))",
            "the trainer passes mu and logvar of VAEs; nothing to set in the config",
        ),
    )

    State = PosteriorCollapseState

    def check(self, record: StepRecord) -> list[Alert]:
        st, tau = self.state, self.cfg["smooth_steps"]
        kl = record.get(S.VAE_KL)
        if finite(kl):
            smooth(st, "kl", kl, record.step, tau)
        dims = kl_dims(record)
        if dims and all(finite(v) for v in dims):
            # per-dimension KL arrives at the (sparser) sample cadence: keep the latest
            st["kl_dims"] = [float(v) for v in dims]
        active = record.get(S.VAE_ACTIVE_FRACTION)
        if finite(active):
            st["active"] = float(active)
        if not (finite(kl) or dims or finite(active)):
            return []
        dead = self._dead_share()
        total = (dead is not None and dead >= 1.0) or (
            st["kl"] is not None and st["kl"] < self.cfg["kl_total_min"]
        )
        partial = dead is not None and dead >= self.cfg["partial_min"]
        level = 2 if total else 1 if partial else 0
        streak_update(st["streak"], level > 0 and record.step >= self._warmup(), record.step)
        if not streak_held(
            st["streak"], record.step, self.cfg["patience_steps"], self.cfg["min_records"]
        ):
            if st["streak"]["since"] is None:
                st["level"] = 0
            return []
        if level <= st["level"]:
            return []  # already alerted at this level or higher
        st["level"] = level
        evidence = {
            "kl_total": st["kl"] if st["kl"] is not None else math.nan,
            "dead_share": dead if dead is not None else math.nan,
            "partial_min": float(self.cfg["partial_min"]),
            "kl_total_min": float(self.cfg["kl_total_min"]),
            "dead_kl": float(self.cfg["dead_kl"]),
        }
        if st["active"] is not None:
            evidence["active_fraction"] = st["active"]
        sens = record.get(S.VAE_DECODER_SENSITIVITY)
        if finite(sens):
            evidence["decoder_sensitivity"] = sens
        if level == 2:
            sev, what = (
                Severity.CRITICAL,
                "total posterior collapse: the latent code carries no information",
            )
        else:
            sev, what = (
                Severity.WARNING,
                f"partial posterior collapse: {dead:.0%} of the latent dimensions are dead",
            )
        return [
            self.alert(
                sev, record.step, st["streak"]["since"], what, evidence, R.POSTERIOR_COLLAPSE
            )
        ]

    def _warmup(self) -> float:
        total = self.cfg["total_steps"]
        if total is not None and total > 0:
            return float(self.cfg["warmup_fraction"]) * float(total)
        return float(self.cfg["warmup_steps"])

    def _dead_share(self) -> float | None:
        st = self.state
        shares = []
        if st["active"] is not None:
            shares.append(1.0 - st["active"])
        if st["kl_dims"]:
            dims = st["kl_dims"]
            shares.append(sum(v < self.cfg["dead_kl"] for v in dims) / len(dims))
        return max(shares) if shares else None

"""Conditioning augmentation (StackGAN's CA) that collapses to the prior or is switched off.

StackGAN draws its condition ``c ~ N(mu(t), sigma(t)^2)`` from the embedding ``t`` and
pulls that posterior towards ``N(0, I)`` with a KL term (Zhang et al. 2017). Two failures
sit at the two ends of that trade-off, read from the stepper's ``ca/*`` signals:

* **collapse** (the posterior-collapse logic of :mod:`gandiag.detectors.vae`): the KL of
  the CA posterior, summed over dimensions, falls below ``kl_total_min`` nats. The KL
  bounds the information ``c`` carries about the condition (I(t; c) <= E_t KL), so
  near 0 the generator and the matching-aware discriminator no longer see which class
  (or text) was asked for. Dead dimensions on their own are not a fault: the KL term is
  meant to push unused dimensions to the prior; they are reported as evidence.
* **too little information** (when the run logs ``ca/condition_nats``, the nats needed to
  tell its conditions apart, log K for K classes): the KL below ``info_fraction`` (0.5) of
  it. By the same bound, ``c`` then cannot identify the class, whatever the generator does
  (StackGAN-Pytorch's KL term is a mean over 128 dimensions; a heavier weight per nat
  squeezes the condition this way).
* **deterministic conditioning** (a notice, severity info): the mean sigma of the CA below
  ``sigma_min`` (the prior's is 1): augmentation removed or its variance collapsed, so each
  condition is one point. That is a setting, not a failure: the author calls CA "very
  important" (hanzhanggit/StackGAN#10) because with few images per text a point condition
  invites collapse within the condition, but the generator keeps its noise ``z``, and on
  glyphs a StackGAN-lite without CA kept 0.82 of the real within-class diversity and
  followed its class (docs/benchmarks.md, stackgan_failures). Whether samples collapsed is
  an outcome the mode-collapse and coverage detectors read from the samples; this detector
  only says the condition is deterministic, so their alert can be traced to it.

All are held for ``patience_steps`` after ``warmup_steps``; the warm-up restarts at each
phase (``phase/index``), because each StackGAN stage trains its own, freshly initialised CA.
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

_PREFIX = "ca/kl_dim/"
_CONDITIONS = ("collapse", "uninformative", "deterministic")


def _streaks() -> dict[str, Streak]:
    return {
        **{which: new_streak() for which in _CONDITIONS},
        **{"raw_" + which: new_streak() for which in _CONDITIONS},
    }


@dataclass
class ConditioningCollapseState(DeclaredState):
    """State of :class:`ConditioningCollapseDetector`."""

    kl: float | None = None  # smoothed KL (nats)
    kl_step: int | None = None
    sigma: float | None = None  # smoothed mean sigma
    sigma_step: int | None = None
    kl_dims: list[float] | None = None  # latest per-dimension KL
    needed: float | None = None  # nats needed to tell the conditions apart
    phase: float | None = None  # phase/index of the current stage
    phase_start: int = 0
    streaks: dict[str, Streak] = field(default_factory=_streaks)  # smoothed and raw_ per condition
    alerted: list[str] = field(default_factory=list)


@register_detector
class ConditioningCollapseDetector(SignalDetector):
    """CA posterior collapsed to the prior (KL ~ 0) or CA off / sigma ~ 0."""

    name: ClassVar[str] = "ca_collapse"
    requires_any = ((S.CA_KL, S.CA_SIGMA_MEAN),)
    provided_by_groups = (
        Advice(
            "log ca/kl (the conditioning augmentation's KL, nats) and ca/sigma_mean with "
            "Monitor.log_scalars(step, {...}) from a model that conditions through a CA module",
            "the stackgan model logs them; other models have no conditioning augmentation, so "
            "there is nothing to do",
        ),
    )
    params: ClassVar[dict[str, Any]] = {
        "kl_total_min": 0.05,
        "info_fraction": 0.5,
        "sigma_min": 0.05,
        "dead_kl": 0.01,
        "smooth_steps": 20,
        "warmup_steps": 100,
        "patience_steps": 100,
        "min_records": 3,
    }

    State = ConditioningCollapseState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        if new_phase(st, record.get(S.PHASE_INDEX), record.step):
            # a new stage, a new CA: start over
            st.update(kl=None, sigma=None, kl_dims=None, alerted=[])
            st["streaks"] = _streaks()
            st["kl_step"] = st["sigma_step"] = None
        kl, sigma = record.get(S.CA_KL), record.get(S.CA_SIGMA_MEAN)
        if finite(kl):
            smooth(st, "kl", kl, record.step, c["smooth_steps"])
        if finite(sigma):
            smooth(st, "sigma", sigma, record.step, c["smooth_steps"])
        dims = sorted(
            (int(k[len(_PREFIX) :]), v) for k, v in record.scalars.items() if k.startswith(_PREFIX)
        )
        if dims and all(finite(v) for _, v in dims):
            st["kl_dims"] = [float(v) for _, v in dims]
        needed = record.get(S.CA_CONDITION_NATS)
        if finite(needed) and needed > 0:
            st["needed"] = float(needed)
        if not (finite(kl) or finite(sigma)):
            return []
        warm = record.step - st["phase_start"] >= c["warmup_steps"]
        # (smoothed, raw) below threshold; the smoothed value decides, the raw one dates the onset
        conditions = {
            "collapse": (
                finite(kl) and st["kl"] is not None and st["kl"] < c["kl_total_min"],
                finite(kl) and kl < c["kl_total_min"],
            ),
            "uninformative": (
                finite(kl)
                and st["needed"] is not None
                and st["kl"] is not None
                and st["kl"] < c["info_fraction"] * st["needed"],
                finite(kl) and st["needed"] is not None and kl < c["info_fraction"] * st["needed"],
            ),
            "deterministic": (
                finite(sigma) and st["sigma"] is not None and st["sigma"] < c["sigma_min"],
                finite(sigma) and sigma < c["sigma_min"],
            ),
        }
        out = []
        for which, (bad, raw_bad) in conditions.items():
            streak, raw = st["streaks"][which], st["streaks"]["raw_" + which]
            streak_update(streak, bool(bad) and warm, record.step)
            streak_update(raw, bool(raw_bad) and warm, record.step)
            if not bad or which in st["alerted"]:
                continue
            if which == "uninformative" and (
                conditions["collapse"][0] or "collapse" in st["alerted"]
            ):
                continue  # the same failure, reported as the total collapse
            if not held_with_raw(streak, raw, record.step, c["patience_steps"], c["min_records"]):
                continue
            st["alerted"].append(which)
            out.append(self._alert(which, record.step, onset_of(streak, raw)))
        return out

    def _alert(self, which: str, step: int, since: int) -> Alert:
        st, c = self.state, self.cfg
        # only what was measured: without CA there is no KL to report
        evidence = {
            k: float(v)
            for k, v in (("ca_kl", st["kl"]), ("ca_sigma_mean", st["sigma"]))
            if v is not None
        }
        if st["kl_dims"]:
            dims = st["kl_dims"]
            evidence["dead_share"] = sum(v < c["dead_kl"] for v in dims) / len(dims)
        if which == "collapse":
            evidence["kl_total_min"] = float(c["kl_total_min"])
            return self.alert(
                Severity.CRITICAL,
                step,
                since,
                f"conditioning augmentation collapsed to its prior: KL {st['kl']:.3g} nats "
                f"(< {c['kl_total_min']}), so the condition carries almost no information and "
                "samples stop following it",
                evidence,
                R.CA_COLLAPSE,
            )
        if which == "uninformative":
            evidence["condition_nats"] = float(st["needed"])
            evidence["info_fraction"] = float(c["info_fraction"])
            return self.alert(
                Severity.WARNING,
                step,
                since,
                f"conditioning augmentation carries too little information: its KL "
                f"{st['kl']:.3g} nats bounds what c says about the condition, below "
                f"{c['info_fraction']:.0%} of the {st['needed']:.3g} nats needed to tell the "
                "conditions apart, so samples cannot follow the class",
                evidence,
                R.CA_COLLAPSE,
            )
        evidence["sigma_min"] = float(c["sigma_min"])
        return self.alert(
            Severity.INFO,
            step,
            since,
            f"conditioning is deterministic: mean CA sigma {st['sigma']:.3g} (< {c['sigma_min']}; "
            "the prior's is 1), so augmentation is off or collapsed and each condition is a "
            "single point; not a failure by itself (the noise z still varies samples), but "
            "the likely cause if samples of one condition collapse",
            evidence,
            R.CA_DETERMINISTIC,
        )

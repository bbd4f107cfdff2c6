"""Sample concentration from label-free coverage: any generator (GAN, VAE, flow...).

Reads the ``coverage/*`` signals the Monitor computes at its coverage cadence
(gandiag/monitor/coverage.py): k-means bins of a reservoir of real samples, and where a
fixed probe batch of the generator's samples falls among them. No labels and no
``eval/*`` logging are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import finite
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord


@dataclass
class SampleCoverageState(DeclaredState):
    """State of :class:`SampleCoverageDetector`."""

    evals: list[list[int | bool]] = field(default_factory=list)  # [step, held]
    alerted: bool = False


@register_detector
class SampleCoverageDetector(SignalDetector):
    """The samples piling into part of the data: partial or total mode collapse, label-free.

    At each coverage evaluation after ``warmup_steps`` the evidence holds when

    * ``coverage/top_bin_excess`` >= ``excess_min``: one k-means bin of the reals receives
      that much more of the probe fakes than of the reals (0.6 when 60% of the samples sit
      on one of 16 roughly equal bins); or
    * ``coverage/bins_missed`` >= ``missed_min``: bins holding that much of the real mass
      receive almost no fakes (under a quarter of their real share): modes dropped.

    It fires when the evidence held on ``patience_evals`` successive evaluations; the onset
    is the first of them. It re-arms after an evaluation without the evidence, so a
    collapse that recovers and returns is a new alert.

    Thresholds: under the null (fakes drawn like the reals) with the default 512 reals,
    256 fakes and 16 bins, top_bin_excess has a 99.9th percentile near 0.07 and
    bins_missed near 0.07 (a simulation, docs/detectors.md); healthy GANs and VAEs are
    not the null, so the defaults sit far above it, set to the smallest values with a
    false-alarm rate of at most 0.1 per 1,000 steps on the healthy calibration runs
    (docs/detectors.md, "Thresholds").
    """

    name = "sample_coverage"
    kinds = ("gan", "vae")
    params: ClassVar[dict[str, Any]] = {
        "excess_min": 0.3,
        "missed_min": 0.6,
        "warmup_steps": 500,
        "patience_evals": 2,
    }
    requires_any = ((S.COVERAGE_TOP_BIN_EXCESS,),)
    provided_by_groups = (
        Advice(
            "pass real= batches (GAN: and latent_dim= or fake=) to Monitor.step with "
            "Cadence(coverage=N) > 0 (the default is 250)",
            "set monitor.cadence.coverage > 0 in the config (the default is 250)",
        ),
    )

    State = SampleCoverageState
    reads = (S.COVERAGE_TOP_BIN_EXCESS, S.COVERAGE_BINS_MISSED)

    def check(self, record: StepRecord) -> list[Alert]:
        excess = record.get(S.COVERAGE_TOP_BIN_EXCESS)
        missed = record.get(S.COVERAGE_BINS_MISSED)
        if not (finite(excess) and finite(missed)) or record.step < self.cfg["warmup_steps"]:
            return []
        st = self.state
        held = excess >= self.cfg["excess_min"] or missed >= self.cfg["missed_min"]
        patience = max(1, int(self.cfg["patience_evals"]))
        st["evals"] = (st["evals"] + [[int(record.step), bool(held)]])[-patience:]
        if not held:
            st["alerted"] = False
            return []
        if st["alerted"] or len(st["evals"]) < patience or not all(h for _, h in st["evals"]):
            return []
        st["alerted"] = True
        if excess >= self.cfg["excess_min"]:
            share = record.get(S.COVERAGE_TOP_BIN_SHARE, excess)
            what = (
                f"{share:.0%} of the generator's samples fall in one region of the data "
                f"that holds {share - excess:.0%} of the real samples"
            )
        else:
            what = f"regions holding {missed:.0%} of the real data receive almost no samples"
        evidence = {
            "top_bin_excess": excess,
            "excess_min": float(self.cfg["excess_min"]),
            "bins_missed": missed,
            "missed_min": float(self.cfg["missed_min"]),
        }
        for key, name in (
            (S.COVERAGE_COVERAGE, "coverage"),
            (S.COVERAGE_RECALL, "recall"),
            (S.COVERAGE_NDB, "ndb_fraction"),
        ):
            v = record.get(key)
            if finite(v):
                evidence[name] = v
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                st["evals"][0][0],
                f"mode collapse (label-free coverage): {what}",
                evidence,
                R.MODE_COLLAPSE,
            )
        ]

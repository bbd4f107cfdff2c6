"""Core records that flow between the monitor, the detectors, the metrics and the run store.

Nothing here imports torch: the store, the detectors, the dashboard and the reports
work on these plain records.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, overload


@dataclass(frozen=True)
class Histogram:
    """Counts of values in ``len(counts)`` equal-width bins spanning ``[lo, hi]``.

    Values below ``lo`` land in the first bin and values above ``hi`` in the last,
    so ``sum(counts)`` is the number of finite values seen.
    """

    lo: float
    hi: float
    counts: tuple[int, ...]

    @property
    def edges(self) -> list[float]:
        n = len(self.counts)
        width = (self.hi - self.lo) / n
        return [self.lo + i * width for i in range(n + 1)]

    @property
    def total(self) -> int:
        return int(sum(self.counts))


@dataclass(frozen=True)
class StepRecord:
    """Everything the monitor measured at one training step.

    ``scalars`` maps a signal name (see :mod:`gandiag.signals`) to a float; a
    non-finite float is a legitimate value (a NaN loss is recorded as NaN).
    A signal absent from ``scalars`` was not measured at this step (cadence).
    """

    step: int
    scalars: Mapping[str, float] = field(default_factory=dict)
    histograms: Mapping[str, Histogram] = field(default_factory=dict)
    wall_time: float = 0.0

    @overload
    def get(self, name: str) -> float | None: ...
    @overload
    def get(self, name: str, default: float) -> float: ...
    @overload
    def get(self, name: str, default: float | None) -> float | None: ...
    def get(self, name: str, default: float | None = None) -> float | None:
        return self.scalars.get(name, default)


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


@dataclass(frozen=True)
class Alert:
    """A detector's finding: what went wrong, since when, the numbers, and what to do."""

    detector: str
    severity: Severity
    step: int
    onset_step: int
    diagnosis: str
    evidence: Mapping[str, float] = field(default_factory=dict)
    remedies: tuple[str, ...] = ()

    def one_line(self) -> str:
        ev = ", ".join(f"{k}={_fmt(v)}" for k, v in list(self.evidence.items())[:4])
        return (
            f"[{self.severity.value.upper()}] step {self.step} {self.detector}: "
            f"{self.diagnosis}" + (f" ({ev})" if ev else "")
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        d["remedies"] = list(self.remedies)
        d["evidence"] = dict(self.evidence)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        return cls(
            detector=str(d["detector"]),
            severity=Severity(d["severity"]),
            step=int(d["step"]),
            onset_step=int(d["onset_step"]),
            diagnosis=str(d["diagnosis"]),
            evidence={str(k): float(v) for k, v in dict(d.get("evidence", {})).items()},
            remedies=tuple(d.get("remedies", ())),
        )


@dataclass(frozen=True)
class MetricProtocol:
    """How a metric was computed, so two numbers are only compared when comparable."""

    feature_extractor: str
    weights_sha256: str | None = None
    preprocessing: str = ""  # e.g. "uint8 quantised, PIL bicubic resize to 299x299"
    num_real: int = 0
    num_fake: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)  # k, splits, subsets, seed, ...

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = dict(self.options)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricProtocol:
        return cls(
            feature_extractor=str(d.get("feature_extractor", "")),
            weights_sha256=d.get("weights_sha256"),
            preprocessing=str(d.get("preprocessing", "")),
            num_real=int(d.get("num_real", 0)),
            num_fake=int(d.get("num_fake", 0)),
            options=dict(d.get("options", {})),
        )


@dataclass(frozen=True)
class MetricResult:
    """One metric value with its uncertainty (std or half-width) and interval where known."""

    name: str  # "fid", "kid", "is", "precision", "recall", "density", "coverage", ...
    value: float
    protocol: MetricProtocol
    uncertainty: float | None = None
    interval: tuple[float, float] | None = None  # e.g. a 95% bootstrap interval
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "uncertainty": self.uncertainty,
            "interval": list(self.interval) if self.interval is not None else None,
            "step": self.step,
            "protocol": self.protocol.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricResult:
        interval = d.get("interval")
        return cls(
            name=str(d["name"]),
            value=float(d["value"]),
            uncertainty=None if d.get("uncertainty") is None else float(d["uncertainty"]),
            interval=None if interval is None else (float(interval[0]), float(interval[1])),
            step=None if d.get("step") is None else int(d["step"]),
            protocol=MetricProtocol.from_dict(d.get("protocol", {})),
        )


def _fmt(v: float) -> str:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    return f"{v:.4g}"

"""Scoring a branch from its run store: does the alert clear, what else fires, what it scores.

Reads only through :class:`gandiag.store.RunReader`, so a branch trained by a user's own
loop with a :class:`gandiag.Monitor` is scored exactly like one of the reference trainer.
Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gandiag import signals
from gandiag.store import RunReader
from gandiag.types import Severity

#: the quality measure of a branch, in order of preference: (name, scalar or metric, higher better)
QUALITY = (
    ("fid", "metric", False),
    (signals.EVAL_MODES_COVERED, "scalar", True),
    ("eval/classes_covered", "scalar", True),
    ("eval/hq_share", "scalar", True),
)
#: failures with an outcome of their own, measured before the generic quality above.
#: Posterior collapse is a code that carries no information: the low-rate, high-distortion
#: corner of the rate-distortion plane (Alemi et al. 2018, "Fixing a Broken ELBO"), so a
#: remedy is judged by the distortion (reconstruction NLL) it reaches. The generic measures
#: judge a VAE's samples, which on 2-D data with a fixed decoder sigma of 1 are blurred over
#: the plane (under 1% within 3 sigma of any mode): the mode count is a handful of stray
#: samples and changes from one draw to the next, whatever the code carries.
OUTCOME: dict[str, tuple[str, bool]] = {"posterior_collapse": (signals.VAE_RECON, False)}
#: a training scalar as an outcome: its mean over this last share of the branch's steps
TAIL_SHARE = 0.25


@dataclass
class BranchScore:
    name: str
    description: str
    run_dir: str
    cleared: bool  # the target detector raised no warning or critical alert in the branch
    target_alerts: list[str] = field(default_factory=list)
    other_findings: list[str] = field(default_factory=list)
    quality_name: str | None = None
    quality: float | None = None
    higher_is_better: bool = True
    last_step: int | None = None
    wall_s: float = 0.0
    improves_on_control: bool | None = None  # set by rank_branches

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_branch(
    name: str, description: str, run_dir: Path, detector: str, after_step: int, wall_s: float = 0.0
) -> BranchScore:
    """Score the run in ``run_dir`` on what happened after ``after_step`` (the fork)."""
    with RunReader(run_dir) as reader:
        alerts = [
            a
            for a in reader.read_alerts()
            if a.step > after_step and a.severity.rank >= Severity.WARNING.rank
        ]
        target = [a.one_line() for a in alerts if a.detector == detector]
        other = sorted({a.detector for a in alerts if a.detector != detector})
        quality_name, quality, higher = _outcome(reader, detector, after_step) or _quality(reader)
        return BranchScore(
            name=name,
            description=description,
            run_dir=str(run_dir),
            cleared=not target,
            target_alerts=target,
            other_findings=other,
            quality_name=quality_name,
            quality=quality,
            higher_is_better=higher,
            last_step=reader.last_step(),
            wall_s=wall_s,
        )


def _outcome(reader: RunReader, detector: str, after_step: int) -> tuple[str, float, bool] | None:
    """The failure's own outcome: the mean of its training scalar over the branch's tail
    (one step's value of a minibatch loss is noise; the tail is past any annealing)."""
    if detector not in OUTCOME:
        return None
    name, higher = OUTCOME[detector]
    if name not in set(reader.scalar_names()):
        return None
    series = reader.read_scalars([name])[name]
    values = [
        float(v) for s, v in zip(series.steps, series.values) if s > after_step and math.isfinite(v)
    ]
    if not values:
        return None
    tail = values[-max(1, int(len(values) * TAIL_SHARE)) :]
    return name, sum(tail) / len(tail), higher


def _quality(reader: RunReader) -> tuple[str | None, float | None, bool]:
    names = set(reader.scalar_names())
    for name, source, higher in QUALITY:
        if source == "metric":
            results = [m for m in reader.read_metrics(name) if not math.isnan(m.value)]
            if results:
                return name, float(results[-1].value), higher
        elif name in names:
            series = reader.read_scalars([name])[name]
            values = [float(v) for v in series.values if not math.isnan(v)]
            if values:
                return name, values[-1], higher
    return None, None, True


def rank_branches(scores: list[BranchScore], control: str = "control") -> list[BranchScore]:
    """Best first: the alert cleared, fewest other findings, then the better quality.

    Each remedy is also marked ``improves_on_control`` when its quality beats the
    control's (strictly; None when either has no quality measure).
    """
    base = next((s for s in scores if s.name == control), None)
    for s in scores:
        if s.name == control or base is None or s.quality is None or base.quality is None:
            continue
        s.improves_on_control = (
            s.quality > base.quality if s.higher_is_better else s.quality < base.quality
        )

    def key(s: BranchScore) -> tuple[Any, ...]:
        if s.quality is None or math.isnan(s.quality):
            oriented = math.inf
        else:
            oriented = -s.quality if s.higher_is_better else s.quality
        return (not s.cleared, len(s.other_findings), oriented)

    return sorted(scores, key=key)

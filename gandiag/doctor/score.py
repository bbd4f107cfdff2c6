"""Scoring a branch from its run store: does the alert clear, what else fires, what it scores.

Reads only through :class:`gandiag.store.RunReader`, so a branch trained by a user's own
loop with a :class:`gandiag.Monitor` is scored exactly like one of the reference trainer.
Nothing here imports torch.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gandiag import signals
from gandiag.store import RunReader
from gandiag.types import Severity

log = logging.getLogger(__name__)

#: the quality measure of a branch, in order of preference: (name, scalar or metric, higher better)
QUALITY = (
    ("fid", "metric", False),
    # video models: the Fréchet distance of the bundled video network's features
    # (gandiag.features.video.fvd_lite), which sees motion; a class count cannot
    ("fvd_lite", "metric", False),
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
#: Looping and flicker are defined on the held-out clips' own measures (the video
#: evaluation's recurrence excess and temporal coherence ratio, the detectors' and the
#: video benchmark's outcomes): a loop of real-looking frames, or frames each drawn well
#: but anew, can score an FVD-lite near a healthy run's at these sizes (the looping
#: configuration's control 47.0 against 48.3 for the branch that cleared it), so those
#: remedies are judged by the measure the failure spoils. ``frozen_video`` keeps FVD-lite:
#: its measure, the motion ratio, is no better past the reals' (a clip jumping about moves
#: more), and FVD-lite separates frozen clips from moving ones.
OUTCOME: dict[str, tuple[str, bool]] = {
    "posterior_collapse": (signals.VAE_RECON, False),
    "looping_video": (signals.EVAL_RECURRENCE_EXCESS, False),
    "temporal_flicker": (signals.EVAL_COHERENCE_RATIO, True),
}
#: The image-to-image failures are each defined on one probe measure per generator
#: (``translation/<NET>/<signal>``: PSNR gain over bicubic for super-resolution, the share
#: of outputs that keep the input's class, the outputs' progress toward the target domain,
#: their correlation with the input, the cycle's sensitivity to a blur): a branch is judged
#: by that measure (:func:`probe_outcome`), since FID of the outputs against the target
#: domain cannot see a translation that looks right but drops its input (a copy of a real
#: target image scores well).
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
    #: "cleared" was judged from this step on (the detector replayed over the branch's
    #: second half); None: over the whole branch (the alerts it recorded)
    judged_from: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_branch(
    name: str,
    description: str,
    run_dir: Path,
    detector: str,
    after_step: int,
    wall_s: float = 0.0,
    judge_from: int | None = None,
) -> BranchScore:
    """Score the run in ``run_dir`` on what happened after ``after_step`` (the fork).

    The alert counts as cleared when the branch raised none after the fork; with
    ``judge_from``, when the alert's detector, replayed from a fresh state over the
    branch's records from that step on (its warm-up counted as passed), raises none: a
    branch that starts from the initialisation lives through the untrained phase again,
    where the failure's symptom (no better than bicubic, the input's class lost) holds
    for any run, so what counts is whether the failure is there once the remedy had as
    long as the failure took to show. A detector that cannot be rebuilt from the run's
    record (one registered by a user's script) falls back to the recorded alerts.
    """
    with RunReader(run_dir) as reader:
        alerts = [
            a
            for a in reader.read_alerts()
            if a.step > after_step and a.severity.rank >= Severity.WARNING.rank
        ]
        target = [a.one_line() for a in alerts if a.detector == detector]
        other = sorted({a.detector for a in alerts if a.detector != detector})
        quality_name, quality, higher = _outcome(reader, detector, after_step) or _quality(reader)
        fires = _fires_from(reader, detector, judge_from) if judge_from is not None else None
        return BranchScore(
            name=name,
            description=description,
            run_dir=str(run_dir),
            cleared=not target if fires is None else not fires,
            judged_from=judge_from if fires is not None else None,
            target_alerts=target,
            other_findings=other,
            quality_name=quality_name,
            quality=quality,
            higher_is_better=higher,
            last_step=reader.last_step(),
            wall_s=wall_s,
        )


def judge_by_recorded_alerts_if_replay_is_blind(
    scores: list[BranchScore], control: str = "control"
) -> list[BranchScore]:
    """Fall back to the recorded alerts where the second-half replay cannot see the failure.

    The replay starts the detector from a fresh state at ``judged_from``. A detector that
    measures against the run's own early level (``w_collapse``: the std of w against its
    first records) then takes the failed state as its baseline and stays quiet on a run
    still in failure. The control shows it: it raised the alert after the fork (recorded)
    yet "cleared" in the replay. Then every branch is judged by its recorded alerts after
    the fork instead, so the control and the remedies are judged alike.
    """
    ctrl = next((s for s in scores if s.name == control), None)
    if ctrl is None or ctrl.judged_from is None or not ctrl.cleared or not ctrl.target_alerts:
        return scores
    log.warning(
        "the control raised its alert after the fork but not in the replay of its second "
        "half (the detector measures against the branch's own start): judging every "
        "branch by the alerts it recorded after the fork"
    )
    return [replace(s, cleared=not s.target_alerts, judged_from=None) for s in scores]


def _fires_from(reader: RunReader, detector: str, start: int) -> bool | None:
    """Whether ``detector``, as the run recorded it but from a fresh state at ``start``
    (no warm-up), raises a warning or critical alert on the records from ``start`` on;
    None when the run did not record it or it is not registered here."""
    from gandiag.detectors import DetectorSuite

    spec = [e for e in (reader.meta("detectors") or []) if e.get("name") == detector]
    if not spec:
        return None
    no_warmup = {"warmup_steps": 0} if "warmup_steps" in spec[0].get("params", {}) else {}
    try:
        suite = DetectorSuite.from_spec(spec, {detector: no_warmup} if no_warmup else None)
    except (KeyError, ValueError):
        return None
    suite.bind(reader.meta("networks"))
    for record in reader.read_records(since_step=start - 1):
        if any(a.severity.rank >= Severity.WARNING.rank for a in suite.update(record)):
            return True
    return False


def probe_outcome(detector: str) -> tuple[str, bool] | None:
    """The quantity a detector of per-generator probe signals compares with its threshold,
    by the name the detector gives it (``watched_name``: ``translation/*/<signal>``, or how
    it combines several), and whether higher is better (the detector alerts when the
    quantity falls below its threshold); None for a detector that does not say what it
    watches per generator."""
    from gandiag.detectors import DETECTORS

    cls = DETECTORS.get(detector)
    name = getattr(cls, "watched_name", None)
    if not callable(name) or not callable(getattr(cls, "watched", None)):
        return None
    return str(name()), bool(getattr(cls, "below", True))


def _watcher(reader: RunReader, detector: str) -> Any:
    """The detector as the run recorded it (its parameters), or with its defaults where the
    run did not record it: whose ``watched`` gives the quantity it alerts on."""
    from gandiag.detectors import DetectorSuite

    spec = [e for e in (reader.meta("detectors") or []) if e.get("name") == detector]
    try:
        suite = DetectorSuite.from_spec(spec or [{"name": detector}])
    except (KeyError, ValueError):
        suite = DetectorSuite.from_spec([{"name": detector}])
    suite.bind(reader.meta("networks"))
    return suite.detectors[0]


def _tail_mean(values: list[float]) -> float:
    tail = values[-max(1, int(len(values) * TAIL_SHARE)) :]
    return sum(tail) / len(tail)


def _outcome(reader: RunReader, detector: str, after_step: int) -> tuple[str, float, bool] | None:
    """The failure's own outcome: the mean of its measure over the branch's tail (one step's
    value of a minibatch loss or a probe is noise; the tail is past any annealing). A
    measure with one value per generator gives the worst generator's mean: a remedy must
    mend every generator the failure can hit. A probe detector's measure is what it
    compares with its threshold, asked of the detector record by record, so a branch is
    judged by the quantity that raised the alert (the steganography detector's largest
    gain of its family, not one member)."""
    if detector in OUTCOME:
        pattern, higher = OUTCOME[detector]
        per_net: dict[str, list[float]] = {}
        for name in fnmatch.filter(reader.scalar_names(), pattern):
            series = reader.read_scalars([name])[name]
            per_net[name] = [
                float(v)
                for s, v in zip(series.steps, series.values)
                if s > after_step and math.isfinite(v)
            ]
    else:
        probe = probe_outcome(detector)
        if probe is None:
            return None
        pattern, higher = probe
        watcher = _watcher(reader, detector)
        per_net = {}
        for record in reader.read_records(since_step=after_step):
            for net, v in watcher.watched(record).items():
                per_net.setdefault(net, []).append(v)
    means = [_tail_mean(values) for values in per_net.values() if values]
    if not means:
        return None
    return pattern, (min(means) if higher else max(means)), higher


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


def rank_branches(
    scores: list[BranchScore], control: str = "control", order: Sequence[str] | None = None
) -> list[BranchScore]:
    """Best first: the alert cleared, fewest other findings, then the better quality.

    Branches that tie on all three (a count such as modes covered often does: 1 against
    1) are ranked by ``order``, the order practitioners try the remedies in (the
    catalogue's: the first is the one named first for the failure, and the later ones are
    the bigger changes: another loss, new networks); the control comes before the remedies
    it ties with, since scoring the same as changing nothing is no evidence for a change.
    Without ``order`` the tied branches keep their given order.

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
    rank = {name: i for i, name in enumerate(order or ())}

    def key(s: BranchScore) -> tuple[Any, ...]:
        if s.quality is None or math.isnan(s.quality):
            oriented = math.inf
        else:
            oriented = -s.quality if s.higher_is_better else s.quality
        tie = -1 if s.name == control else rank.get(s.name, len(rank))
        return (not s.cleared, len(s.other_findings), oriented, tie)

    return sorted(scores, key=key)

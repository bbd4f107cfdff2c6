"""Plain-text summaries of a run shared by the dashboard and the reports: verdicts, alert
groups, metric formatting. No plotly, no HTML: callers escape for their medium."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gandiag.figures.directions import direction_mark
from gandiag.figures.findings import Finding
from gandiag.types import Alert, MetricProtocol, MetricResult, Severity

SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
STATUS_COLORS = {
    "training": "#1f77b4",
    "finished": "#2ca02c",
    "crashed": "#d62728",
    "no steps": "#7f7f7f",
}
#: colour of a run verdict's level (RunSummary.level; "error" for a run that cannot be read)
LEVEL_COLORS = {
    "ok": "#2ca02c",
    "info": "#1f77b4",
    "warning": "#ff7f0e",
    "critical": "#d62728",
    "empty": "#7f7f7f",
    "crashed": "#d62728",
    "error": "#d62728",
}


@dataclass(frozen=True)
class AlertGroup:
    """All alerts of one detector: a long run repeats an alert every flush, a reader wants one line."""

    detector: str
    severity: Severity  # the worst seen
    count: int
    onset_step: int  # earliest onset
    last_step: int
    latest: Alert  # its evidence and remedies are the ones shown


@dataclass(frozen=True)
class RunSummary:
    name: str
    kind: str
    status: str
    last_step: int | None
    num_steps: int
    alert_counts: Mapping[str, int]
    groups: Sequence[AlertGroup]
    latest_metrics: Mapping[str, MetricResult]
    verdict: str
    level: str  # "ok", "info", "warning", "critical", "empty", "crashed"
    config: Mapping[str, object] = field(default_factory=dict)
    findings: Sequence[Finding] = ()
    checked: Sequence[str] = ()
    not_checked: Sequence[str] = ()
    latest_eval: Mapping[str, tuple[int, float]] = field(default_factory=dict)


def group_alerts(alerts: Iterable[Alert]) -> list[AlertGroup]:
    """One group per detector, worst severity first, then by onset."""
    by_det: dict[str, list[Alert]] = {}
    for a in alerts:
        by_det.setdefault(a.detector, []).append(a)
    groups = []
    for det, items in by_det.items():
        worst = max(items, key=lambda a: a.severity.rank).severity
        latest = max(items, key=lambda a: (a.step, a.severity.rank))
        groups.append(
            AlertGroup(
                detector=det,
                severity=worst,
                count=len(items),
                onset_step=min(a.onset_step for a in items),
                last_step=max(a.step for a in items),
                latest=latest,
            )
        )
    groups.sort(key=lambda g: (-g.severity.rank, g.onset_step, g.detector))
    return groups


def alert_counts(alerts: Iterable[Alert]) -> dict[str, int]:
    counts = {s.value: 0 for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)}
    for a in alerts:
        counts[a.severity.value] += 1
    return counts


def latest_metrics(results: Iterable[MetricResult]) -> dict[str, MetricResult]:
    """The last stored result of each metric name (stored order, i.e. the newest evaluation)."""
    out: dict[str, MetricResult] = {}
    for r in results:
        out[r.name] = r
    return out


def verdict(
    status: str,
    num_steps: int,
    last_step: int | None,
    groups: Sequence[AlertGroup],
    *,
    findings: Sequence[Finding] = (),
    checked: Sequence[str] | None = None,
    not_checked: Sequence[str] = (),
    ended: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """A one-sentence verdict and its level, the first thing a report or a run page shows.

    It states the worst finding (a detector's alert, or what the latest evaluation found:
    see :mod:`gandiag.figures.findings`), and, when ``checked`` is given, what was checked
    and what was not, so "nothing found" is never read as "nothing wrong". ``ended``
    (detector -> what the latest evaluation shows instead;
    :func:`gandiag.figures.findings.ended_failures`) names failures that a later
    evaluation no longer shows: they are reported as past ("Recovered", a warning) and do
    not make the run "Failing" on their own.
    """
    if num_steps == 0:
        return "No steps recorded yet: the page fills in once the first steps are flushed.", "empty"
    ended = dict(ended or {})
    past = [g for g in groups if g.detector in ended and g.severity.rank >= Severity.WARNING.rank]
    groups = [g for g in groups if g not in past]
    worst = groups[0] if groups else None
    lead = ""
    if status == "crashed":
        lead = f"Crashed: the writer stopped at step {last_step} without closing the run. "
    elif status == "training":
        lead = f"Still training (step {last_step}). "
    serious = [f for f in findings if f.severity.rank >= Severity.WARNING.rank]
    alert_rank = worst.severity.rank if worst is not None else -1
    top_rank = max([alert_rank] + [f.severity.rank for f in serious])
    recovered = "; ".join(
        f"{g.latest.diagnosis} ({g.detector}, steps {g.onset_step}-{g.last_step}); "
        f"{ended[g.detector]}"
        for g in past
    )
    if top_rank < Severity.WARNING.rank and past:
        text = f"Recovered: {recovered}"
        level = "warning"
    elif top_rank < Severity.WARNING.rank:
        extra = f" ({worst.count} informational alert(s))" if worst else ""
        what = "found by the checks that ran" if checked is not None else "detected"
        text = f"No failure {what} over {num_steps} recorded steps{extra}"
        level = "info" if worst else "ok"
    else:
        word = "Failing" if top_rank >= Severity.CRITICAL.rank else "Needs attention"
        parts = []
        if worst is not None and worst.severity.rank >= Severity.WARNING.rank:
            others = [g for g in groups[1:] if g.severity.rank >= Severity.WARNING.rank]
            # name them: a failure that began later (a video freezing after its samples
            # collapsed) is easily lost behind a count
            more = (
                "; also "
                + ", ".join(f"{g.detector} from step {g.onset_step}" for g in others[:3])
                + (f" and {len(others) - 3} more" if len(others) > 3 else "")
                if others
                else ""
            )
            parts.append(
                f"{worst.latest.diagnosis} ({worst.detector}, from step {worst.onset_step}{more})"
            )
        for f in serious:
            at = f" at step {f.step}" if f.step is not None else ""
            parts.append(f"{f.text} (evaluation{at})")
        if past:
            parts.append(f"recovered since: {recovered}")
        text = f"{word}: " + "; ".join(parts)
        level = Severity.CRITICAL.value if top_rank >= Severity.CRITICAL.rank else "warning"
    if checked is not None:
        text += f"; checked: {', '.join(checked) or 'nothing'}"
        if not_checked:
            text += f"; not checked: {', '.join(not_checked)}"
    text += "."
    if status == "crashed":
        level = "crashed" if level in ("ok", "info") else level
    return lead + text, level


def format_value(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "–"
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.{digits}g}"


def format_metric(r: MetricResult) -> str:
    """``12.3 ± 0.4 [11.6, 13.1]``: value, uncertainty and interval where known."""
    text = format_value(r.value)
    if r.uncertainty is not None:
        text += f" ± {format_value(r.uncertainty, 2)}"
    if r.interval is not None:
        text += f" [{format_value(r.interval[0])}, {format_value(r.interval[1])}]"
    return text


def format_protocol(p: MetricProtocol) -> str:
    """The protocol in one line, so a reader sees whether two numbers are comparable."""
    parts = [p.feature_extractor or "unknown features"]
    if p.num_real or p.num_fake:
        parts.append(f"{p.num_real} real / {p.num_fake} fake")
    if p.preprocessing:
        parts.append(p.preprocessing)
    if p.options:
        parts.append(", ".join(f"{k}={v}" for k, v in sorted(p.options.items())))
    if p.weights_sha256:
        parts.append(f"weights {p.weights_sha256[:12]}")
    return "; ".join(parts)


def protocol_key(p: MetricProtocol) -> tuple:
    """What must match for two results to be comparable (extractor, weights, sample sizes)."""
    return (p.feature_extractor, p.weights_sha256, p.preprocessing, p.num_real, p.num_fake)


METRIC_COLUMNS = ("metric", "value ± unc. [interval]", "step", "protocol")
MIXED_PROTOCOLS = (
    "These runs' metrics were computed with different protocols (feature extractor, weights "
    "or sample sizes): compare their numbers with care."
)


def metric_rows(metrics: Mapping[str, MetricResult]) -> list[list[str]]:
    """One row per metric, in :data:`METRIC_COLUMNS` order, sorted by name."""
    return [
        [
            f"{name} {direction_mark(name)}".rstrip(),
            format_metric(r),
            "–" if r.step is None else str(r.step),
            format_protocol(r.protocol),
        ]
        for name, r in sorted(metrics.items())
    ]


@dataclass(frozen=True)
class SideBySide:
    """Several runs' metrics as one table: a column per run, plus each run's protocol."""

    columns: list[str]  # "metric", then the run names
    rows: list[list[str]]
    protocol_rows: list[list[str]]  # [run, protocol]
    mixed_protocols: bool  # the runs' numbers were computed differently


def side_by_side(metrics_by_run: Mapping[str, Mapping[str, MetricResult]]) -> SideBySide:
    names = sorted({n for m in metrics_by_run.values() for n in m})
    runs = list(metrics_by_run)
    rows = [
        [f"{n} {direction_mark(n)}".rstrip()]
        + [format_metric(metrics_by_run[r][n]) if n in metrics_by_run[r] else "–" for r in runs]
        for n in names
    ]
    # mixed: some metric computed one way in one run and another way in another (a run's
    # metrics may differ among themselves: a video run's fvd_lite and frame_fid use
    # different networks, and so do the same two in the run it is compared with)
    mixed = any(
        len({protocol_key(ms[n].protocol) for ms in metrics_by_run.values() if n in ms}) > 1
        for n in names
    )
    protos = [[r, _run_protocols(ms)] for r, ms in metrics_by_run.items()]
    return SideBySide(["metric", *runs], rows, protos, mixed)


def _run_protocols(metrics: Mapping[str, MetricResult]) -> str:
    """A run's protocol; where its metrics were computed in several ways, each with the
    names of the metrics computed so."""
    groups: dict[tuple, tuple[MetricProtocol, list[str]]] = {}
    for name in sorted(metrics):
        proto = metrics[name].protocol
        groups.setdefault(protocol_key(proto), (proto, []))[1].append(name)
    if len(groups) <= 1:
        return next((format_protocol(p) for p, _ in groups.values()), "–")
    return " | ".join(f"{', '.join(names)}: {format_protocol(p)}" for p, names in groups.values())


def format_evidence(evidence: Mapping[str, float]) -> list[tuple[str, str]]:
    return [(str(k), format_value(v)) for k, v in evidence.items()]


def format_config(config: Mapping[str, object], limit: int = 60) -> list[tuple[str, str]]:
    """Flattened ``key = value`` pairs (nested dicts as ``a.b``), at most ``limit`` of them."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, obj: object) -> None:
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out.append((prefix, str(obj)))

    walk("", dict(config))
    return out[:limit]

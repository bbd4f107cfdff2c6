"""Which run is better, and why: a statement per metric and one overall.

Each metric has a better direction (:func:`gandiag.figures.directions.direction_of`); a run
wins a metric only when its interval does not overlap the others' (or, with no interval
stored, by its value alone, said so). Metrics computed under different protocols
(extractor, weights, sample sizes), or by runs trained on different datasets (their
reference sets differ), are not compared. Runs without FID (2-D data) are compared on what
they have: the periodic evaluation's mode coverage and high-quality share. A model with
several or named generators (image-to-image) is compared network by network
(``G_AB_fid``; ``eval/G_class_kept``, ``eval/G_psnr``). Plain text: callers escape it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gandiag.figures.directions import HINTS, direction_of, split_network
from gandiag.figures.text import RunSummary, format_value, protocol_key

#: evaluation scalars compared when a run has them (the rest are plotted, not ranked)
_EVAL_COMPARED = (
    "eval/modes_covered",
    "eval/hq_share",
    "eval/classes_covered",
    "eval/dominant_share",
)
NAMES = {
    "fid": "FID",
    "kid": "KID",
    "fd_inf": "FD∞",
    "is": "IS",
    "eval/modes_covered": "modes covered",
    "eval/hq_share": "high-quality share",
    "eval/classes_covered": "classes covered",
    "eval/dominant_share": "share in the largest class/mode",
}


def display_name(metric: str) -> str:
    """The name a sentence uses: ``FID``, ``classes covered``, ``FID (G_AB)``."""
    if metric in NAMES:
        return NAMES[metric]
    parts = split_network(metric)
    if parts is None:
        return metric
    net, base = parts
    return f"{NAMES.get(base, _PER_NETWORK_NAMES.get(base, base))} ({net})"


_PER_NETWORK_NAMES = {"class_kept": "class kept", "psnr": "PSNR", "ssim": "SSIM"}


def _compared_eval(name: str) -> bool:
    """Whether an ``eval/*`` scalar is ranked (the rest are plotted, not ranked)."""
    return name in _EVAL_COMPARED or (name.startswith("eval/") and split_network(name) is not None)


@dataclass(frozen=True)
class Entry:
    run: str
    value: float
    interval: tuple[float, float] | None = None


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    direction: str  # "lower", "higher", "one"
    entries: list[Entry]
    best: str | None  # the run that is better beyond the uncertainty, else None
    within_uncertainty: bool
    comparable: bool  # same protocol (and data, where known) for every run
    sentence: str
    why_not: str = ""  # why not comparable


@dataclass(frozen=True)
class Comparison:
    overall: str
    metrics: list[MetricComparison]
    findings: list[str] = field(default_factory=list)  # "VAE: 72% of samples in one class"


def _key(direction: str, value: float) -> float:
    """Sort key: smaller is better."""
    if direction == "lower":
        return value
    if direction == "higher":
        return -value
    return abs(value - 1.0)


def _span(e: Entry, direction: str) -> tuple[float, float]:
    lo, hi = e.interval if e.interval is not None else (e.value, e.value)
    if direction == "one":
        lo, hi = abs(lo - 1.0), abs(hi - 1.0)
        if e.interval is not None and e.interval[0] <= 1.0 <= e.interval[1]:
            lo = 0.0
    return min(lo, hi), max(lo, hi)


def _fmt(e: Entry) -> str:
    text = format_value(e.value, 3)
    if e.interval is not None:
        text += f" [{format_value(e.interval[0], 3)}, {format_value(e.interval[1], 3)}]"
    return text


def compare_metric(
    metric: str,
    entries: Sequence[Entry],
    comparable: bool = True,
    why_not: str = "computed under different protocols (extractor, weights or sample sizes)",
) -> MetricComparison:
    """One metric across runs: who is better, and whether the difference is beyond the
    stored uncertainty (intervals that overlap mean "within uncertainty"). ``why_not``
    says why, when the entries are not ``comparable``."""
    direction = direction_of(metric) or "lower"
    name = display_name(metric)
    hint = HINTS[direction]
    ranked = sorted(entries, key=lambda e: _key(direction, e.value))
    values = " vs ".join(f"{e.run} {_fmt(e)}" for e in ranked)
    if len(ranked) < 2:
        return MetricComparison(metric, direction, list(ranked), None, False, comparable, "")
    if not comparable:
        sentence = f"{name}: {values}; not compared: {why_not}."
        return MetricComparison(metric, direction, ranked, None, False, False, sentence, why_not)
    first, second = ranked[0], ranked[1]
    if first.value == second.value:
        sentence = f"{name}: tie, {values} ({hint})."
        return MetricComparison(metric, direction, ranked, None, True, True, sentence)
    both = first.interval is not None and second.interval is not None
    if both:
        (lo_a, hi_a), (lo_b, hi_b) = _span(first, direction), _span(second, direction)
        overlap = max(lo_a, lo_b) <= min(hi_a, hi_b)
    else:
        overlap = False
    if overlap:
        sentence = (
            f"{name}: {values}: within uncertainty (intervals overlap), neither is better ({hint})."
        )
        return MetricComparison(metric, direction, ranked, None, True, True, sentence)
    why = "intervals do not overlap" if both else "no interval stored: by value alone"
    rest = " and ".join(e.run for e in ranked[1:])
    sentence = f"{first.run} beats {rest} on {name}: {values} ({hint}; {why})."
    return MetricComparison(metric, direction, ranked, first.run, False, True, sentence)


def compare_runs(summaries: Mapping[str, RunSummary]) -> Comparison:
    """Compare runs (label -> summary) on every metric at least two of them have."""
    metric_names = {n for s in summaries.values() for n in s.latest_metrics if direction_of(n)}
    # an evaluation scalar that repeats a stored metric (an image-to-image run logs its
    # per-network FID both ways) is ranked once, as the metric with its uncertainty
    names = sorted(
        metric_names
        | {
            n
            for s in summaries.values()
            for n in s.latest_eval
            if _compared_eval(n) and n.removeprefix("eval/") not in metric_names
        }
    )
    results: list[MetricComparison] = []
    for metric in names:
        entries, keys, data = [], set(), set()
        for run, s in summaries.items():
            if metric in s.latest_metrics:
                r = s.latest_metrics[metric]
                entries.append(Entry(run, r.value, r.interval))
                keys.add(protocol_key(r.protocol))
            elif metric in s.latest_eval:
                entries.append(Entry(run, s.latest_eval[metric][1]))
                keys.add(("eval", s.latest_eval.get("eval/num_modes", (0, None))[1]))
            else:
                continue
            data.add(_data_name(s))
        if len(entries) < 2:
            continue
        named = sorted(d for d in data if d is not None)
        if len(named) > 1:  # a metric against another reference set is another number
            why = f"the runs were trained and evaluated on different data ({', '.join(named)})"
            results.append(compare_metric(metric, entries, False, why))
        else:
            results.append(compare_metric(metric, entries, comparable=len(keys) == 1))
    findings = [f"{run}: {f.text}" for run, s in summaries.items() for f in s.findings]
    return Comparison(_overall(summaries, results, findings), results, findings)


def _data_name(s: RunSummary) -> str | None:
    """The dataset a ``gandiag train`` run trained on (None for a run of the user's loop)."""
    data = s.config.get("data") if isinstance(s.config, Mapping) else None
    name = data.get("name") if isinstance(data, Mapping) else None
    return str(name) if name else None


def _overall(
    summaries: Mapping[str, RunSummary], results: list[MetricComparison], findings: list[str]
) -> str:
    if len(summaries) < 2:
        return "Pick at least two runs to compare."
    if not results:
        return (
            "No metric is stored for two or more of these runs, so they cannot be ranked: "
            "evaluate them (`gandiag evaluate`) or train with periodic evaluation."
        )
    wins: dict[str, list[str]] = {}
    for r in results:
        if r.best is not None:
            wins.setdefault(r.best, []).append(display_name(r.metric))
    tied = [display_name(r.metric) for r in results if r.within_uncertainty]
    apart = [display_name(r.metric) for r in results if not r.comparable]
    decided = sum(len(v) for v in wins.values())
    reasons = sorted({r.why_not for r in results if not r.comparable})
    if not wins and len(apart) == len(results):
        text = f"No metric is ranked: {'; '.join(reasons)}"
    elif not wins:
        text = f"No run is better beyond the uncertainty on any of {len(results)} metric(s)"
    else:
        order = sorted(wins.items(), key=lambda kv: -len(kv[1]))
        lead, lead_metrics = order[0]
        if len(order) == 1:
            text = f"{lead} is better on every decided metric ({', '.join(lead_metrics)})"
        else:
            others = "; ".join(f"{run} on {', '.join(m)}" for run, m in order[1:])
            text = (
                f"{lead} is better on {len(lead_metrics)} of {decided} decided metrics "
                f"({', '.join(lead_metrics)}); {others}"
            )
    if tied:
        text += f"; within uncertainty: {', '.join(tied)}"
    if apart and len(apart) < len(results):
        text += f"; not compared: {', '.join(apart)} ({'; '.join(reasons)})"
    if findings:
        text += "; " + "; ".join(findings)
    return text + "."

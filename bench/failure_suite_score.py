"""Scoring the detectors against the failure suite's outcome labels, and the HTML page."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from gandiag.detectors import DetectorSuite, build_detectors, default_detectors
from gandiag.types import Alert, Severity, StepRecord

# Which labelled failure each detector claims.
CLAIMS = {
    "nonfinite": "nonfinite",
    "exploding_gradients": "explosion",
    "vanishing_gradients": "vanishing_gradients",
    "mode_collapse": "mode_collapse",
    "non_convergence": "non_convergence",
    "d_overfitting": "d_overfitting",
    "posterior_collapse": "posterior_collapse",
    "stalled_training": "stalled",
    "frozen_video": "frozen_video",
    "looping_video": "looping_video",
    "temporal_flicker": "temporal_flicker",
    "d_imbalance": "d_imbalance",
    "sample_coverage": "mode_collapse",
    "class_concentration": "mode_collapse",
    "oscillation": "non_convergence",
    "discriminator_imbalance": "discriminator_imbalance",
}
KIND = {"ring": "gan", "glyph": "gan", "vae": "vae", "video": "video"}


def records_of(run: dict[str, Any], drop_prefix: str | None = None) -> list[StepRecord]:
    out = []
    for r in run["records"]:
        sc = r["scalars"]
        if drop_prefix:
            sc = {k: v for k, v in sc.items() if not k.startswith(drop_prefix)}
        out.append(
            StepRecord(int(r["step"]), {k: float("nan") if v is None else v for k, v in sc.items()})
        )
    return out


def replay(run: dict[str, Any], drop_prefix: str | None = None, detectors=None) -> list[Alert]:
    dets = detectors if detectors is not None else default_detectors(KIND[run["case"]["family"]])
    return DetectorSuite(dets).run(records_of(run, drop_prefix))


def claims(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """First WARNING/CRITICAL alert per claimed failure type (INFO notices claim nothing)."""
    out: dict[str, Alert] = {}
    for a in sorted(alerts, key=lambda a: a.step):
        if a.severity is Severity.INFO:
            continue
        out.setdefault(CLAIMS.get(a.detector, a.detector), a)
    return out


def score(runs: list[dict[str, Any]], alerts_per_run: list[list[Alert]]) -> dict[str, Any]:
    """Precision, recall, delays per failure type and overall; false alarms on healthy runs."""
    per: dict[str, dict[str, Any]] = {}
    healthy_steps = healthy_alerts = 0
    # Runs with no failure label, healthy or only in a label's margin band: an alarm there
    # is false unless it claims the failure whose margin band the run is in.
    unlabelled_steps = unlabelled_alerts = unlabelled_runs = 0
    misses, false_claims, healthy_alarms, unlabelled_alarms = [], [], [], []

    def entry(f: str) -> dict[str, Any]:
        return per.setdefault(
            f, {"tp": 0, "fp": 0, "labelled": 0, "detected": 0, "delays": [], "delays_evals": []}
        )

    excluded = []
    for run, alerts in zip(runs, alerts_per_run):
        labels, ambiguous = run["labels"], run.get("ambiguous", {})
        got = claims(alerts)
        # A transient collapse (one that recovered by the end, its own label) is detected
        # by a mode-collapse claim whose onset is at or after the collapse's labelled onset
        # minus one evaluation; an earlier claim stays a mode_collapse claim (a false one).
        mc = got.get("mode_collapse")
        # (a slow start, see label_ring, puts transient_collapse in the margin band: a
        # mode-collapse claim there is renamed too, and so excluded below)
        onset = labels.get("transient_collapse", ambiguous.get("transient_collapse"))
        if mc is not None and onset is not None and mc.onset_step >= onset - run["eval_every"]:
            got["transient_collapse"] = got.pop("mode_collapse")
        for f in ambiguous:
            a = got.pop(f, None)
            excluded.append(
                f"{run_name(run)}: {f} in the label's margin band ("
                + (f"claimed at step {a.step})" if a else "not claimed)")
            )
        for f, onset in labels.items():
            e = entry(f)
            e["labelled"] += 1
            if f in got:
                e["detected"] += 1
                e["delays"].append(got[f].step - onset)
                e["delays_evals"].append((got[f].step - onset) / run["eval_every"])
            else:
                misses.append(f"{run_name(run)}: {f} (onset {onset})")
        for f, a in got.items():
            if f in labels:
                entry(f)["tp"] += 1
            else:
                entry(f)["fp"] += 1
                false_claims.append(f"{run_name(run)}: {a.detector} at step {a.step}")
        if is_healthy(run):
            healthy_steps += run["steps_run"]
            alarms = [a for a in alerts if a.severity is not Severity.INFO]
            healthy_alerts += len(alarms)
            healthy_alarms += [f"{run_name(run)}: {a.detector} at step {a.step}" for a in alarms]
        if not labels:
            unlabelled_runs += 1
            unlabelled_steps += run["steps_run"]
            alarms = [
                a
                for a in alerts
                if a.severity is not Severity.INFO
                and CLAIMS.get(a.detector, a.detector) not in ambiguous
            ]
            unlabelled_alerts += len(alarms)
            unlabelled_alarms += [f"{run_name(run)}: {a.detector} at step {a.step}" for a in alarms]
    rows = {}
    for f, e in sorted(per.items()):
        rows[f] = {
            "precision": _ratio(e["tp"], e["tp"] + e["fp"]),
            "recall": _ratio(e["detected"], e["labelled"]),
            "labelled": e["labelled"],
            "detected": e["detected"],
            "false_claims": e["fp"],
            "median_delay_steps": statistics.median(e["delays"]) if e["delays"] else None,
            "median_delay_evals": statistics.median(e["delays_evals"])
            if e["delays_evals"]
            else None,
            "p90_delay_evals": _p90(e["delays_evals"]),
        }
    tp = sum(e["tp"] for e in per.values())
    fp = sum(e["fp"] for e in per.values())
    lab = sum(e["labelled"] for e in per.values())
    det = sum(e["detected"] for e in per.values())
    delays = [d for e in per.values() for d in e["delays_evals"]]
    overall = {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(det, lab),
        "labelled": lab,
        "detected": det,
        "false_claims": fp,
        "healthy_runs": sum(is_healthy(r) for r in runs),
        "healthy_run_names": [run_name(r) for r in runs if is_healthy(r)],
        "excluded_margin_band": len(excluded),
        "healthy_steps": healthy_steps,
        "false_alarms_per_1k_healthy_steps": 1000.0 * healthy_alerts / healthy_steps
        if healthy_steps
        else None,
        "unlabelled_runs": unlabelled_runs,
        "unlabelled_steps": unlabelled_steps,
        "false_alarms_per_1k_unlabelled_steps": 1000.0 * unlabelled_alerts / unlabelled_steps
        if unlabelled_steps
        else None,
        "median_delay_evals": statistics.median(delays) if delays else None,
        "p90_delay_evals": _p90(delays),
    }
    return {
        "overall": overall,
        "per_failure": rows,
        "misses": misses,
        "false_claims": false_claims,
        "healthy_alarms": healthy_alarms,
        "unlabelled_alarms": unlabelled_alarms,
        "margin_band": excluded,
    }


def is_healthy(run: dict[str, Any]) -> bool:
    """No failure label, and none in a label's margin band either."""
    return not run["labels"] and not run.get("ambiguous")


def calibrate(
    healthy_runs: list[dict[str, Any]], detector: str, param: str, grid: list[float], kind: str
) -> dict[str, Any]:
    """Replay healthy runs over a grid of values for one threshold: false alarms per 1k steps each.

    ``grid`` is ordered from the most sensitive value to the least; the calibrated value is
    the most sensitive one with no false alarm on these runs.
    """
    runs = [r for r in healthy_runs if KIND[r["case"]["family"]] == kind]
    steps = sum(r["steps_run"] for r in runs)
    if not runs:  # nothing to calibrate on: say so rather than report a clean 0
        return {
            "detector": detector,
            "param": param,
            "kind": kind,
            "healthy_steps": 0,
            "grid": grid,
            "fa_per_1k": [None] * len(grid),
            "most_sensitive_clean": None,
        }
    rates = []
    for value in grid:
        n = 0
        for run in runs:
            dets = build_detectors([detector], {detector: {param: value}})
            n += sum(a.severity is not Severity.INFO for a in replay(run, detectors=dets))
        rates.append(1000.0 * n / steps)
    ok = [v for v, r in zip(grid, rates) if r == 0.0]
    return {
        "detector": detector,
        "param": param,
        "kind": kind,
        "healthy_steps": steps,
        "grid": grid,
        "fa_per_1k": rates,
        "most_sensitive_clean": ok[0] if ok else None,
    }


def run_name(run: dict[str, Any]) -> str:
    return f"{run['case']['config']}/s{run['case']['seed']}"


def _p90(values: list[float]) -> float | None:
    """90th percentile (linear interpolation), None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = 0.9 * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None

"""Failure-detector benchmark: train the labelled failure suite, score the detectors.

    python bench/detectors.py [--quick] [--jobs 2] --json results/detectors.json

Trains every configuration of REFERENCE.md section 3 (2-D ring GANs, glyph VAEs, glyph
GANs on 50 vs 5,000 images), each with several seeds, with ``gandiag.Monitor``
attached (default detectors, live). Ground-truth labels and onsets come from outcomes
measured on separate large sample sets (see bench/failure_suite.py and
docs/detectors.md). Reports, per failure type and overall: precision, recall, false
alarms per 1,000 steps on healthy runs and detection delay, for the live alerts and
for a replay that drops the periodic-evaluation scalars (``eval/*``), i.e. what a bare
Monitor without evaluations sees. Writes the JSON, its section of docs/benchmarks.md,
and an HTML page with every run's curves and alerts (``--html``, default: next to the
JSON). The last printed line is the overall summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _report import table, write_json, write_section
from failure_suite import GLYPH_CONFIGS, RING_CONFIGS, VAE_CONFIGS, Case, run_cases
from failure_suite_html import write_page
from failure_suite_score import calibrate, is_healthy, replay, score
from failure_suite_video import VIDEO_CONFIGS, VIDEO_STEPS

from gandiag.types import Alert

# Steps per family: every label's onset falls well inside (ring collapse/hopping from step
# 500, vanishing/explosion/NaN before 300, VAE collapse by 500, glyph overfitting by ~700;
# video: the video bench's length, bench/failure_suite_video.py).
FULL = {
    "seeds": 5,
    "ring_steps": 900,
    "vae_steps": 800,
    "glyph_steps": 1200,
    "video_steps": VIDEO_STEPS,
}
QUICK = {"seeds": 1, "ring_steps": 700, "vae_steps": 500, "glyph_steps": 0, "video_steps": 0}
QUICK_CONFIGS = (
    "healthy",
    "collapse",
    "nan",
    "vanishing",
    "partial",
    "vae_healthy",
    "vae_collapse",
)


def build_cases(quick: bool, seeds: int | None, only: list[str] | None = None) -> list[Case]:
    p = QUICK if quick else FULL
    n = seeds or p["seeds"]
    cases = []
    for fam, configs, steps in (
        ("ring", RING_CONFIGS, p["ring_steps"]),
        ("vae", VAE_CONFIGS, p["vae_steps"]),
        ("glyph", GLYPH_CONFIGS, p["glyph_steps"]),
        ("video", VIDEO_CONFIGS, p["video_steps"]),
    ):
        for cfg in configs:
            if steps <= 0 or (quick and cfg not in QUICK_CONFIGS):
                continue
            if only and cfg not in only:
                continue
            n_steps = configs[cfg].get("steps", steps) if not quick else steps
            cases += [Case(fam, cfg, s, n_steps) for s in range(n)]
    # the costliest first, so two workers finish together
    cost = {"collapse": 5, "vanishing": 5, "explosion": 5, "healthy": 2}
    return sorted(cases, key=lambda c: -cost.get(c.config, 1) * c.steps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="one seed of a subset, fewer steps (~1 minute)"
    )
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument(
        "--seeds", type=int, default=None, help="seeds per configuration (default 5, quick 1)"
    )
    ap.add_argument(
        "--configs",
        default=None,
        help="comma-separated configurations to run (a reduced suite; default: all)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--html", type=Path, default=None, help="HTML page (default: next to --json)")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="pickle of the trained runs: reused if it exists (re-scoring), else written",
    )
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="score only the selected cases already in --cache; train nothing",
    )
    args = ap.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit("--jobs must be >= 1")

    only = [c.strip() for c in args.configs.split(",")] if args.configs else None
    cases = build_cases(args.quick, args.seeds, only)
    if not cases:
        raise SystemExit(f"no case matches --configs {args.configs}")
    load = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    cases, runs = run_cases(cases, args.jobs, args.cache, args.cached_only)
    runs = [relabel(r) for r in runs]
    wall = time.perf_counter() - t0  # with a warm --cache, only the cases trained now
    load.append(os.getloadavg()[0])

    stored = [[Alert.from_dict(a) for a in r["alerts"]] for r in runs]
    # Scored: a replay with the current default detectors, which equals the live alerts
    # whenever the detectors did not change since the run was trained (checked here).
    live = [replay(r) for r in runs]
    consistent = sum(_same(a, b) for a, b in zip(stored, live))
    batch_only = [replay(r, drop_prefix="eval/") for r in runs]
    s_live, s_batch = score(runs, live), score(runs, batch_only)
    healthy = [r for r in runs if is_healthy(r)]
    # runs with no strict label but a margin-band pair (e.g. a VAE whose outputs the
    # classifier cannot read yet): not healthy by the rules, their alarms reported apart
    band_only = [
        {
            "run": f"{r['case']['config']}/s{r['case']['seed']}",
            "steps": r["steps_run"],
            "band": sorted(r["ambiguous"]),
            "alarms": [f"{a.detector} at step {a.step}" for a in al if a.severity.value != "info"],
        }
        for r, al in zip(runs, live)
        if not r["labels"] and r.get("ambiguous")
    ]
    calib = [
        calibrate(healthy, "mode_collapse", "pdist_max", [0.6, 0.5, 0.4, 0.3, 0.2], "gan"),
        calibrate(healthy, "non_convergence", "margin_min", [0.3, 0.4, 0.5, 0.6, 0.7, 0.8], "gan"),
        calibrate(healthy, "d_overfitting", "rv_max", [0.1, 0.2, 0.3, 0.4, 0.5], "gan"),
        calibrate(healthy, "exploding_gradients", "decades", [1.0, 1.5, 2.0, 2.5, 3.0], "gan"),
        calibrate(healthy, "sample_coverage", "excess_min", [0.1, 0.15, 0.2, 0.25, 0.3], "gan"),
        calibrate(healthy, "sample_coverage", "excess_min", [0.1, 0.15, 0.2, 0.25, 0.3], "vae"),
        calibrate(healthy, "sample_coverage", "missed_min", [0.2, 0.3, 0.4, 0.5, 0.6], "gan"),
        calibrate(healthy, "oscillation", "snr_min", [2.0, 3.0, 4.0, 5.0], "gan"),
        calibrate(healthy, "oscillation", "peak_share", [0.3, 0.4, 0.5], "gan"),
        calibrate(healthy, "oscillation", "min_blocks", [10, 15, 20, 30, 40], "gan"),
        calibrate(healthy, "non_convergence", "shift_min", [0.2, 0.3, 0.4, 0.5, 0.6], "gan"),
    ]
    payload = {
        "mode": ("quick" if args.quick else "full")
        + (f" (reduced: {', '.join(only)})" if only else ""),
        "cases": len(runs),
        "wall_seconds": wall,
        "load_average_1min_start_end": load,
        "cpu_count": os.cpu_count(),
        "train_seconds_total": sum(r["seconds"] for r in runs),
        "live_equals_replay": f"{consistent}/{len(runs)}",
        "live": s_live,
        "batch_signals_only": s_batch,
        "calibration_on_healthy_runs": calib,
        "band_only_runs": band_only,
        "runs": [
            {
                k: r[k]
                for k in (
                    "case",
                    "steps_run",
                    "eval_every",
                    "labels",
                    "ambiguous",
                    "outcomes",
                    "seconds",
                )
            }
            | {"alerts": r["alerts"], "batch_only_alerts": [a.to_dict() for a in b]}
            for r, b in zip(runs, batch_only)
        ],
    }
    write_json(args.json, payload)
    md = markdown(payload)
    if not args.no_docs:
        write_section("detectors", md)
    html_path = args.html or (args.json.with_suffix(".html") if args.json else None)
    if html_path:
        import html

        write_page(
            html_path,
            "gandiag failure-detector benchmark",
            f"<pre>{html.escape(md)}</pre>",
            runs,
            [r["alerts"] for r in runs],
        )
    summary = _summary_line(payload)
    print(md)
    print(summary)
    return 0


def relabel(run: dict) -> dict:
    """The run with its labels recomputed from its stored outcomes by the current rules, so
    a cached run is scored against the same labels as a fresh one."""
    from failure_suite import label_glyph, label_ring, label_vae
    from failure_suite_images import VAE_WARMUP

    o, family = run["outcomes"], run["case"]["family"]
    if family == "ring":
        labels, ambiguous = label_ring(o)
    elif family == "vae":
        labels, ambiguous = label_vae(o, VAE_WARMUP)
    elif family == "glyph":
        labels, ambiguous = label_glyph(o)
    else:
        return run
    return run | {"labels": labels, "ambiguous": ambiguous}


def _same(a: list[Alert], b: list[Alert]) -> bool:
    return [(x.detector, x.step, x.onset_step) for x in a] == [
        (x.detector, x.step, x.onset_step) for x in b
    ]


def markdown(p: dict) -> str:
    out = [
        "## Failure detectors (`bench/detectors.py`)",
        "",
        (
            f"Mode: {p['mode']}; {p['cases']} runs; {p['wall_seconds']:.0f} s wall for the runs "
            f"trained in this invocation ({p['train_seconds_total']:.0f} s of training summed "
            "over all runs and workers). Scores use a replay of each stored run through the "
            "current default detectors; it equals the alerts the Monitor stored live in "
            f"{p['live_equals_replay']} runs (runs trained before a threshold change differ). "
            f"Machine: {p['cpu_count']} CPUs, 1-minute load average {p['load_average_1min_start_end'][0]:.1f} "
            f"at the start and {p['load_average_1min_start_end'][1]:.1f} at the end of training "
            "(other processes shared the cores)."
        ),
        "Labels come from outcomes on separate large sample sets (docs/detectors.md).",
        "",
    ]
    for title, key in (
        ("Live (Monitor + periodic 256-sample evaluation)", "live"),
        ("Batch signals only (eval/* removed, replayed)", "batch_signals_only"),
    ):
        s = p[key]
        rows = [
            [
                f,
                _f(v["precision"]),
                _f(v["recall"]),
                v["labelled"],
                v["detected"],
                v["false_claims"],
                _f(v["median_delay_steps"]),
                _f(v["median_delay_evals"]),
                _f(v["p90_delay_evals"]),
            ]
            for f, v in s["per_failure"].items()
        ]
        o = s["overall"]
        rows.append(
            [
                "**overall**",
                _f(o["precision"]),
                _f(o["recall"]),
                o["labelled"],
                o["detected"],
                o["false_claims"],
                "",
                _f(o["median_delay_evals"]),
                _f(o["p90_delay_evals"]),
            ]
        )
        out += [
            f"### {title}",
            "",
            table(
                [
                    "failure",
                    "precision",
                    "recall",
                    "labelled",
                    "detected",
                    "false claims",
                    "median delay (steps)",
                    "median delay (evals)",
                    "p90 delay (evals)",
                ],
                rows,
            ),
            "",
            (
                f"False alarms on healthy runs: {_f(o['false_alarms_per_1k_healthy_steps'])} per 1,000 steps "
                f"({o['healthy_runs']} runs, {o['healthy_steps']} steps: "
                f"{', '.join(o.get('healthy_run_names', [])) or 'none'})."
            ),
            "",
        ]
        if s["misses"]:
            out += ["Missed: " + "; ".join(s["misses"]), ""]
        if s["false_claims"]:
            out += ["False claims: " + "; ".join(s["false_claims"]), ""]
        if s["healthy_alarms"]:
            out += ["Alarms on healthy runs: " + "; ".join(s["healthy_alarms"]), ""]
        if s["margin_band"]:
            out += [
                f"Not scored ({len(s['margin_band'])} run-failure pairs in a label's margin band, "
                "docs/detectors.md): " + "; ".join(s["margin_band"]),
                "",
            ]
    if p.get("band_only_runs"):
        out += [
            "Runs with no label but a margin-band pair (not healthy by the rules; their "
            "alarms, live): "
            + "; ".join(
                f"{b['run']} ({b['steps']} steps, band: {', '.join(b['band'])}): "
                + (", ".join(b["alarms"]) or "no alarm")
                for b in p["band_only_runs"]
            ),
            "",
        ]
    out += [
        "### Threshold calibration on the healthy runs",
        "",
        table(
            ["detector.param", "grid", "false alarms / 1k steps", "most sensitive clean value"],
            [
                [
                    f"{c['detector']}.{c['param']} ({c['kind']}, {c['healthy_steps']} steps)",
                    c["grid"],
                    [round(x, 3) for x in c["fa_per_1k"]]
                    if c["healthy_steps"]
                    else "no healthy run",
                    c["most_sensitive_clean"],
                ]
                for c in p["calibration_on_healthy_runs"]
            ],
        ),
    ]
    return "\n".join(out)


def _summary_line(p: dict) -> str:
    o = p["live"]["overall"]
    b = p["batch_signals_only"]["overall"]
    return (
        f"detectors ({p['mode']}, {p['cases']} runs, {p['wall_seconds']:.0f}s): precision {_f(o['precision'])} "
        f"recall {_f(o['recall'])} false-alarms/1k-healthy-steps {_f(o['false_alarms_per_1k_healthy_steps'])} "
        f"median delay {_f(o['median_delay_evals'])} evals; batch-only precision {_f(b['precision'])} "
        f"recall {_f(b['recall'])}"
    )


def _f(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    sys.exit(main())

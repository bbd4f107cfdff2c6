"""Video-detector benchmark: DVD-GAN-lite runs on moving glyphs, labelled from outcomes.

    python bench/detectors_video.py [--seeds 2] [--steps 600] [--jobs 1] [--cache runs.pkl]
        --json results/video.json

Trains the video family of the labelled failure suite (bench/failure_suite_video.py:
healthy, no temporal discriminator, frozen temporal discriminator) with the Monitor
attached (default "video" detectors, live), scores the detectors against labels computed
from outcomes on fresh samples, replays the healthy runs over threshold grids (false
alarms per 1,000 steps), writes the JSON and its section of docs/benchmarks.md. The same
family runs inside ``bench/detectors.py`` (full mode). The last line is the summary.
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

import failure_suite_video
from _report import no_alarm_bound_per_1k, table, write_json, write_section
from failure_suite import Case, run_cases
from failure_suite_score import calibrate, is_healthy, replay, score
from failure_suite_video import (
    TWO_EVALUATIONS,
    VIDEO_CONFIGS,
    VIDEO_STEPS,
    label_video,
    video_case_settings,
)

from gandiag.detectors import build_detectors

#: Coverage signals recorded from raw pixels: the first video runs carry them (their
#: train_video passed no ``features=``, so the probe embedded whole clips as pixels, which
#: measures blur, not what the clips cover; gandiag/monitor/coverage.py). Replay drops them
#: from those runs. Runs that record ``coverage_features`` in their case (train_video now
#: passes the bundled video network's features, as `gandiag train` does) keep them. The
#: probe never changes training (eval mode, no_grad, its own random numbers).
PIXEL_COVERAGE = "coverage/"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=VIDEO_STEPS)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="pickle of the trained runs, written after every run: runs already there are reused",
    )
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="score only the runs already in --cache (e.g. of a bench stopped early); train nothing",
    )
    ap.add_argument(
        "--strips",
        type=Path,
        default=None,
        help="write sample strips (generated above held-out clips) every 100 steps here",
    )
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run from this one")
    ap.add_argument(
        "--configs",
        nargs="+",
        choices=list(VIDEO_CONFIGS),
        default=list(VIDEO_CONFIGS),
        help="configurations to run (default: all)",
    )
    ap.add_argument(
        "--device",
        default=None,
        help="train on this device (sets GANDIAG_BENCH_DEVICE for the workers; default cpu)",
    )
    args = ap.parse_args(argv)
    if args.device:
        os.environ["GANDIAG_BENCH_DEVICE"] = args.device
    failure_suite_video.SAMPLE_STRIPS_DIR = args.strips
    # seed-major: a bench stopped early has every configuration of its first seeds
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    cases = [Case("video", c, s, args.steps) for s in seeds for c in args.configs]
    load = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    cases, runs = run_cases(cases, args.jobs, args.cache, args.cached_only)
    wall = time.perf_counter() - t0  # with a warm --cache, only the runs trained now
    for r in runs:  # cached runs labelled by the current rule, from their stored outcomes
        r["labels"], r["ambiguous"] = label_video(r["outcomes"])
    load.append(os.getloadavg()[0])
    live = [
        replay(r, drop_prefix=None if r["case"].get("coverage_features") else PIXEL_COVERAGE)
        for r in runs
    ]
    s = score(runs, live)
    # the same alerts against the labels of the rule before (two evaluations in a row)
    s_before = score([_relabelled(r, **TWO_EVALUATIONS) for r in runs], live)
    # the opt-in class-concentration detector, replayed alone on the runs that record its
    # signals (video/class_*; runs trained before it existed have none)
    counted = [r for r in runs if _has_class_counts(r)]
    opt_in = [replay(r, detectors=build_detectors([OPT_IN])) for r in counted]
    healthy = [r for r in runs if is_healthy(r)]
    calib = [
        calibrate(healthy, "frozen_video", "ratio_max", [0.6, 0.5, 0.4, 0.3, 0.2], "video"),
        calibrate(healthy, "looping_video", "excess_max", [0.4, 0.6, 0.8, 1.0, 1.2], "video"),
        calibrate(
            healthy, "temporal_flicker", "flip_excess_max", [0.1, 0.15, 0.2, 0.25, 0.3], "video"
        ),
        calibrate(
            healthy,
            "temporal_flicker",
            "coherence_ratio_min",
            [0.8, 0.6, 0.5, 0.4, 0.3],
            "video",
        ),
        calibrate(healthy, "d_imbalance", "update_min", [1e-5, 1e-6, 1e-7, 1e-8], "video"),
    ]
    payload = {
        "cases": len(runs),
        "steps": args.steps,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "device": os.environ.get("GANDIAG_BENCH_DEVICE", "cpu"),
        "wall_seconds": wall,
        "load_average_1min_start_end": load,
        "live": s,
        # every label but frozen_video on two evaluations in a row (the rule before
        # 2026-12-02); the runs' own labels are the current rule's
        "live_two_evaluations": s_before,
        "calibration_on_healthy_runs": calib,
        "opt_in": {
            "detector": OPT_IN,
            "runs": [_run(r) for r in counted],
            "score": score(counted, opt_in) if counted else None,
            "alerts": {
                _run(r): [[a.onset_step, a.step, round(a.evidence["excess"], 3)] for a in a_]
                for r, a_ in zip(counted, opt_in)
            },
        },
        "runs": [
            {k: r[k] for k in ("case", "labels", "ambiguous", "outcomes", "seconds")}
            | {"alerts": [a.to_dict() for a in a_]}
            for r, a_ in zip(runs, live)
        ],
    }
    write_json(args.json, payload)
    md = markdown(payload)
    if not args.no_docs:
        write_section("detectors_video", md)
    o = s["overall"]
    print(md)
    print(
        f"video detectors ({len(runs)} runs x {args.steps} steps, {wall:.0f}s): precision "
        f"{_f(o['precision'])} recall {_f(o['recall'])} false-alarms/1k-healthy-steps "
        f"{_f(o['false_alarms_per_1k_healthy_steps'])} ({o['healthy_runs']} healthy runs)"
    )
    return 0


def markdown(p: dict) -> str:
    s = p["live"]
    rows = [
        [
            f,
            _f(v["precision"]),
            _f(v["recall"]),
            v["labelled"],
            v["detected"],
            v["false_claims"],
            _f(v["median_delay_steps"]),
        ]
        for f, v in s["per_failure"].items()
    ]
    o = s["overall"]
    out = [
        "## Video detectors (`bench/detectors_video.py`)",
        "",
        (
            f"{p['cases']} DVD-GAN-lite runs on moving glyphs ({_configs_and_seeds(p)}, "
            f"{p['steps']} steps, batch 16, {_d_steps()} D steps per G step), "
            f"{sum(r['seconds'] for r in p['runs']):.0f} s of training in all "
            f"({p['wall_seconds']:.0f} s wall in this invocation: runs from --cache cost "
            f"none); 1-minute load average {p['load_average_1min_start_end'][0]:.1f} at the "
            f"start and {p['load_average_1min_start_end'][1]:.1f} at the end of it (shared "
            "cores). Labels from outcomes on 256 fresh clips against 256 held-out ones "
            "(bench/failure_suite_video.py)."
        ),
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
            ],
            rows,
        ),
        "",
        (
            f"Overall precision {_f(o['precision'])}, recall {_f(o['recall'])}; false alarms on "
            f"healthy runs: {_f(o['false_alarms_per_1k_healthy_steps'])} per 1,000 steps "
            f"({o['healthy_runs']} runs, {o['healthy_steps']} steps); on every run without a "
            f"failure label (healthy or in a label's margin band, where a claim of the band's "
            f"own failure is not counted): {_f(o['false_alarms_per_1k_unlabelled_steps'])} per "
            f"1,000 steps ({o['unlabelled_runs']} runs, {o['unlabelled_steps']} steps"
            + _upper_bound(o)
            + ")."
        ),
        "",
    ]
    for key, title in (
        ("misses", "Missed"),
        ("false_claims", "False claims"),
        ("margin_band", "Not scored (margin band)"),
        ("unlabelled_alarms", "Alarms on runs without a failure label"),
    ):
        if s[key]:
            out += [f"{title}: " + "; ".join(s[key]), ""]
    out += _before_lines(p)
    out += [
        "Labels per run: "
        + "; ".join(
            f"{_run(r)}: {r['labels'] or ('margin band ' + str(r['ambiguous']) if r['ambiguous'] else 'healthy')}"
            for r in p["runs"]
        ),
        "",
    ]
    out += [
        (
            "Outcomes at the last evaluation (256 fresh clips against 256 held-out ones): "
            "motion ratio, each discriminator's AUC, and D_T's motion preference (share of "
            "held-out clips it scores above the same clip frozen; 0.5: blind to motion):"
        ),
        "",
        table(
            ["run", "motion ratio", "AUC D_S", "AUC D_T", "motion pref. D_T"],
            [[_run(r), *(_last(r, k) for k in OUTCOME_KEYS)] for r in p["runs"]],
        ),
        "",
    ]
    every = 100
    marks = sorted({t for r in p["runs"] for t in r["outcomes"]["step"] if t % every == 0})
    out += [
        f"Motion ratio (fakes over held-out reals) every {every} steps and at the last step:",
        "",
        table(
            ["run", *(str(t) for t in marks), "last"],
            [
                [_run(r), *(_at(r, "motion_ratio", t) for t in marks), _last(r, "motion_ratio")]
                for r in p["runs"]
            ],
        ),
        "",
    ]
    out += _opt_in_lines(p)
    out += [
        "### Thresholds replayed on the healthy runs",
        "",
        table(
            ["detector.param", "grid", "false alarms / 1k steps", "most sensitive clean value"],
            [
                [
                    f"{c['detector']}.{c['param']}",
                    c["grid"],
                    [None if x is None else round(x, 3) for x in c["fa_per_1k"]],
                    c["most_sensitive_clean"],
                ]
                for c in p["calibration_on_healthy_runs"]
            ],
        ),
    ]
    return "\n".join(out)


#: replayed apart: registered, not in default_detectors("video") (its docstring says why)
OPT_IN = "class_concentration"


def _has_class_counts(run: dict) -> bool:
    return any(k.startswith("video/class_fake/") for rec in run["records"] for k in rec["scalars"])


def _relabelled(run: dict, **rule: int) -> dict:
    """``run`` with its labels by another rule (``label_video``'s span and length)."""
    labels, ambiguous = label_video(run["outcomes"], **rule)
    return {**run, "labels": labels, "ambiguous": ambiguous}


def _before_lines(p: dict) -> list[str]:
    """The same alerts scored by the labels of two evaluations in a row (every label but
    frozen_video), the rule before 2026-12-02; absent from JSON written before it."""
    b = p.get("live_two_evaluations")
    if not b:
        return []
    o = b["overall"]
    per = "; ".join(
        f"`{f}` {v['detected']} of {v['labelled']}, {v['false_claims']} false claims"
        for f, v in b["per_failure"].items()
    )
    return [
        (
            "By the labels of two evaluations in a row (25 steps; every label but "
            "`frozen_video`, the rule before 2026-12-02), the same alerts: precision "
            f"{_f(o['precision'])}, recall {_f(o['recall'])} ({per}); runs without a failure "
            f"label {o['unlabelled_runs']} ({o['unlabelled_steps']} steps), alarms there "
            f"{len(b['unlabelled_alarms'])}."
        ),
        "",
    ]


def _opt_in_lines(p: dict) -> list[str]:
    o = p.get("opt_in") or {}
    if not o.get("runs"):
        return []
    mc = o["score"]["per_failure"].get("mode_collapse", {})
    claims = "; ".join(
        f"{run}: "
        + (", ".join(f"onset {a[0]} (at {a[1]}, excess {a[2]:.2f})" for a in al) or "none")
        for run, al in o["alerts"].items()
    )
    return [
        (
            f"Opt-in `{o['detector']}` (not a default), replayed alone on the "
            f"{len(o['runs'])} runs that record clip counts per class: `mode_collapse` recall "
            f"{_f(mc.get('recall'))} ({mc.get('detected', 0)} of {mc.get('labelled', 0)}), "
            f"false claims {mc.get('false_claims', 0)}. Its alerts (onset, step, excess): "
            f"{claims}."
        ),
        "",
    ]


def _configs_and_seeds(p: dict) -> str:
    """ "2 seeds x 3 configurations" (the configurations the runs were asked for: those of
    the first seed, as runs are trained seed by seed), or the runs by seed when a bench
    stopped early."""
    seeds: dict[int, int] = {}
    for r in p["runs"]:
        seeds[r["case"]["seed"]] = seeds.get(r["case"]["seed"], 0) + 1
    configs = {r["case"]["config"] for r in p["runs"]}
    if len(p["runs"]) == len(configs) * p["seeds"]:
        seeds_word = "seed" if p["seeds"] == 1 else "seeds"
        return f"{p['seeds']} {seeds_word} x {len(configs)} configurations"
    return ", ".join(f"seed {s}: {n} of {len(configs)} configurations" for s, n in seeds.items())


def _d_steps() -> str:
    counts = sorted({video_case_settings(c)[1].d_steps for c in VIDEO_CONFIGS})
    return "/".join(str(n) for n in counts)


OUTCOME_KEYS = ("motion_ratio", "auc_D_S", "auc_D_T", "motion_pref_D_T")


def _run(r: dict) -> str:
    return f"{r['case']['config']}/s{r['case']['seed']}"


def _last(r: dict, key: str) -> str:
    """The outcome ``key`` at the run's last evaluation ("-" where the run has none)."""
    v = r["outcomes"].get(key)
    return f"{v[-1]:.2f}" if v else "-"


def _at(r: dict, key: str, step: int) -> str:
    """The outcome ``key`` at evaluation ``step`` ("-" where the run has none there)."""
    steps = r["outcomes"]["step"]
    return f"{r['outcomes'][key][steps.index(step)]:.2f}" if step in steps else "-"


def _f(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _upper_bound(o: dict) -> str:
    """The rate's one-sided 95% upper bound when no alarm was raised."""
    n, rate = o["unlabelled_steps"], o["false_alarms_per_1k_unlabelled_steps"]
    if not n or rate != 0:
        return ""
    return f"; no alarm: 95% upper bound {no_alarm_bound_per_1k(n):.2g} per 1,000 steps"


if __name__ == "__main__":
    sys.exit(main())

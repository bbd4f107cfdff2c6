"""Does ``gandiag doctor`` find a remedy that works, and is it the one practitioners name?

For each failure configuration of the reference trainer in configs/ (the runs' failure is
the outcome the configuration is known for; the doctor treats the run's first serious
alert): train the run with a checkpoint ring, run ``doctor`` with its defaults, and record

- recovered: a remedy cleared the alert and beat the control continuation on the run's
  quality measure (FID on images, modes covered on 2-D data);
- agrees: that best remedy is the one practitioners name first for the failure;
- the doctor's wall time against one branch's mean time and against the bound
  ceil(branches / workers) x branch time, with where the rest went (`DoctorResult.timing`):
  starting the worker pool (paid by the first doctor call only: the pool is kept, its
  workers forked from a server that imported torch and gandiag once), the wait for the
  first branch to start, scoring and the report.

All runs go through one process, as a user's session would; the machine's 1-minute
load average is recorded before and after, since the machine may be shared.

Each branch trains doctor's default budget (twice the steps from the fork to the alert,
at least two evaluation intervals), so the control runs past the step where the original
run raised its alert and can show whether the failure returns; a shorter budget compares
the branches before the failure is due (the first --quick results did, with 400 steps
against a mode collapse alerted at step 600 of the original).

``--quick`` shortens the training runs to at most 800 steps (the alerts still fire);
``--configs`` picks configurations; ``--time-limit`` (minutes) skips the configurations
left once it is spent, and the table lists them as not run.

    python bench/doctor.py --quick --workers 2 --time-limit 25 --json bench/results/doctor.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_json, write_section

ROOT = Path(__file__).resolve().parent.parent
#: configurations whose runs fail, with the failure they are known for
FAILURES = {
    "mlp_gan_ring8_collapse.toml": "mode collapse",
    "vae_ring8_collapse.toml": "posterior collapse",
    "mlp_gan_ring8_minimax.toml": "vanishing generator gradients (saturating loss)",
    # the families' failure configurations, cheapest first
    "dvdgan_frozen_temporal.toml": "a temporal discriminator that never learns",
    "dvdgan_no_temporal.toml": "frozen video (no temporal discriminator)",
    "srgan_no_pretrain_glyphs.toml": "no better than bicubic (no pre-training)",
    "pix2pix_no_l1_glyphs.toml": "the input's content lost (no L1)",
    "cyclegan_identity_glyphs.toml": "identity mapping",
    "cyclegan_inversion_glyphs.toml": "colour inversion",
    "cyclegan_steganography_glyphs.toml": "steganography",
    "stackgan_no_ca_glyphs.toml": "conditioning collapse (no CA)",
    "stackgan_copy_glyphs.toml": "stage II copies stage I",
    "lapgan_copy_glyphs.toml": "levels copy the coarse image",
    "stylegan_collapsed_mapping_glyphs.toml": "collapsed mapping network",
    "stylegan_no_r1_glyphs.toml": "mode collapse without R1",
    "progan_tanh_glyphs.toml": "fade-in collapse (tanh output)",
    "progan_stuck_fade_glyphs.toml": "stuck fade-in",
}


def _write(
    rows: list[dict], pending: list[str], args: argparse.Namespace, load_before: float
) -> str:
    """The table and JSON of the rows so far (written after each configuration, so a run
    stopped early still leaves what it measured); configs not reached are listed as such."""
    rows = rows + [
        {"config": n, "failure": FAILURES[n], "not_run": True, "pending": True} for n in pending
    ]
    scored = [r for r in rows if "error" not in r and "not_run" not in r]
    recovered = sum(r["recovered"] for r in scored)
    agrees = sum(r["agrees"] for r in scored)
    within = sum(r["wall_s"] <= r["bound_s"] for r in scored)
    load_after = os.getloadavg()[0]
    ratios = [r["wall_s"] / r["bound_s"] for r in scored]
    lines = [
        f"## Doctor (`bench/doctor.py`{' --quick' if args.quick else ''}, {args.workers} workers)",
        "",
        (
            "Each failure configuration is trained with a checkpoint ring"
            + (" (at most 800 steps)" if args.quick else "")
            + ", then `doctor` forks the remedies for its first serious alert with an "
            "applicable remedy from the last healthy checkpoint, each branch trained for "
            "doctor's default budget (twice the steps from the fork to the alert, at least two "
            "evaluation intervals). Quality: FID on images, modes covered on 2-D data, the "
            "reconstruction NLL (distortion) for posterior collapse. One torch thread per "
            "branch. "
            f"Under load: 1-minute load average {load_before:.1f} before, {load_after:.1f} "
            f"after, on {os.cpu_count()} cores (the machine was shared). Bound: "
            "ceil(branches / workers) x the branches' mean time. Start-up: from asking for "
            "the pool to the first branch running (the first call starts the pool)."
        ),
        "",
        (
            "| config | alert | fork | budget | branches | best remedy | named first: alert, "
            "quality vs control | recovered | control re-alerts | wall / bound | "
            "start-up, report |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "not_run" in r:
            why = "not reached yet" if r.get("pending") else "not run (time limit)"
            lines.append(f"| {r['config']} | {why} | | | | | | | | | |")
            continue
        if "error" in r:
            lines.append(f"| {r['config']} | nothing to treat: {r['error']} | | | | | | no | | | |")
            continue
        lines.append(
            f"| {r['config']} | {r['detector']} (onset {r['onset']}) | {r['fork_step']} | "
            f"{r['budget']} | {len(r['branches'])} | {r['best'] or '—'} | {_first(r)} | "
            f"{'yes' if r['recovered'] else 'no'} | {'yes' if r['control_reproduced'] else 'no'} "
            f"| {r['wall_s']:.0f} s / {r['bound_s']:.0f} s = {r['wall_s'] / r['bound_s']:.2f} "
            f"| {r['overhead_s']['pool']:.1f} s, {r['overhead_s']['report']:.1f} s |"
        )
    summary = (
        f"doctor: recovering remedy found for {recovered}/{len(scored)} failure runs, best = "
        f"practitioners' first for {agrees}/{len(scored)}, within the time bound for "
        f"{within}/{len(scored)}"
        + (f" (wall / bound {min(ratios):.2f}-{max(ratios):.2f})" if ratios else "")
        + f"; {sum('error' in r for r in rows)} with nothing to treat, "
        f"{sum('not_run' in r for r in rows)} not run"
    )
    lines += ["", summary]
    write_section("doctor", "\n".join(lines))
    write_json(
        args.json,
        {
            "quick": args.quick,
            "workers": args.workers,
            "load_before": load_before,
            "load_after": load_after,
            "rows": rows,
            "summary": summary,
        },
    )
    return summary


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def _first(r: dict) -> str:
    """The remedy named first: did it clear the alert, its quality against the control's."""
    state = "cleared" if r["first_named_cleared"] else "fired again"
    return (
        f"{r['first_named']}: {state}, {r['quality_name'] or 'quality'} "
        f"{_num(r['first_named_quality'])} vs {_num(r['control_quality'])}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", default=None, help="keep the runs in this folder")
    ap.add_argument("--configs", nargs="*", default=None, help="config file names (default: all)")
    ap.add_argument(
        "--time-limit", type=float, default=None, help="minutes; later configs are not run"
    )
    args = ap.parse_args()
    names = args.configs or list(FAILURES)
    unknown = [n for n in names if n not in FAILURES]
    if unknown:
        ap.error(f"unknown configs {unknown}; choose from {', '.join(FAILURES)}")

    import torch

    from gandiag.doctor import NothingToTreat, doctor
    from gandiag.train.config import load_config

    # one thread for the runs trained here too, as in the branch workers: on a shared
    # machine more threads than free cores only spin
    torch.set_num_threads(1)
    from gandiag.train.trainer import train

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gandiag-doctor-"))
    load_before = os.getloadavg()[0]
    rows = []
    bench_start = time.perf_counter()
    for name in names:
        failure = FAILURES[name]
        spent = (time.perf_counter() - bench_start) / 60
        if args.time_limit is not None and spent >= args.time_limit:
            rows.append({"config": name, "failure": failure, "not_run": True})
            print(f"{name}: not run ({spent:.0f} of {args.time_limit:g} minutes spent)")
            continue
        cfg = load_config(ROOT / "configs" / name).to_dict()
        if args.quick:
            cfg["steps"] = min(cfg["steps"], 800)
        cfg["checkpoint"].update(ring=6, ring_every=max(25, cfg["eval"]["every"] // 4))
        run = root / name.removesuffix(".toml")
        if run.exists():
            shutil.rmtree(run)
        t0 = time.perf_counter()
        train(cfg, run, progress=False)
        train_s = time.perf_counter() - t0
        try:
            result = doctor(run, workers=args.workers)
        except NothingToTreat as exc:  # not detected, or no remedy doctor can try
            rows.append({"config": name, "failure": failure, "error": str(exc), "train_s": train_s})
            print(f"{name}: {exc}", flush=True)
            _write(rows, names[len(rows) :], args, load_before)
            continue
        first = next((b for b in result.branches if b.name == result.first_named), None)
        control = next(b for b in result.branches if b.name == "control")
        branch_s = statistics.mean(b.wall_s for b in result.branches)
        bound_s = -(-len(result.branches) // args.workers) * branch_s
        t = result.timing
        row = {
            "config": name,
            "failure": failure,
            "detector": result.detector,
            "onset": result.onset_step,
            "fork_step": result.fork_step,
            "budget": result.budget,
            "branches": [b.to_dict() for b in result.branches],
            "best": result.best,
            "first_named": result.first_named,
            "recovered": result.recovered,
            "agrees": result.best is not None and result.best == result.first_named,
            "control_reproduced": result.control_reproduced,
            "quality_name": control.quality_name,
            "control_quality": control.quality,
            "first_named_cleared": first.cleared if first else None,
            "first_named_quality": first.quality if first else None,
            "passed_over": result.passed_over,
            "wall_s": result.wall_s,
            "branch_mean_s": branch_s,
            "bound_s": bound_s,
            "train_s": train_s,
            "timing": t,
            "overhead_s": {
                "pool": t.get("pool_s", 0.0) + t.get("first_start_s", 0.0),
                "setup": t.get("setup_s", 0.0),
                "scoring": t.get("scoring_s", 0.0),
                "report": t.get("report_s", 0.0),
            },
        }
        rows.append(row)
        print(
            f"{name}: {result.detector} -> best {result.best} (first named {result.first_named}); "
            f"wall {result.wall_s:.0f} s vs bound {bound_s:.0f} s",
            flush=True,
        )
        _write(rows, names[len(rows) :], args, load_before)

    summary = _write(rows, [], args, load_before)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(summary)


if __name__ == "__main__":
    main()

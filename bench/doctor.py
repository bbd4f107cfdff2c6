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

All three runs go through one process, as a user's session would; the machine's 1-minute
load average is recorded before and after, since the machine may be shared.

``--quick`` shortens the training runs and budgets (a smoke test, not the headline).

    python bench/doctor.py --json bench/results/doctor.json
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
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", default=None, help="keep the runs in this folder")
    args = ap.parse_args()

    import torch

    from gandiag.doctor import doctor
    from gandiag.train.config import load_config

    # one thread for the runs trained here too, as in the branch workers: on a shared
    # machine more threads than free cores only spin
    torch.set_num_threads(1)
    from gandiag.train.trainer import train

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gandiag-doctor-"))
    load_before = os.getloadavg()[0]
    rows = []
    for name, failure in FAILURES.items():
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
            result = doctor(run, workers=args.workers, budget=400 if args.quick else None)
        except ValueError as exc:  # no serious alert: the failure was not detected
            rows.append({"config": name, "failure": failure, "error": str(exc), "train_s": train_s})
            print(f"{name}: {exc}", flush=True)
            continue
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

    scored = [r for r in rows if "error" not in r]
    recovered = sum(r["recovered"] for r in scored)
    agrees = sum(r["agrees"] for r in scored)
    within = sum(r["wall_s"] <= r["bound_s"] for r in scored)
    load_after = os.getloadavg()[0]
    ratios = [r["wall_s"] / r["bound_s"] for r in scored]
    lines = [
        f"## Doctor (`bench/doctor.py`{' --quick' if args.quick else ''}, {args.workers} workers)",
        "",
        (
            "Each failure configuration is trained with a checkpoint ring, then `doctor` forks "
            "the remedies for its first serious alert from the last healthy checkpoint. "
            f"Under load: 1-minute load average {load_before:.1f} before, {load_after:.1f} "
            f"after, on {os.cpu_count()} cores (the machine was shared). Bound: "
            "ceil(branches / workers) x the branches' mean time. Start-up: from asking for "
            "the pool to the first branch running (the first call starts the pool)."
        ),
        "",
        (
            "| config | alert | fork | budget | branches | best remedy | named first | "
            "recovered | control re-alerts | wall / bound | start-up, report |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['config']} | not detected: {r['error']} | | | | | | no | | | |")
            continue
        lines.append(
            f"| {r['config']} | {r['detector']} (onset {r['onset']}) | {r['fork_step']} | "
            f"{r['budget']} | {len(r['branches'])} | {r['best'] or '—'} | {r['first_named']} | "
            f"{'yes' if r['recovered'] else 'no'} | {'yes' if r['control_reproduced'] else 'no'} "
            f"| {r['wall_s']:.0f} s / {r['bound_s']:.0f} s = {r['wall_s'] / r['bound_s']:.2f} "
            f"| {r['overhead_s']['pool']:.1f} s, {r['overhead_s']['report']:.1f} s |"
        )
    summary = (
        f"doctor: recovering remedy found for {recovered}/{len(scored)} failure runs, best = "
        f"practitioners' first for {agrees}/{len(scored)}, within the time bound for "
        f"{within}/{len(scored)}"
        + (f" (wall / bound {min(ratios):.2f}-{max(ratios):.2f})" if ratios else "")
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
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(summary)


if __name__ == "__main__":
    main()

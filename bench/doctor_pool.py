"""Where doctor's wall time goes beyond ceil(branches / workers) x one branch, and what a
kept worker pool saves against a pool spawned per call.

Short branches (mlp_gan on the 2-D ring, ``--steps`` each) make the fixed costs visible.
Two contenders run the same branches, alternating in one process, ``--rounds`` times:

- ``spawn per call``: a fresh ``spawn`` process pool per doctor call (what doctor did
  before): every call starts its workers, each importing torch and gandiag;
- ``kept pool``: :func:`gandiag.doctor.run_branches`' pool, started once (workers forked
  from a server that imported torch and gandiag) and reused by later calls.

Per call: wall time, the bound ceil(branches / workers) x the branches' mean time, and the
start-up (from submitting to the first branch running).

    python bench/doctor_pool.py --json bench/results/doctor_pool.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_json, write_section

LRS = (2e-4, 1e-4, 5e-5, 4e-4)


def _tasks(root: Path, steps: int):
    from gandiag.doctor import _TrainerBranch

    cfg = {
        "steps": steps,
        "model": {"name": "mlp_gan"},
        "data": {"name": "ring8", "options": {"n": 1024}, "batch_size": 64},
        "eval": {"every": 0, "num_samples": 256, "metrics": []},
        "checkpoint": {"every": 0},
        "monitor": {"cadence": {"flush": 25, "samples": 5, "layers": 5, "grid": 0}},
    }
    return [
        _TrainerBranch(
            f"lr{i}", f"lr_g {lr}", {**cfg, "optim": {"lr_g": lr}}, str(root / f"lr{i}"), None
        )
        for i, lr in enumerate(LRS)
    ]


def _spawn_per_call(tasks, workers: int) -> dict:
    from gandiag.doctor import _one_thread, _timed

    t0 = time.time()
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_one_thread
    ) as pool:
        spans = [f.result() for f in [pool.submit(_timed, t) for t in tasks]]
    return _row(time.time() - t0, spans, t0, workers)


def _kept_pool(tasks, workers: int) -> dict:
    from gandiag.doctor import run_branches

    timing: dict = {}
    t0 = time.time()
    run_branches(tasks, "mode_collapse", -1, workers=workers, timing=timing)
    spans = [(t0 + v["start_s"], t0 + v["end_s"]) for v in timing["tasks"].values()]
    return _row(timing["branches_s"] + timing["scoring_s"], spans, t0, workers)


def _row(wall: float, spans, t0: float, workers: int) -> dict:
    mean = statistics.mean(b - a for a, b in spans)
    bound = -(-len(spans) // workers) * mean
    return {
        "wall_s": wall,
        "branch_mean_s": mean,
        "bound_s": bound,
        "ratio": wall / bound,
        "startup_s": min(a for a, _ in spans) - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from gandiag.doctor import shutdown_pool

    load_before = os.getloadavg()[0]
    contenders = {"spawn per call": _spawn_per_call, "kept pool": _kept_pool}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="gandiag-doctor-pool-") as tmp:
        for r in range(args.rounds):
            order = list(contenders) if r % 2 == 0 else list(contenders)[::-1]
            for name in order:
                tasks = _tasks(Path(tmp) / f"{r}-{name.replace(' ', '_')}", args.steps)
                row = {"round": r, "contender": name, **contenders[name](tasks, args.workers)}
                rows.append(row)
                print(
                    f"round {r} {name}: wall {row['wall_s']:.1f} s, bound {row['bound_s']:.1f} s "
                    f"({row['ratio']:.2f}x), start-up {row['startup_s']:.1f} s",
                    flush=True,
                )
    shutdown_pool()
    load_after = os.getloadavg()[0]

    def med(name: str, key: str, warm_only: bool = False) -> float:
        vals = [x[key] for x in rows if x["contender"] == name]
        if warm_only and name == "kept pool":
            vals = vals[1:]  # the first call started the pool
        return statistics.median(vals)

    kept_first = next(x for x in rows if x["contender"] == "kept pool")
    lines = [
        f"## Doctor's worker pool (`bench/doctor_pool.py`, {args.workers} workers)",
        "",
        (
            f"{len(LRS)} branches of {args.steps} steps (mlp_gan, 2-D ring) per call, "
            f"{args.rounds} rounds, the two contenders alternating in one process. Under load: "
            f"1-minute load average {load_before:.1f} before, {load_after:.1f} after, on "
            f"{os.cpu_count()} cores (the machine was shared). Bound: ceil(branches / "
            "workers) x the branches' mean time; start-up: submitting to the first branch "
            "running."
        ),
        "",
        "| contender | median wall | median bound | median wall / bound | median start-up |",
        "|---|---|---|---|---|",
    ]
    for name in contenders:
        lines.append(
            f"| {name} | {med(name, 'wall_s'):.1f} s | {med(name, 'bound_s'):.1f} s | "
            f"{med(name, 'ratio'):.2f} | {med(name, 'startup_s'):.1f} s |"
        )
    lines.append(
        f"| kept pool, later calls only | {med('kept pool', 'wall_s', True):.1f} s | "
        f"{med('kept pool', 'bound_s', True):.1f} s | {med('kept pool', 'ratio', True):.2f} | "
        f"{med('kept pool', 'startup_s', True):.1f} s |"
    )
    summary = (
        f"doctor pool: wall / bound {med('spawn per call', 'ratio'):.2f} spawning per call, "
        f"{kept_first['ratio']:.2f} on the kept pool's first call, "
        f"{med('kept pool', 'ratio', True):.2f} on later calls (start-up "
        f"{med('spawn per call', 'startup_s'):.1f} s vs {med('kept pool', 'startup_s', True):.2f} s)"
    )
    lines += ["", summary]
    write_section("doctor_pool", "\n".join(lines))
    write_json(
        args.json,
        {
            "steps": args.steps,
            "rounds": args.rounds,
            "workers": args.workers,
            "load_before": load_before,
            "load_after": load_after,
            "rows": rows,
            "summary": summary,
        },
    )
    print(summary)


if __name__ == "__main__":
    main()

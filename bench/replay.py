"""Replay versus one plain read of the same run: is `gandiag replay` linear in run length?

A synthetic run (100,000 steps, ~60 scalar series, histograms every 50 steps, written by
``tests/synthetic_runs.py``) is read three ways, alternating, ``--repeats`` times each:

- *plain read*: every scalar series and every histogram series, whole (``read_scalars()``
  and ``read_histograms()``), the cheapest way to get everything out of the store;
- *records*: the same data as step records in step order (``read_records()``), which is
  what replay consumes;
- *replay*: ``gandiag replay RUN`` end to end (records fed through the default detectors).

Each contender's median time is divided by the plain read's; the store's share of replay is
the *records* ratio, the rest is the detectors' own per-step work. Wall-clock and process
CPU time are both measured: all three run in this process, single-threaded, so on a
machine shared with other jobs the CPU-time ratio is the steadier one (the 1-minute load
average at the start and the end is recorded with them).

    python bench/replay.py --json bench/results/replay.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# the synthetic-run writer and the browser helpers are test scaffolding, under tests/
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench._report import table, write_json, write_section


def _plain(run: Path) -> int:
    from gandiag.store import RunReader

    with RunReader(run) as r:
        n = sum(len(s) for s in r.read_scalars().values())
        for name in r.histogram_names():
            n += len(r.read_histograms(name))
    return n


def _records(run: Path) -> int:
    from gandiag.store import RunReader

    with RunReader(run) as r:
        return sum(len(rec.scalars) + len(rec.histograms) for rec in r.read_records())


def _replay(run: Path) -> int:
    from gandiag.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["replay", str(run)])
    if code != 0:
        raise RuntimeError(f"gandiag replay exited {code}: {out.getvalue()[-500:]}")
    return len(out.getvalue().splitlines())


CONTENDERS = {"plain read": _plain, "records": _records, "replay": _replay}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--extra-layers", type=int, default=20, help="per-layer series per network")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--run", type=Path, default=None, help="use this run instead of writing one")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = p.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    run = args.run
    if run is None:
        from synthetic_runs import write_synthetic_run

        run = Path(tmp.name) / "run"
        write_synthetic_run(
            run,
            steps=args.steps,
            extra_layers=args.extra_layers,
            histogram_every=50,
            batch=5000,
            grids=2,
            name="bench-replay",
        )
    from gandiag.store import RunReader

    with RunReader(run) as r:
        info = r.info()
        n_scalar, n_hist = len(r.scalar_names()), len(r.histogram_names())
    times: dict[str, list[float]] = {k: [] for k in CONTENDERS}
    cpu: dict[str, list[float]] = {k: [] for k in CONTENDERS}
    names = list(CONTENDERS)
    load = [os.getloadavg()[0]]
    for i in range(args.repeats):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate who goes first
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            CONTENDERS[name](run)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    load.append(os.getloadavg()[0])
    tmp.cleanup()
    med = {k: statistics.median(v) for k, v in times.items()}
    ratios = {k: med[k] / med["plain read"] for k in med}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    cpu_ratios = {k: med_cpu[k] / med_cpu["plain read"] for k in med_cpu}
    payload = {
        "benchmark": "replay",
        "steps": info.num_steps,
        "scalar_series": n_scalar,
        "histogram_series": n_hist,
        "repeats": args.repeats,
        "seconds": times,
        "median_seconds": med,
        "ratio_to_plain_read": ratios,
        "cpu_seconds": cpu,
        "median_cpu_seconds": med_cpu,
        "cpu_ratio_to_plain_read": cpu_ratios,
        "load_average_1min": {"start": load[0], "end": load[1]},
        "target_replay_ratio": 2.0,
    }
    write_json(args.json, payload)
    if not args.no_docs:
        write_section(
            "replay",
            "## Replay versus a plain read (`bench/replay.py`)\n\n"
            f"`python bench/replay.py` - a synthetic run of {info.num_steps:,} steps, "
            f"{n_scalar} scalar and {n_hist} histogram series, read whole as series (plain "
            "read), as step records (what replay consumes), and replayed end to end through "
            f"the default detectors (`gandiag replay RUN`); {args.repeats} alternating repeats, "
            "median wall-clock and process CPU seconds and their ratios to the plain read "
            f"({os.cpu_count()} CPUs; 1-minute load average {load[0]:.1f} at the start, "
            f"{load[1]:.1f} at the end: above the CPU count the machine was shared and the "
            "CPU-time ratio is the steadier). Replay's read path is linear "
            "(tests/store/test_read_scaling.py); what replay adds beyond *records* is the "
            "detectors' per-step work.\n\n"
            + table(
                ["contender", "median s", "ratio to plain read", "median CPU s", "CPU ratio"],
                [[k, med[k], ratios[k], med_cpu[k], cpu_ratios[k]] for k in names],
            ),
        )
    print(
        f"replay: {info.num_steps} steps x {n_scalar} series; plain read {med['plain read']:.2f} s, "
        f"records {ratios['records']:.2f}x, replay {ratios['replay']:.2f}x wall, "
        f"{cpu_ratios['replay']:.2f}x CPU (target <= 2x; load {load[0]:.1f}-{load[1]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed and memory of gandiag's metrics against clean-fid, torchmetrics and prdc.

    python bench/metrics_speed.py [--quick] --json PATH

1. Fréchet distance at D=2048 on the same covariances: clean-fid (scipy sqrtm),
   torchmetrics (eigvals), gandiag (Cholesky, dsygst, values-only syevd), gandiag with
   the real set's Cholesky factor cached. Timed alternating in rounds; ratios are of medians.
2. Precision/recall/density/coverage at N=10,000, D=2048 vs prdc.compute_prdc on the
   same float32 features (the dtype prdc documents): each contender runs in a fresh
   subprocess, which reports its time and peak RSS (VmHWM) against its RSS once the
   features are in memory.
3. gandiag at N=50,000, D=2048 in a subprocess (prdc would need three 50k x 50k float32
   matrices, 30 GB).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import table, write_json, write_section

CHILD = r"""
import contextlib, io, json, resource, sys, time
import numpy as np
which, n, d, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
mix = rng.standard_normal((d, d), dtype=np.float32) / np.float32(np.sqrt(d))
real = np.abs(rng.standard_normal((n, d), dtype=np.float32) @ mix)  # Inception-like: >= 0
fake = rng.standard_normal((n, d), dtype=np.float32)
fake *= 1.02  # a near miss, so all four numbers are informative
fake += 0.01
fake = np.abs(fake @ mix)
if which == "prdc":
    import prdc, sklearn.metrics  # import cost outside the measured region, as for torch
else:
    import torch, gandiag.metrics
with open("/proc/self/statm") as f:
    base = int(f.read().split()[1]) * resource.getpagesize() / 1024  # current RSS, KiB
if which == "prdc":
    from prdc import compute_prdc
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        r = compute_prdc(real, fake, 5)
    out = {k: float(v) for k, v in r.items()}
else:
    import torch
    from gandiag.metrics import prdc
    t = time.perf_counter()
    r = prdc(real, fake, k_pr=5, k_dc=5, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        out_gpu = torch.cuda.max_memory_allocated() / 2**20
    out = r._asdict()
out["seconds"] = time.perf_counter() - t
# VmHWM is this process image's own peak RSS. (getrusage's ru_maxrss is not: Linux carries
# the parent's RSS at fork across exec, so a child of a large parent inherits its peak.)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))  # KiB
out["peak_rss_mb"] = peak / 1024
out["peak_above_inputs_mb"] = (peak - base) / 1024
if which != "prdc" and device.startswith("cuda"):
    out["peak_gpu_mb"] = out_gpu
print(json.dumps(out))
"""


def run_child(which: str, n: int, d: int, device: str = "cpu") -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, which, str(n), str(d), device],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{which} child failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_fid(d: int, rounds: int) -> dict:
    import torch
    from cleanfid.fid import frechet_distance as cleanfid_fd
    from torchmetrics.image.fid import _compute_fid

    from gandiag.metrics import FeatureStats, frechet_distance

    rng = np.random.default_rng(0)
    n = 2 * d + 500
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    real = rng.normal(size=(n, d)) @ mix
    fake = (rng.normal(size=(n, d)) * 1.1 + 0.05) @ mix
    mu1, s1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, s2 = fake.mean(0), np.cov(fake, rowvar=False)
    t1, t2, tm1, tm2 = (torch.from_numpy(a) for a in (mu1, s1, mu2, s2))
    cached = FeatureStats(mu1, s1, n)
    cached.factor()
    contenders = {
        "clean-fid": lambda: float(cleanfid_fd(mu1, s1, mu2, s2)),
        "torchmetrics": lambda: float(_compute_fid(t1, t2, tm1, tm2)),
        "gandiag": lambda: frechet_distance(FeatureStats(mu1, s1, n), FeatureStats(mu2, s2, n)).fid,
        "gandiag (cached real)": lambda: frechet_distance(cached, FeatureStats(mu2, s2, n)).fid,
    }
    times: dict[str, list[float]] = {k: [] for k in contenders}
    values: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in contenders.items():
            t = time.perf_counter()
            values[name] = fn()
            times[name].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}

    def paired(slow: str, fast: str) -> float:  # median of the per-round ratios
        return float(np.median(np.array(times[slow]) / np.array(times[fast])))

    ref = values["clean-fid"]
    return {
        "dim": d,
        "rounds": rounds,
        "median_seconds": med,
        "values": values,
        "max_rel_diff_vs_cleanfid": max(abs(v - ref) / abs(ref) for v in values.values()),
        "seconds": {k: [float(t) for t in v] for k, v in times.items()},
        "speedup_vs_cleanfid": paired("clean-fid", "gandiag"),
        "speedup_vs_torchmetrics": paired("torchmetrics", "gandiag"),
        "cached_speedup_vs_cleanfid": paired("clean-fid", "gandiag (cached real)"),
        "cached_speedup_vs_torchmetrics": paired("torchmetrics", "gandiag (cached real)"),
    }


def bench_prdc(n: int, d: int, rounds: int, device: str = "cpu") -> dict:
    runs: dict[str, list[dict]] = {"prdc": [], "gandiag": []}
    for _ in range(rounds):
        for which, results in runs.items():
            results.append(run_child(which, n, d, device if which == "gandiag" else "cpu"))
    med = {w: float(np.median([r["seconds"] for r in rs])) for w, rs in runs.items()}
    peak = {w: max(r["peak_rss_mb"] for r in rs) for w, rs in runs.items()}
    above = {w: max(r["peak_above_inputs_mb"] for r in rs) for w, rs in runs.items()}
    keys = ("precision", "recall", "density", "coverage")
    a, b = runs["prdc"][0], runs["gandiag"][0]
    # density is a mean of counts / k: equal up to the order of the float summation
    same = all(a[k] == b[k] for k in ("precision", "recall", "coverage")) and math.isclose(
        a["density"], b["density"], rel_tol=1e-12
    )
    return {
        "n": n,
        "dim": d,
        "rounds": rounds,
        "median_seconds": med,
        "peak_rss_mb": peak,
        "peak_above_inputs_mb": above,
        "identical_results": same,
        "results": {w: {k: rs[0][k] for k in keys} for w, rs in runs.items()},
        "speedup": med["prdc"] / med["gandiag"],
        "memory_ratio_above_inputs": above["gandiag"] / max(above["prdc"], 1e-9),
    }


def render(payload: dict) -> tuple[str, str]:
    """The docs/benchmarks.md section and the one-line summary for a payload."""
    fid, pr, big = payload["fid"], payload["prdc"], payload["gandiag_large"]
    d, rounds, n_prdc, n_big = fid["dim"], fid["rounds"], pr["n"], big["n"]
    pr["identical_results"] = pr.get("identical_results") or _same(pr["results"])
    rows = [
        [k, v, fid["median_seconds"]["clean-fid"] / v, fid["median_seconds"]["torchmetrics"] / v]
        for k, v in fid["median_seconds"].items()
    ]
    md = [
        (
            f"## Metrics ({'quick' if payload.get('quick') else 'full'} run, gandiag's PRDC on "
            f"{payload.get('device', 'cpu')})\n"
        ),
        (
            f"Fréchet distance, D={d}, same covariances, median of {rounds} alternating rounds; "
            f"speed-ups are medians of the per-round ratios: {fid['speedup_vs_torchmetrics']:.2f}x "
            f"vs torchmetrics, {fid['cached_speedup_vs_torchmetrics']:.2f}x with the real set's "
            f"factor cached (largest relative difference from clean-fid: "
            f"{fid['max_rel_diff_vs_cleanfid']:.1e}).\n"
        ),
        table(["contender", "median seconds", "vs clean-fid", "vs torchmetrics"], rows),
        "",
        (
            f"Precision/recall/density/coverage (k=5), N={n_prdc}, D={d}, each in a fresh process "
            f"(results identical: {pr['identical_results']}).\n"
        ),
        table(
            ["contender", "seconds", "peak RSS MB", "peak above inputs MB"],
            [
                [w, pr["median_seconds"][w], pr["peak_rss_mb"][w], pr["peak_above_inputs_mb"][w]]
                for w in ("prdc", "gandiag")
            ],
        ),
        "",
        (
            f"gandiag at N={n_big}, D={d}: {big['seconds']:.1f} s, peak RSS {big['peak_rss_mb']:.0f} MB"
            + (f", peak GPU memory {big['peak_gpu_mb']:.0f} MB" if "peak_gpu_mb" in big else "")
            + " "
            f"(inputs {2 * n_big * d * 4 / 1e6:.0f} MB; prdc would need three {n_big}x{n_big} float32 "
            f"matrices, {3 * n_big**2 * 4 / 1e9:.0f} GB)."
        ),
    ]
    summary = (
        f"metrics_speed: FID {fid['speedup_vs_cleanfid']:.1f}x vs clean-fid, {fid['speedup_vs_torchmetrics']:.1f}x vs "
        f"torchmetrics ({fid['cached_speedup_vs_torchmetrics']:.1f}x cached); PRDC {pr['speedup']:.1f}x vs prdc at "
        f"{pr['memory_ratio_above_inputs']:.2f}x its memory; N={n_big} in {big['seconds']:.0f}s, {big['peak_rss_mb']:.0f} MB"
    )
    return "\n".join(md), summary


def _same(results: dict) -> bool:
    a, b = results["prdc"], results["gandiag"]
    return all(a[k] == b[k] for k in ("precision", "recall", "coverage")) and math.isclose(
        a["density"], b["density"], rel_tol=1e-12
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes (seconds), for smoke tests")
    p.add_argument("--json", default=None, metavar="PATH")
    p.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    p.add_argument(
        "--device",
        default="cpu",
        help="device for gandiag's PRDC (e.g. cuda); prdc and FID run on the CPU either way",
    )
    p.add_argument(
        "--from-json", default=None, metavar="PATH", help="re-render a saved run, measure nothing"
    )
    p.add_argument(
        "--fid-rounds",
        type=int,
        default=None,
        help="alternating FID rounds (default 5; 2 with --quick): FID runs on the CPU on any device",
    )
    args = p.parse_args(argv)

    if args.from_json:
        payload = json.loads(Path(args.from_json).read_text())
        payload.pop("machine", None)
    else:
        d, n_prdc, n_big, rounds = (128, 600, 2000, 2) if args.quick else (2048, 10_000, 50_000, 5)
        fid = bench_fid(d, args.fid_rounds or rounds)
        pr = bench_prdc(n_prdc, d, 2, args.device)  # prdc at 10k takes ~30 s on two cores
        big = run_child("gandiag", n_big, d, args.device)
        payload = {
            "quick": args.quick,
            "device": args.device,
            "fid": fid,
            "prdc": pr,
            "gandiag_large": {"n": n_big, "dim": d, **big},
        }
        write_json(args.json, payload)
    md, summary = render(payload)
    if not args.no_docs:
        device = payload.get("device", "cpu")
        write_section("metrics_speed" if device == "cpu" else f"metrics_speed_{device}", md)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Peak memory of evaluation: streamed (``gandiag.evaluate``) against the whole set held in memory.

Each contender runs in its own subprocess; its cost is the peak resident set (``VmHWM``
from ``/proc/self/status``) minus the resident set just before evaluation starts (after
imports and building the extractor). Real images: an ``N x 64 x 64 x 3`` uint8 ``.npy``
file; fakes: a generator callable (a random linear map and tanh, 64x64 RGB in [-1, 1]).
Features: a fixed 4x4 average pool (48-d), so the measurement is about the data path, not
a network's activations. The whole-set contender (``load_images`` + one extractor call
per set, the pre-streaming pipeline) runs at ``--whole-n`` because at N=50,000 it needs
several GB; the two alternate in one run.

    python bench/streaming_memory.py --n 50000 --json bench/results/streaming_memory.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import table, write_json, write_section

LIMIT_GB = 1.5


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status (Linux only)")


def child(mode: str, npy: str, n: int) -> None:
    import numpy as np
    import torch

    from gandiag.evaluate import evaluate, load_images
    from gandiag.features import get_extractor

    torch.manual_seed(0)
    G = torch.nn.Sequential(
        torch.nn.Linear(16, 3 * 64 * 64), torch.nn.Tanh(), torch.nn.Unflatten(1, (3, 64, 64))
    )

    def draw(k: int) -> torch.Tensor:
        return G(torch.randn(k, 16))

    pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())
    ext = get_extractor(pool)
    ext.batch_size = 256
    base = _status("VmRSS")
    t0 = time.perf_counter()
    if mode == "stream":
        res = evaluate(
            npy, draw, metrics=("fid",), extractor=ext, num_samples=n, bootstrap=0, progress=False
        )
        fid = res["fid"].value
    else:  # every image in memory, as before streaming
        from gandiag.metrics import feature_stats, frechet_distance

        real = load_images(np.load(npy))[:n]
        with torch.no_grad():
            fake = torch.cat([draw(min(500, n - s)) for s in range(0, n, 500)])
        fid = frechet_distance(feature_stats(ext(real).numpy()), ext(fake).numpy()).fid
    print(
        json.dumps(
            {
                "mode": mode,
                "n": n,
                "peak_above_baseline": _status("VmHWM") - base,
                "seconds": time.perf_counter() - t0,
                "fid": fid,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000, help="images per set, streamed")
    p.add_argument("--whole-n", type=int, default=20_000, help="images per set, whole-set path")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--child", nargs=3, metavar=("MODE", "NPY", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    import numpy as np

    tmp = tempfile.TemporaryDirectory()
    npy = Path(tmp.name) / "real.npy"
    n_max = max(args.n, args.whole_n)
    arr = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=(n_max, 64, 64, 3))
    rng = np.random.default_rng(0)
    for s in range(0, n_max, 5000):
        arr[s : s + 5000] = rng.integers(0, 256, size=arr[s : s + 5000].shape, dtype=np.uint8)
    arr.flush()
    del arr
    runs: dict[str, list[dict]] = {"stream": [], "whole": []}
    for r in range(args.repeats):
        order = ("stream", "whole") if r % 2 == 0 else ("whole", "stream")
        for mode in order:
            n = args.n if mode == "stream" else args.whole_n
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(npy), str(n)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            runs[mode].append(json.loads(out))
    tmp.cleanup()
    gb = {m: max(x["peak_above_baseline"] for x in v) / 2**30 for m, v in runs.items()}
    per_image = {m: gb[m] / (args.n if m == "stream" else args.whole_n) for m in gb}
    payload = {
        "benchmark": "streaming_memory",
        "n_stream": args.n,
        "n_whole": args.whole_n,
        "peak_gb_above_baseline": gb,
        "whole_over_stream_ratio_same_n": None,
        "runs": runs,
        "limit_gb": LIMIT_GB,
        "within_limit": gb["stream"] <= LIMIT_GB,
    }
    # the streamed peak does not grow with N beyond the features; the whole-set one does
    ratio = (per_image["whole"] * args.n) / gb["stream"]
    payload["whole_over_stream_ratio_same_n"] = ratio
    write_json(args.json, payload)
    if not args.no_docs:
        write_section(
            "streaming_memory",
            "## Evaluation memory: streamed against whole-set\n\n"
            f"`python bench/streaming_memory.py --n {args.n} --whole-n {args.whole_n}` - peak "
            "resident memory above the pre-evaluation baseline (`VmHWM` of a fresh subprocess) "
            "for FID of an N x 64x64x3 uint8 `.npy` real set against N samples of a generator "
            f"callable, {args.repeats} alternating runs each (the worst kept). The whole-set "
            "pipeline (every image in memory, as before streaming) runs at a smaller N; its "
            "per-image cost scaled to the streamed N gives the ratio.\n\n"
            + table(
                ["contender", "N", "peak above baseline (GB)", "s", "limit"],
                [
                    [
                        "streamed (`evaluate`)",
                        args.n,
                        gb["stream"],
                        max(x["seconds"] for x in runs["stream"]),
                        f"<= {LIMIT_GB}",
                    ],
                    [
                        "whole set in memory",
                        args.whole_n,
                        gb["whole"],
                        max(x["seconds"] for x in runs["whole"]),
                        "",
                    ],
                ],
            )
            + f"\n\nWhole-set memory scaled to N={args.n} over streamed: {ratio:.1f}x.\n",
        )
    print(
        f"streaming memory: N={args.n} streamed peaks {gb['stream']:.3f} GB above baseline "
        f"(limit {LIMIT_GB}); whole-set {gb['whole']:.3f} GB at N={args.whole_n}; "
        f"ratio at equal N {ratio:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

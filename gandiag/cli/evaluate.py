"""``gandiag evaluate``: score a set of fake images against real ones."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = """Compute FID, KID, IS, precision/recall and density/coverage between two image sets
(folders of PNG/JPG, or .npy/.npz arrays [N, C, H, W] or [N, H, W, C]).

examples:
  gandiag evaluate --real data/real --fake samples/ --extractor glyph
  gandiag evaluate --real real.npz --fake fake.npz --extractor inception \\
      --inception-weights ~/weights/inception-2015-12-05.pt --metrics fid,kid --json out.json
  gandiag evaluate --real real.npy --fake fake.npy --run runs/dcgan --step 5000
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score fake images against real ones (FID, KID, IS, PR, DC)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--real", required=True, help="real images: a folder, .npy or .npz")
    p.add_argument("--fake", required=True, help="fake images: a folder, .npy or .npz")
    p.add_argument("--extractor", default="glyph", help="glyph (default), inception or identity")
    p.add_argument(
        "--metrics", default="fid,kid,is,pr,dc", help="comma-separated: fid,kid,is,pr,dc,fd_inf"
    )
    p.add_argument(
        "--num-samples", type=int, default=None, help="subsample both sets to N (seeded)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed for subsampling, KID subsets, bootstrap"
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=20,
        help="bootstrap resamples for FID/KID intervals (0: none)",
    )
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    p.add_argument(
        "--kid-subset-size", type=int, default=1000, help="samples per KID subset (default 1000)"
    )
    p.add_argument("--is-splits", type=int, default=10, help="IS splits (default 10)")
    p.add_argument("--k-pr", type=int, default=3, help="k for precision/recall (default 3)")
    p.add_argument("--k-dc", type=int, default=5, help="k for density/coverage (default 5)")
    p.add_argument(
        "--inclusive",
        action="store_true",
        help="count d <= r as inside a k-NN ball (NVIDIA, torch-fidelity); default d < r (prdc)",
    )
    p.add_argument(
        "--inception-weights",
        default=None,
        help="path to inception-2015-12-05.pt (or env GANDIAG_INCEPTION_WEIGHTS)",
    )
    p.add_argument(
        "--inception-sha256",
        default=None,
        help="SHA-256 the weights must have (or env GANDIAG_INCEPTION_SHA256); default: that of "
        "NVIDIA's official inception-2015-12-05.pt",
    )
    p.add_argument(
        "--cache",
        action="store_true",
        help="cache the real set's features, statistics and k-NN radii (GANDIAG_CACHE_DIR or "
        "~/.cache/gandiag)",
    )
    p.add_argument("--device", default=None, help="torch device, e.g. cuda:0 (default cpu)")
    p.add_argument(
        "--resize",
        action="store_true",
        help="resize (antialiased bilinear) and convert images to what the extractor takes "
        "(28x28 grayscale for glyph); without it a size mismatch is an error",
    )
    p.add_argument(
        "--json",
        default=None,
        metavar="OUT",
        help="write the results as JSON to OUT ('-': to stdout, the table then goes to stderr)",
    )
    p.add_argument(
        "--run", default=None, metavar="RUN_DIR", help="also store the results in this gandiag run"
    )
    p.add_argument(
        "--step", type=int, default=None, help="training step to attach the results to (with --run)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gandiag.evaluate import evaluate, load_images
    from gandiag.figures.directions import direction_mark

    to_stdout = args.json == "-"
    out = sys.stderr if to_stdout else sys.stdout
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    opts: dict[str, Any] = {}
    if args.extractor == "inception":
        opts = {"path": args.inception_weights, "sha256": args.inception_sha256}

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    real, fake = args.real, args.fake
    say(
        f"gandiag evaluate: {', '.join(metrics)} with the {args.extractor!r} extractor, "
        f"real {args.real}, fake {args.fake}"
        + (f", N = {args.num_samples} each" if args.num_samples else "")
    )
    if args.resize:
        from gandiag.features import get_extractor

        say(f"resizing both sets to what the {args.extractor!r} extractor takes ...")
        ext = get_extractor(args.extractor, device=args.device, **opts)
        real, fake = (_fit(load_images(x), ext) for x in (real, fake))
    results = evaluate(
        real,
        fake,
        metrics=metrics,
        extractor=args.extractor,
        num_samples=args.num_samples,
        device=args.device,
        seed=args.seed,
        bootstrap=args.bootstrap,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        is_splits=args.is_splits,
        k_pr=args.k_pr,
        k_dc=args.k_dc,
        inclusive=args.inclusive,
        cache=args.cache,
        extractor_options=opts,
        step=args.step,
        on_stage=lambda line: say("  " + line),
    )
    first = next(iter(results.values()))
    p = first.protocol
    sha = f", weights {p.weights_sha256[:12]}" if p.weights_sha256 else ""
    print(
        f"extractor {p.feature_extractor}{sha}; N = {p.num_real} real, {p.num_fake} fake",
        file=out,
    )
    for r in results.values():
        mark = direction_mark(r.name)
        text = f"{r.name + ' ' + mark:>13}: {r.value:.6g}"
        if r.interval:
            n = r.protocol.options.get("bootstrap")
            text += (
                f"  95% bootstrap interval [{r.interval[0]:.4g}, {r.interval[1]:.4g}]"
                f" ({n} resamples)"
            )
        elif r.uncertainty is not None:
            text += f"  ± {r.uncertainty:.3g} (std over {_spread(r)})"
        print(text, file=out)
    payload = {name: r.to_dict() for name, r in results.items()}
    if to_stdout:
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
    if args.run:
        _store(args.run, list(results.values()))
    sys.stdout.flush()
    return 0


def _spread(r: Any) -> str:
    o = r.protocol.options
    if "num_subsets" in o:
        return f"{o['num_subsets']} subsets"
    if "splits" in o:
        return f"{o['splits']} splits"
    return "resamples"


def _fit(images: Any, ext: Any) -> Any:
    """Images resized and converted to the extractor's declared size and channels."""
    import torch
    import torch.nn.functional as F

    x = images if images.ndim == 4 else images.unsqueeze(1)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else (x.float() + 1) / 2
    if ext.channels is not None and x.shape[1] not in ext.channels:
        want = ext.channels[0]
        x = x.mean(1, keepdim=True) if want == 1 else x.expand(-1, want, -1, -1)
    if ext.size is not None and tuple(x.shape[2:]) != tuple(ext.size):
        x = F.interpolate(x, size=ext.size, mode="bilinear", antialias=True, align_corners=False)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def _store(run_dir: str, results: list[Any]) -> None:
    """Append the results to an existing run, leaving its status and owner as they were
    (opening a RunWriter marks the run as training by this process)."""
    from pathlib import Path

    from gandiag.store import RunReader, RunWriter
    from gandiag.store.schema import db_path

    if not db_path(Path(run_dir)).exists():
        raise FileNotFoundError(f"{run_dir} is not a gandiag run (no run database); check the path")
    reader = RunReader(run_dir)
    try:
        before = {k: reader.meta(k) for k in ("status", "pid", "host")}
    finally:
        reader.close()
    writer = RunWriter(run_dir, resume=True)
    try:
        writer.write_metrics(results)
        owner = {k: v for k, v in before.items() if k != "status" and v is not None}
        if owner:
            writer.set_meta(**owner)
    finally:
        writer.close(status=before["status"] or "finished")

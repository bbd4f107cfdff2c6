"""Cost of monitoring a StyleGAN-lite step: the family's probes plus gandiag.Monitor, side by side.

Two identical StyleGAN-lite steppers (same seed, same glyph batches) train; the bare one
runs with its diagnostic probes off (``probe_every=0``), the monitored one measures them
every ``--probe-every`` steps and feeds ``gandiag.Monitor`` (default cadence, the default
GAN detectors plus the style detectors) with the step's tensors and the family's scalars.
The two alternate in blocks of ``--block`` steps (the first of each pair alternates too);
each pair gives a ratio monitored/bare and the median ratio is the result. A monitored
block includes waiting for the monitor's background thread (over-counts slightly).

    python bench/stylegan_overhead.py --steps 400 --json bench/results/stylegan_overhead.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import table, write_json, write_section


def _stepper(probe_every: int, batches: list[torch.Tensor], device: torch.device, width: int):
    from gandiag.reference_models import build_model
    from gandiag.train.stylegan_step import StyleGANStepper

    bundle = build_model("stylegan", width=width, seed=0).to(device)
    pos = {"i": 0}

    def next_batch():
        x = batches[pos["i"] % len(batches)]
        pos["i"] += 1
        return x, None

    def make_opt(params, which):
        return torch.optim.Adam(params, lr=2.5e-3, betas=(0.0, 0.99))

    gen = torch.Generator(device=device).manual_seed(0)
    import contextlib

    return bundle, StyleGANStepper(
        bundle, {"probe_every": probe_every}, make_opt, next_batch, gen, contextlib.nullcontext
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400, help="timed steps per contender")
    p.add_argument("--block", type=int, default=20, help="steps per timed block")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--probe-every", type=int, default=25)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    import gandiag
    from gandiag.data import load_dataset
    from gandiag.detectors import default_detectors
    from gandiag.reference_models import get_spec

    x = load_dataset("glyphs", n=16 * args.batch, image_size=32).array
    x = torch.from_numpy(x.copy()).float().div(127.5).sub(1.0).to(device)
    batches = [x[i * args.batch : (i + 1) * args.batch] for i in range(16)]
    _, bare = _stepper(0, batches, device, args.width)
    bundle, watched = _stepper(args.probe_every, batches, device, args.width)
    family = dict.fromkeys(get_spec("stylegan").training["detectors"], True)
    tmp = tempfile.TemporaryDirectory()
    mon = gandiag.Monitor(
        Path(tmp.name) / "run",
        generator=bundle.generator,
        discriminator=bundle.discriminator,
        latent_dim=bundle.latent_dim,
        detectors=default_detectors("gan", **family),
        quiet=True,
    )
    # the family's probes paced with the monitor's, as the trainer does (every
    # --probe-every steps on the CPU; within the monitor's budget on an accelerator)
    watched.probe_pacing = mon.family("stepper_probes", args.probe_every)
    counter = {"bare": 0, "mon": 0}

    def run(which: str, n: int) -> float:
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        sync()
        t0 = time.perf_counter()
        for _ in range(n):
            i = counter[which]
            if which == "bare":
                bare.step(i)
            else:
                out = watched.step(i)
                mon.step(
                    i,
                    out["losses"],
                    d_real=out["d_real"],
                    d_fake=out["d_fake"],
                    real=out["real"],
                    fake=out["fake"],
                )
                mon.log_scalars(i, out["scalars"])
            counter[which] += 1
        if which == "mon":
            mon._worker.drain()
        sync()
        return time.perf_counter() - t0

    run("bare", args.warmup)
    run("mon", args.warmup)
    times: dict[str, list[float]] = {"bare": [], "mon": []}
    ratios = []
    for b in range(max(1, args.steps // args.block)):
        for which in ("bare", "mon") if b % 2 == 0 else ("mon", "bare"):
            times[which].append(run(which, args.block))
        ratios.append(times["mon"][-1] / times["bare"][-1])
    alerts = mon.close()
    tmp.cleanup()
    median = statistics.median(ratios)
    total = sum(times["mon"]) / sum(times["bare"])
    ms_bare = 1000 * statistics.median(times["bare"]) / args.block
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [median] * 3
    payload = {
        "benchmark": "stylegan_overhead",
        "model": f"stylegan-lite 32x32x1 width {args.width}, batch {args.batch}",
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "steps_per_contender": len(ratios) * args.block,
        "probe_every": args.probe_every,
        "median_ratio": median,
        "total_time_ratio": total,
        "ratio_quartiles": q,
        "ms_per_step_bare": ms_bare,
        "block_ratios": ratios,
        "alerts": len(alerts),
        "target": 1.03,
    }
    write_json(args.json, payload)
    if not args.no_docs:
        write_section(
            f"stylegan_overhead_{device.type}",
            f"## Monitor overhead on a StyleGAN-lite step ({device.type})\n\n"
            f"`python bench/stylegan_overhead.py --steps {args.steps}` - StyleGAN-lite "
            f"(32x32x1, width {args.width}, batch {args.batch}, lazy R1/PL) trained bare "
            f"(style probes off) and monitored (style probes every {args.probe_every} steps, "
            "Monitor at its default cadence with the default and style detectors), "
            f"alternating blocks of {args.block} steps in one run.\n\n"
            + table(
                [
                    "device",
                    "threads",
                    "steps each",
                    "ms/step bare",
                    "median ratio",
                    "IQR",
                    "total-time ratio",
                    "target",
                ],
                [
                    [
                        str(device),
                        torch.get_num_threads(),
                        len(ratios) * args.block,
                        ms_bare,
                        median,
                        f"{q[0]:.3f}-{q[2]:.3f}",
                        total,
                        "<= 1.03",
                    ]
                ],
            ),
        )
    print(
        f"stylegan monitor overhead ({device.type}): median ratio monitored/bare = {median:.4f} "
        f"(total-time ratio {total:.4f}, {len(ratios)} block pairs of {args.block} steps)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

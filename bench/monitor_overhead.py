"""Cost of leaving the Monitor on: DCGAN training steps with and without it, side by side.

Two identical reference DCGANs (same seed) train on the same glyph batches; one is
watched by a ``gandiag.Monitor`` at its default cadence with the default detectors.
The two alternate in blocks of ``--block`` steps (the first of each pair alternates
too), and each pair gives a ratio monitored/bare; the median ratio is the result.
A monitored block's time includes waiting for the monitor's background thread to
finish that block's writes and detectors, so none of its work spills into a bare
block (this over-counts: in real use that thread overlaps with training).

A third contender, a monitor with a TensorBoard sink attached (``gandiag.sinks``), runs
in the same alternation when the ``tensorboard`` package is installed (``--no-sink``
leaves it out); its ratio is sink-monitored/bare. ``--without-coverage`` adds a monitor
with the label-free coverage probe off (``Cadence(coverage=0)``) to the same alternation,
so the probe's share of the cost (the main monitor runs it every ``Cadence.coverage``
steps) is measured side by side.

    python bench/monitor_overhead.py --steps 1000 --json bench/results/monitor_overhead.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import table, write_json, write_section


def _trainer(
    seed: int, latent_dim: int, device: torch.device, image_size: int = 32, channels: int = 1
):
    from gandiag.reference_models import build_model

    torch.manual_seed(seed)
    bundle = build_model("dcgan", image_size=image_size, channels=channels, latent_dim=latent_dim)
    G, D = bundle.generator.to(device), bundle.discriminator.to(device)
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator(device=device).manual_seed(seed)
    bce = torch.nn.BCEWithLogitsLoss()

    def step(real: torch.Tensor) -> dict:
        z = torch.randn(real.shape[0], latent_dim, device=device, generator=gen)
        fake = G(z)
        optD.zero_grad(set_to_none=True)
        out_real, out_fake = D(real), D(fake.detach())
        loss_d = bce(out_real, torch.ones_like(out_real)) + bce(
            out_fake, torch.zeros_like(out_fake)
        )
        loss_d.backward()
        optD.step()
        optG.zero_grad(set_to_none=True)
        out_g = D(fake)
        loss_g = bce(out_g, torch.ones_like(out_g))
        loss_g.backward()
        optG.step()
        return {
            "losses": {"G": loss_g, "D": loss_d},
            "d_real": out_real,
            "d_fake": out_fake,
            "real": real,
            "fake": fake,
        }

    return G, D, step


def _cyclegan_trainer(seed: int, batch: int, device: torch.device):
    """The reference CycleGAN step (gandiag.train.translation_step) on glyph domains, and a
    ``probe()`` giving the translation signals the trainer logs every probe cadence."""
    import contextlib

    from gandiag.data import load_dataset
    from gandiag.monitor.translation import TranslationProbe
    from gandiag.reference_models import build_model
    from gandiag.train.translation_step import CycleGANStepper, PairBatches, TranslationSettings

    ds = load_dataset("glyphs_unpaired", n=600, seed=0)
    bundle = build_model("cyclegan", seed=seed).to(device)

    def make_opt(params, which):
        return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))

    batches = PairBatches(ds.inputs, ds.array, False, batch, device, seed)
    stepper = CycleGANStepper(
        bundle, TranslationSettings(loss="lsgan"), make_opt, batches, contextlib.nullcontext
    )
    x = torch.from_numpy(ds.input_batch(list(range(32)))).to(device)
    y = torch.from_numpy(ds.batch(list(range(32)))).to(device)
    labels = torch.from_numpy(ds.input_labels[:32]).to(device)
    probes = {
        "G_AB": TranslationProbe(x, y, paired=False, labels=labels),
        "G_BA": TranslationProbe(y, x, paired=False, labels=labels),
    }

    def probe() -> dict[str, float]:
        g = bundle.generators
        return {
            **probes["G_AB"].signals("G_AB", g["G_AB"], g["G_BA"]),
            **probes["G_BA"].signals("G_BA", g["G_BA"], g["G_AB"]),
        }

    def step(_real: torch.Tensor) -> dict:
        out = stepper.step(0)
        return out

    return bundle.generators, bundle.discriminators, step, probe


def _batches(
    n: int, batch: int, device: torch.device, image_size: int = 32, channels: int = 1
) -> list[torch.Tensor]:
    from gandiag.data.glyphs import make_glyphs

    images, _ = make_glyphs(n * batch, seed=0)
    x = torch.from_numpy(images.copy()).float().div(127.5).sub(1.0).unsqueeze(1)
    x = F.pad(x, (2, 2, 2, 2), value=-1.0)  # 28x28 -> 32x32
    if image_size != 32:  # a larger DCGAN's input: the glyphs resized, grey repeated to RGB
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True)
    x = x.expand(-1, channels, -1, -1).contiguous()
    return [x[i * batch : (i + 1) * batch].to(device) for i in range(n)]


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000, help="timed steps per contender")
    p.add_argument("--block", type=int, default=50, help="steps per timed block")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument(
        "--image-size", type=int, default=32, help="DCGAN's image side (32 or 64; dcgan only)"
    )
    p.add_argument("--channels", type=int, default=1, help="DCGAN's image channels (dcgan only)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps per contender first")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument(
        "--model",
        choices=("dcgan", "cyclegan"),
        default="dcgan",
        help="cyclegan: the reference CycleGAN step (batch --batch), translation probes included",
    )
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--no-sink", action="store_true", help="leave out the TensorBoard-sink case")
    p.add_argument(
        "--coverage-cost",
        action="store_true",
        help=(
            "measure only the coverage probe: one evaluation against training steps, "
            "alternating, and the overhead it implies at the default cadence"
        ),
    )
    p.add_argument(
        "--without-coverage",
        action="store_true",
        help="add a contender monitored with the coverage probe off (Cadence(coverage=0))",
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    import gandiag
    from gandiag.detectors import default_detectors
    from gandiag.monitor import Cadence

    if args.coverage_cost:
        return _coverage_cost(args, device)
    probe = None
    if args.model == "cyclegan":
        _, _, bare_step, _ = _cyclegan_trainer(0, args.batch, device)
        G1, D1, mon_step, probe = _cyclegan_trainer(0, args.batch, device)
        data = [torch.zeros(1)]
    else:
        _, _, bare_step = _trainer(0, args.latent_dim, device, args.image_size, args.channels)
        G1, D1, mon_step = _trainer(0, args.latent_dim, device, args.image_size, args.channels)
        data = _batches(16, args.batch, device, args.image_size, args.channels)
    tmp = tempfile.TemporaryDirectory()
    mon = gandiag.Monitor(
        Path(tmp.name) / "run",
        generator=G1,
        discriminator=D1,
        latent_dim=args.latent_dim if args.model == "dcgan" else None,
        loss="lsgan" if args.model == "cyclegan" else "bce",
        detectors=default_detectors(args.model == "cyclegan" and "translation" or "gan"),
        quiet=True,
    )
    probes = mon.family("translation", Cadence().samples)
    steps_of = {"bare": bare_step, "mon": mon_step}
    monitors = {"mon": mon}
    sink = args.model == "dcgan" and not args.no_sink and _has_tensorboard()
    if sink:
        from gandiag.sinks import TensorBoardSink

        G2, D2, sink_step = _trainer(0, args.latent_dim, device, args.image_size, args.channels)
        steps_of["sink"] = sink_step
        monitors["sink"] = gandiag.Monitor(
            Path(tmp.name) / "run_tb",
            generator=G2,
            discriminator=D2,
            latent_dim=args.latent_dim,
            quiet=True,
            sinks=[TensorBoardSink(Path(tmp.name) / "tb")],
        )
    nocov = args.model == "dcgan" and args.without_coverage
    if nocov:
        G3, D3, nocov_step = _trainer(0, args.latent_dim, device, args.image_size, args.channels)
        steps_of["nocov"] = nocov_step
        monitors["nocov"] = gandiag.Monitor(
            Path(tmp.name) / "run_nocov",
            generator=G3,
            discriminator=D3,
            latent_dim=args.latent_dim,
            cadence=Cadence(coverage=0),
            detectors=default_detectors("gan"),
            quiet=True,
        )
    names = list(steps_of)
    counter = {k: 0 for k in names}

    cpu: dict[str, list[float]] = {k: [] for k in names}

    def run(which: str, n: int) -> float:
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        sync()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(n):
            i = counter[which]
            out = steps_of[which](data[i % len(data)])
            if which in monitors:
                monitors[which].step(i, out.pop("losses"), **out)
                if which == "mon" and probe is not None and probes.due(i):
                    with probes.charge():  # paced as the trainer paces them
                        scalars = probe()
                    mon.log_scalars(i, scalars)
            counter[which] += 1
        if which in monitors:  # charge the background thread's work to the monitor
            monitors[which]._worker.drain()
        sync()
        cpu[which].append(time.process_time() - c0)  # all threads of this process
        return time.perf_counter() - t0

    for which in names:
        run(which, args.warmup)
        cpu[which].clear()
    times: dict[str, list[float]] = {k: [] for k in names}
    ratios, sink_ratios, nocov_ratios = [], [], []
    for b in range(max(1, args.steps // args.block)):
        shift = b % len(names)  # rotate the order so no contender always runs first
        for which in names[shift:] + names[:shift]:
            times[which].append(run(which, args.block))
        ratios.append(times["mon"][-1] / times["bare"][-1])
        if sink:
            sink_ratios.append(times["sink"][-1] / times["bare"][-1])
        if nocov:
            nocov_ratios.append(times["nocov"][-1] / times["bare"][-1])
    alerts = mon.close()
    for extra in ("sink", "nocov"):
        if extra in monitors:
            monitors[extra].close()
    from gandiag import signals
    from gandiag.store import RunReader

    with RunReader(mon.run_dir) as reader:  # the coverage evaluations the timed run made
        coverage_evals = sum(signals.COVERAGE_RECALL in r.scalars for r in reader.read_records())
    tmp.cleanup()
    nocov_median = statistics.median(nocov_ratios) if nocov else None
    nocov_cpu = sum(cpu["nocov"]) / sum(cpu["bare"]) if nocov else None
    sink_median = statistics.median(sink_ratios) if sink else None
    sink_cpu = sum(cpu["sink"]) / sum(cpu["bare"]) if sink else None

    median = statistics.median(ratios)
    total = sum(times["mon"]) / sum(times["bare"])
    # CPU time of the whole process (training, hooks and the monitor's thread): much less
    # sensitive than wall time to other jobs sharing the machine.
    cpu_ratio = sum(cpu["mon"]) / sum(cpu["bare"])
    ms_bare = 1000 * statistics.median(times["bare"]) / args.block
    cad = Cadence()
    payload = {
        "benchmark": "monitor_overhead",
        "model": (
            f"reference dcgan {args.image_size}x{args.image_size}x{args.channels}, latent {args.latent_dim}, batch {args.batch}"
            if args.model == "dcgan"
            else f"reference cyclegan 28x28x1 glyph domains, batch {args.batch}, probes every "
            f"{Cadence().samples}"
        ),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "steps_per_contender": len(ratios) * args.block,
        "block": args.block,
        "cadence": cad.__dict__,
        "median_ratio": median,
        "total_time_ratio": total,
        "cpu_time_ratio": cpu_ratio,
        "ratio_quartiles": statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [median] * 3,
        "ms_per_step_bare": ms_bare,
        "images_per_second_bare": 1000 * args.batch / ms_bare,
        "images_per_second_monitored": args.batch * args.block / statistics.median(times["mon"]),
        "ms_per_step_monitored": 1000 * statistics.median(times["mon"]) / args.block,
        "block_ratios": ratios,
        "alerts": len(alerts),
        "target": 1.03,
        "tensorboard_sink_median_ratio": sink_median,
        "tensorboard_sink_cpu_time_ratio": sink_cpu,
        "tensorboard_sink_block_ratios": sink_ratios,
        "coverage_every": cad.coverage,
        "coverage_evaluations": coverage_evals,
        "steps_monitored": counter["mon"],
        "without_coverage_median_ratio": nocov_median,
        "without_coverage_cpu_time_ratio": nocov_cpu,
        "without_coverage_block_ratios": nocov_ratios,
    }
    write_json(args.json, payload)
    q = payload["ratio_quartiles"]
    if not args.no_docs:
        label = "" if args.model == "dcgan" else f"_{args.model}"
        if args.model == "dcgan" and (args.image_size, args.channels) != (32, 1):
            label = f"_{args.image_size}px"
        tag = args.model if args.model != "dcgan" else f"dcgan {args.image_size}px"
        size_args = (
            f" --image-size {args.image_size} --channels {args.channels}"
            if args.model == "dcgan" and label
            else ""
        )
        what = (
            f"the reference DCGAN ({args.image_size}x{args.image_size}x{args.channels}, batch {args.batch})"
            if args.model == "dcgan"
            else f"the reference CycleGAN (two generators and two PatchGANs on 28x28 glyph "
            f"domains, batch {args.batch}; the monitored side also runs the translation probes "
            f"every {Cadence().samples} steps)"
        )
        write_section(
            f"monitor_overhead{label}_{device.type}",
            f"## Monitor overhead{' (' + tag + ')' if label else ''} ({device.type})\n\n"
            f"`python bench/monitor_overhead.py --model {args.model} --steps {args.steps}{size_args}"
            f" --device {device.type}` - "
            f"{what} trained with and without `gandiag.Monitor` at its "
            f"default cadence (layers/histograms/samples every {cad.layers}, grids every "
            f"{cad.grid}, flush every {cad.flush} steps, label-free coverage every "
            f"{cad.coverage} steps: {coverage_evals} evaluations in the "
            f"{counter['mon']} monitored steps, default detectors), alternating blocks "
            f"of {args.block} steps in one run. A monitored block includes waiting for the "
            "monitor's background writes, so the ratio over-counts slightly.\n\n"
            + table(
                [
                    "device",
                    "threads",
                    "steps each",
                    "ms/step bare",
                    "images/s bare",
                    "median ratio",
                    "IQR",
                    "total-time ratio",
                    "CPU-time ratio",
                    "target",
                ],
                [
                    [
                        str(device),
                        torch.get_num_threads(),
                        len(ratios) * args.block,
                        ms_bare,
                        payload["images_per_second_bare"],
                        median,
                        f"{q[0]:.3f}-{q[2]:.3f}",
                        total,
                        cpu_ratio,
                        "<= 1.03",
                    ]
                ],
            )
            + (
                ""
                if not sink
                else "\n\nWith a `TensorBoardSink` attached (same alternation, same run): median "
                f"ratio sink-monitored/bare {sink_median:.3f}, CPU-time ratio {sink_cpu:.3f}.\n"
            )
            + (
                ""
                if not nocov
                else "\n\nWith the coverage probe off (`Cadence(coverage=0)`, same alternation, "
                f"same run): median ratio monitored/bare {nocov_median:.3f}, CPU-time ratio "
                f"{nocov_cpu:.3f}; the probe's share is the difference from the row above.\n"
            ),
        )
    print(
        f"monitor overhead ({args.model}, {device.type}): median ratio monitored/bare = {median:.4f} "
        f"(total-time ratio {total:.4f}, CPU-time ratio {cpu_ratio:.4f}, "
        f"{len(ratios)} block pairs of {args.block} steps)"
        + ("" if not sink else f"; with a TensorBoard sink {sink_median:.4f}")
        + ("" if not nocov else f"; coverage probe off {nocov_median:.4f}")
    )
    return 0


def _coverage_cost(args: argparse.Namespace, device: torch.device) -> int:
    """The label-free coverage probe's cost at the default cadence, side by side.

    A full monitored run needs ~4 coverage evaluations (1,000 steps) to charge the probe
    at its real rate, which a loaded machine cannot give in reasonable time. This
    alternates ``--block`` bare DCGAN training steps with one coverage evaluation (the
    reservoir of 512 reals and 256 probe fakes embedded by D's penultimate layer, PRDC,
    k-means bins, the previous probe re-embedded) and reports the overhead one evaluation
    every ``Cadence.coverage`` steps implies: 1 + t_eval / (cadence * t_step).
    """
    import os

    import gandiag
    from gandiag.monitor import Cadence

    cad = Cadence()
    load = [os.getloadavg()[0]]
    data = _batches(16, args.batch, device, args.image_size, args.channels)
    _, _, bare_step = _trainer(0, args.latent_dim, device, args.image_size, args.channels)
    G, D, mon_step = _trainer(0, args.latent_dim, device, args.image_size, args.channels)
    tmp = tempfile.TemporaryDirectory()
    mon = gandiag.Monitor(
        Path(tmp.name) / "run", generator=G, discriminator=D, latent_dim=args.latent_dim, quiet=True
    )
    fill = -(-cad.coverage_reservoir // args.batch)  # the reservoir takes every batch until full
    for i in range(fill):
        out = mon_step(data[i % len(data)])
        mon.step(i, out.pop("losses"), **out)
    for i in range(args.warmup):
        bare_step(data[i % len(data)])
    step_times, eval_times = [], []
    for b in range(max(1, args.steps // args.block)):
        t0 = time.perf_counter()
        for i in range(args.block):
            bare_step(data[i % len(data)])
        step_times.append((time.perf_counter() - t0) / args.block)
        t0 = time.perf_counter()
        got = mon._coverage.evaluate(cad.coverage * (b + 1))
        eval_times.append(time.perf_counter() - t0)
        assert got, "the coverage probe returned nothing: reservoir not filled?"
    mon.close()
    tmp.cleanup()
    t_step, t_eval = statistics.median(step_times), statistics.median(eval_times)
    ratio = 1.0 + t_eval / (cad.coverage * t_step)
    payload = {
        "benchmark": "monitor_overhead_coverage",
        "model": f"reference dcgan {args.image_size}x{args.image_size}x{args.channels}, latent {args.latent_dim}, batch {args.batch}",
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "coverage_every": cad.coverage,
        "block": args.block,
        "reservoir": cad.coverage_reservoir,
        "probe": cad.coverage_probe,
        "ms_per_step": 1000 * t_step,
        "ms_per_evaluation": 1000 * t_eval,
        "implied_ratio_at_default_cadence": ratio,
        "step_times": step_times,
        "eval_times": eval_times,
        "target": 1.03,
        "load_average_1min_start_end": load + [os.getloadavg()[0]],
    }
    write_json(args.json, payload)
    if not args.no_docs:
        write_section(f"monitor_overhead_coverage_{device.type}", coverage_markdown(payload))
    print(
        f"coverage probe ({device.type}): {1000 * t_eval:.0f} ms per evaluation, "
        f"{1000 * t_step:.0f} ms per training step; one evaluation every {cad.coverage} steps "
        f"adds {ratio:.4f}x ({len(eval_times)} alternations)"
    )
    return 0


def coverage_markdown(p: dict) -> str:
    """The docs/benchmarks.md section of ``--coverage-cost``."""
    load = p["load_average_1min_start_end"]
    n = len(p["eval_times"])
    return (
        f"## Monitor overhead: the label-free coverage probe ({p['device']})\n\n"
        f"`python bench/monitor_overhead.py --coverage-cost --steps {n * p['block']} "
        f"--block {p['block']}` - "
        f"{p['model']}: {n} alternations of {p['block']} bare training steps and one coverage evaluation (reservoir of "
        f"{p['reservoir']} reals and {p['probe']} probe fakes embedded by D's penultimate "
        "layer, PRDC, k-means bins, the previous probe re-embedded), medians; the implied "
        f"overhead of one evaluation every {p['coverage_every']} steps (the default cadence) "
        "is 1 + t_eval / (cadence x t_step). The full-run table above was measured before the "
        "probe existed; a monitored run long enough to charge the probe at its rate (1,000 "
        "steps, 4 evaluations) did not fit on the loaded machine. "
        f"Machine under load: 1-minute load average {load[0]:.1f} at the start and "
        f"{load[-1]:.1f} at the end, so both times are inflated alike (a quiet machine does a "
        "step in ~260 ms).\n\n"
        + table(
            ["device", "ms/step", "ms/evaluation", "every", "implied ratio", "target"],
            [
                [
                    p["device"],
                    p["ms_per_step"],
                    p["ms_per_evaluation"],
                    p["coverage_every"],
                    f"{p['implied_ratio_at_default_cadence']:.4f}",
                    "<= 1.03 (whole monitor)",
                ]
            ],
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())

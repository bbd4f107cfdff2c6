"""Operations the Monitor adds to a training step: ATen operations dispatched per step, bare
and monitored, counted on the CPU.

On an accelerator a small model's step is bound by kernel launches, so the Monitor's cost
there follows the number of operations it adds per step far more than its arithmetic
(docs/benchmarks.md, GPU: the measured CUDA overheads matched the operation ratios). This
counts them without a GPU: a ``TorchDispatchMode`` counts every ATen operation the step
dispatches (forward, backward, optimiser, monitor), on one thread. The monitored step is
counted twice: as the Monitor runs on the CPU (non-finite gradient entries counted only
where a norm read on the host is not finite) and as it runs on an accelerator (counted on
the device, no host read: ``count_on_device``). A batched operation (``torch._foreach_*``)
counts once here; on CUDA it launches a few kernels for a whole list of tensors (one per
tensor for the ord-0 norm that counts non-finite entries, from C++).

Two cadences: periodic families off (what every step costs) and the default cadence
(the mean over ``--steps`` steps, periodic probes included).

    python bench/monitor_ops.py --json bench/results/monitor_ops.json
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench._report import table, write_json, write_section

#: operations that only make a new view of a tensor's memory (or a handle on it): no kernel
#: runs on an accelerator, so they are left out of the launch-like count
VIEWS = frozenset(
    {
        "detach", "view", "_reshape_alias", "_unsafe_view", "alias", "as_strided", "select",
        "slice", "unsqueeze", "squeeze", "t", "transpose", "permute", "expand", "split",
        "unbind", "split_with_sizes",
    }
)  # fmt: skip


class OpCounter(TorchDispatchMode):
    """Counts every ATen operation dispatched while active, by name (``seen``); also used
    by tests/monitor/test_grad_probe_batched.py."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.seen[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def _contenders(model: str, batch: int):
    """Three identical trainers (bare, and one per counting path): ``(G, D, step)`` each,
    ``step()`` returning the keyword arguments of ``mon.step`` (and ``scalars`` to log)."""
    import monitor_overhead as mo

    dev = torch.device("cpu")
    if model == "cyclegan":
        made = [mo._cyclegan_trainer(0, batch, dev)[:3] for _ in range(3)]
        return [(G, D, lambda st=st: st(None)) for G, D, st in made], {
            "loss": "lsgan",
            "kind": "translation",
        }
    if model == "stylegan":
        import stylegan_overhead as so

        from gandiag.data import load_dataset

        x = load_dataset("glyphs", n=4 * batch, image_size=32).array
        x = torch.from_numpy(x.copy()).float().div(127.5).sub(1.0)
        batches = [x[i * batch : (i + 1) * batch] for i in range(4)]
        out = []
        for probe_every in (0, 25, 25):  # the bare loop runs no family probes
            bundle, stepper = so._stepper(probe_every, batches, dev, 32)
            counter = iter(range(10**9))

            def step(stepper=stepper, counter=counter):
                o = stepper.step(next(counter))
                kw = {k: o[k] for k in ("d_real", "d_fake", "real", "fake")}
                return {"losses": o["losses"], **kw, "scalars": o["scalars"]}

            out.append((bundle.generator, bundle.discriminator, step))
        latent = bundle.latent_dim
        return out, {"loss": "bce", "latent_dim": latent, "kind": "gan"}
    made = [mo._trainer(0, 64, dev) for _ in range(3)]
    data = mo._batches(1, batch, dev)[0]
    return [(G, D, lambda st=st: st(data)) for G, D, st in made], {
        "loss": "bce",
        "latent_dim": 64,
        "kind": "gan",
    }


def _step(mon: Any, s: int, out: dict[str, Any]) -> None:
    scalars = out.pop("scalars", None)
    mon.step(s, **out)
    if scalars:
        mon.log_scalars(s, scalars)


def count(model: str, steps: int, batch: int, periodic: bool) -> dict[str, Any]:
    import gandiag
    from gandiag.detectors import default_detectors
    from gandiag.monitor.cadence import Cadence

    made, kw = _contenders(model, batch)
    kind = kw.pop("kind")
    tmp = tempfile.TemporaryDirectory()
    cadence = Cadence() if periodic else Cadence(samples=0, layers=0, grid=0, coverage=0)
    steps_of, monitors = {"bare": made[0][2]}, {}
    for name, on_device, (G, D, step) in (
        ("monitored (CPU counting)", False, made[1]),
        ("monitored (device counting)", True, made[2]),
    ):
        monitors[name] = gandiag.Monitor(
            Path(tmp.name) / name.replace(" ", "_"),
            generator=G,
            discriminator=D,
            cadence=cadence,
            detectors=default_detectors(kind),
            quiet=True,
            **kw,
        )
        for probe in monitors[name]._grads.probes:  # how this Monitor's probes count
            probe._count_on_device = on_device
        steps_of[name] = step
    per_step: dict[str, float] = {}
    launching: dict[str, float] = {}  # without the view-only operations
    extra: dict[str, dict[str, float]] = {}
    counters: dict[str, collections.Counter[str]] = {}
    for name, step in steps_of.items():
        mon = monitors.get(name)
        for s in range(2):  # warm-up: first-step set-up is not a step's cost
            out = step()
            if mon is not None:
                _step(mon, s, out)
        ops = OpCounter()
        with ops:
            for s in range(2, 2 + steps):
                out = step()
                if mon is not None:
                    _step(mon, s, out)
        counters[name] = ops.seen
        per_step[name] = sum(ops.seen.values()) / steps
        launching[name] = sum(v for k, v in ops.seen.items() if k not in VIEWS) / steps
    for name in monitors:
        diff = counters[name] - counters["bare"]
        extra[name] = {k: v / steps for k, v in diff.most_common()}
    for mon in monitors.values():
        mon.close()
    tmp.cleanup()
    return {
        "model": model,
        "periodic": periodic,
        "steps": steps,
        "ops_per_step": per_step,
        "ratio": {k: per_step[k] / per_step["bare"] for k in monitors},
        "launching_per_step": launching,
        "launching_ratio": {k: launching[k] / launching["bare"] for k in monitors},
        "extra_ops": extra,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["dcgan", "cyclegan", "stylegan"])
    p.add_argument("--steps", type=int, default=50, help="steps counted at the default cadence")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--json", default=None)
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for model in args.models:
        for periodic in (False, True):
            rows.append(count(model, args.steps if periodic else 5, args.batch, periodic))
    write_json(args.json, {"rows": rows, "batch": args.batch})
    names = ["monitored (CPU counting)", "monitored (device counting)"]
    md_rows = [
        [
            r["model"],
            "default" if r["periodic"] else "periodic off",
            r["steps"],
            round(r["ops_per_step"]["bare"]),
            *(f"{round(r['ops_per_step'][n])} ({r['ratio'][n]:.2f}x)" for n in names),
            (
                f"{round(r['launching_per_step']['bare'])} / "
                f"{round(r['launching_per_step'][names[1]])} "
                f"({r['launching_ratio'][names[1]]:.2f}x)"
            ),
        ]
        for r in rows
    ]
    md = (
        "## Operations the Monitor adds per step (`bench/monitor_ops.py`)\n\n"
        "ATen operations dispatched per training step (forward, backward, optimiser and "
        "monitor), counted by a `TorchDispatchMode` on the CPU, 1 thread, batch "
        f"{args.batch}; a `torch._foreach_*` call counts once. The count is a proxy for "
        "kernel launches, which bound a small model's step on a GPU; the last column leaves "
        "out the operations that only make a view (`detach`, `view`, `select`, ...: no "
        "kernel), a closer proxy.\n\n"
        + table(
            [
                "model",
                "cadence",
                "steps counted",
                "bare",
                "monitored, CPU counting",
                "monitored, device counting (as on a GPU)",
                "without view-only operations: bare / device counting",
            ],
            md_rows,
        )
        + "\n"
    )
    if not args.no_docs:
        write_section("monitor_ops", md)
    print(
        "monitor ops: "
        + ", ".join(
            f"{r['model']} {'default' if r['periodic'] else 'per-step'} "
            f"{r['ratio']['monitored (device counting)']:.2f}x (device counting)"
            for r in rows
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

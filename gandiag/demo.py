"""``gandiag demo``: the whole product on the bundled glyphs, offline, in a few minutes on a CPU.

Trains a small DCGAN and a small convolutional VAE on the procedural glyph digits with the
monitor attached, scores both with the bundled glyph classifier (FID, KID, precision/recall,
density/coverage), and writes one self-contained HTML report comparing them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gandiag.store import is_run_dir


@dataclass(frozen=True)
class DemoPlan:
    steps: int
    train_images: int
    eval_every: int
    eval_samples: int


FULL = DemoPlan(steps=1500, train_images=10_000, eval_every=500, eval_samples=2000)
QUICK = DemoPlan(steps=100, train_images=2_000, eval_every=0, eval_samples=500)


def demo_configs(plan: DemoPlan, seed: int = 0) -> dict[str, dict[str, Any]]:
    """The two training configs the demo runs, keyed by run name."""

    def config(name: str, model: str) -> dict[str, Any]:
        return {
            "name": name,
            "seed": seed,
            "steps": plan.steps,
            # Half the default width: the demo must run in minutes on two CPU cores.
            "model": {"name": model, "options": {"width": 32}},
            "data": {
                "name": "glyphs",
                "options": {"n": plan.train_images, "seed": seed},
                "batch_size": 64,
            },
            "eval": {
                "every": plan.eval_every,
                "num_samples": plan.eval_samples,
                "num_real": plan.eval_samples,
                "metrics": ["fid", "kid", "pr", "dc"],
            },
            "checkpoint": {"every": 0},
        }

    gan = config("dcgan", "dcgan")
    # A held-out real batch lets the monitor measure r_v (discriminator overfitting).
    gan["data"]["val_size"] = 256
    return {"dcgan": gan, "vae": config("vae", "conv_vae")}


def run_demo(
    out_dir: str | Path,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Train, score and report; returns the path of the HTML report."""
    from gandiag.reports import write_report
    from gandiag.train import train

    out = Path(out_dir)
    configs = demo_configs(QUICK if quick else FULL, seed=seed)
    taken = [name for name in configs if is_run_dir(out / name)]
    if taken:
        raise FileExistsError(
            f"{out} already holds demo runs ({', '.join(taken)}); choose a new --out directory "
            "or delete the old one. Nothing was changed."
        )
    out.mkdir(parents=True, exist_ok=True)
    run_dirs = []
    for name, cfg in configs.items():
        t0 = time.perf_counter()
        log(
            f"gandiag demo: training {cfg['model']['name']} on glyphs for {cfg['steps']} steps -> {out / name}"
        )
        run_dirs.append(train(cfg, out / name, progress=progress))
        log(f"gandiag demo: {name} done in {time.perf_counter() - t0:.0f} s")
    report = write_report(
        run_dirs, out / "report.html", title="gandiag demo: DCGAN vs VAE on glyphs"
    )
    return report

"""Labelled cases of the growing and style-based families: do their detectors find each failure?

Each case trains a config from ``configs/`` (shortened: ``--steps``, ProGAN phases of
``--phase-steps``) with the family's stepper and a ``gandiag.Monitor`` running the
default GAN detectors plus the family's. Separately, every ``--eval-every`` steps the
bench measures OUTCOMES on fresh samples (never the monitor's signals), and labels come
from those outcomes only:

* ``transition_collapse`` (ProGAN): the large-sample diversity of fresh fakes (mean
  pairwise distance of 256 fakes over that of 256 reals at the same resolution and fade)
  falls below 0.5 within two phases after a switch, having been at least 0.5 before it;
* ``w_collapse`` (StyleGAN): the diversity of 256 fresh images across latents, with one
  noise draw shared by all, falls below 5% of its value at step 0;
* ``mode_collapse``: the fresh-sample diversity ratio below 0.5 at the end of a run;
* ``fade_in`` (ProGAN with ``alpha_schedule = "truncated"``): labelled from the
  configuration, because the failure *is* the schedule (there is no other outcome).

A label is found when a detector mapped to it (``FINDS``) alerts at or after its onset
(minus ``--tolerance`` steps); alerts of the family detectors in cases without a label are
false alarms.

    python bench/growing_families.py --json bench/results/growing_families.json
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import tomllib
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import table, write_json, write_section

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    "progan_glyphs",
    "progan_tanh_glyphs",
    "progan_stuck_fade_glyphs",
    "stylegan_glyphs",
    "stylegan_collapsed_mapping_glyphs",
    "stylegan_no_r1_glyphs",
]
FINDS = {
    "transition_collapse": {"transition_instability", "mode_collapse"},
    "fade_in": {"fade_in"},
    "w_collapse": {"w_collapse", "noise_dominated", "mixing_no_effect"},
    "mode_collapse": {"mode_collapse", "transition_instability", "w_collapse"},
}
FAMILY = {
    "transition_instability",
    "fade_in",
    "w_collapse",
    "noise_dominated",
    "mixing_no_effect",
    "channel_spike",
    "regularizer_blowup",
    "augment_runaway",
}


def _pdist(x: torch.Tensor) -> float:
    f = x.flatten(1).double()
    return float(torch.pdist(f).mean())


def run_case(name: str, seed: int, steps: int, phase_steps: int, eval_every: int) -> dict[str, Any]:
    import numpy as np

    import gandiag
    from gandiag.data import load_dataset
    from gandiag.detectors import default_detectors
    from gandiag.reference_models import build_model
    from gandiag.reference_models.progan import fade_reals
    from gandiag.train.family import stepper_class
    from gandiag.train.trainer import Batches

    torch.set_num_threads(1)
    cfg = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
    opts = dict(cfg.get("gan", {}).get("options", {}))
    model = cfg["model"]["name"]
    if model == "progan":
        opts.update(phase_steps=phase_steps, fade_steps=phase_steps)
    else:
        opts.setdefault("probe_every", 10)
    ds = load_dataset("glyphs", n=2048, image_size=32, seed=seed)
    bundle = build_model(model, seed=seed, **cfg["model"].get("options", {}))
    batches = Batches(ds, np.arange(len(ds)), 16, torch.device("cpu"), seed)
    gen = torch.Generator().manual_seed(seed)
    t = bundle.training

    def make_opt(params, which):
        return torch.optim.Adam(params, lr=t[f"lr_{which}"], betas=tuple(t["betas"]))

    stepper = stepper_class(t["stepper"])(
        bundle, opts, make_opt, batches, gen, contextlib.nullcontext
    )
    tmp = tempfile.TemporaryDirectory()
    mon = gandiag.Monitor(
        Path(tmp.name) / "run",
        generator=bundle.generator,
        discriminator=bundle.discriminator,
        latent_dim=bundle.latent_dim,
        loss="wasserstein" if t["loss"] == "wasserstein" else "bce",
        detectors=default_detectors("gan", **dict.fromkeys(t["detectors"], True)),
        cadence=gandiag.monitor.Cadence(samples=5, layers=5, grid=0),
        quiet=True,
    )
    reals = torch.from_numpy(ds.array[:256].copy()).float() / 127.5 - 1
    eval_gen = torch.Generator().manual_seed(10_000 + seed)
    z_eval = torch.randn(256, bundle.latent_dim, generator=eval_gen)
    outcomes: dict[str, list[float]] = {
        "step": [],
        "diversity": [],
        "z_diversity": [],
        "phase_index": [],
    }
    alerts = []
    for step in range(steps):
        out = stepper.step(step)
        if out.get("phase") is not None:
            mon.set_phase(*out["phase"])
        alerts += mon.step(
            step,
            out["losses"],
            d_real=out["d_real"],
            d_fake=out["d_fake"],
            real=out["real"],
            fake=out["fake"],
        )
        if out.get("scalars"):
            mon.log_scalars(step, out["scalars"])
        if step % eval_every == 0 or step == steps - 1:
            G = bundle.generator
            with torch.no_grad():
                if model == "progan":
                    level, alpha = int(G.level), float(G.alpha)
                    fakes = G.forward_at(z_eval, level, alpha)
                    ref = fade_reals(reals, level, alpha, G.levels)
                    zdiv = float("nan")
                else:
                    level = 0
                    fakes = G(z_eval)
                    ref = reals
                    shared = [
                        torch.randn(s, generator=eval_gen).expand(256, -1, -1, -1)
                        for s in G.synthesis.noise_shapes(1)
                    ]
                    zdiv = _pdist(G.synthesis(G.broadcast(G.map(z_eval)), shared))
            outcomes["step"].append(step)
            outcomes["diversity"].append(_pdist(fakes) / _pdist(ref))
            outcomes["z_diversity"].append(zdiv)
            outcomes["phase_index"].append(level)
    alerts += mon.close()
    tmp.cleanup()
    labels = label(name, outcomes, opts)
    return {
        "case": name,
        "seed": seed,
        "labels": labels,
        "outcomes": outcomes,
        "alerts": [
            {
                "detector": a.detector,
                "step": a.step,
                "onset": a.onset_step,
                "severity": a.severity.value,
            }
            for a in alerts
            if a.severity.value != "info"
        ],
    }


def label(name: str, o: dict[str, list[float]], opts: dict[str, Any]) -> dict[str, int]:
    """Labels (name -> onset step) from the outcome series only (and the fade config)."""
    import math

    labels: dict[str, int] = {}
    steps, div, idx = o["step"], o["diversity"], o["phase_index"]
    if opts.get("alpha_schedule") == "truncated":
        first_switch = next((s for s, i in zip(steps, idx) if i >= 1), None)
        if first_switch is not None:
            labels["fade_in"] = first_switch
    for k in range(1, len(steps)):
        if idx[k] != idx[k - 1] and div[k - 1] >= 0.5:  # a switch with healthy diversity
            horizon = [j for j in range(k, len(steps)) if idx[j] <= idx[k] + 1]
            low = [j for j in horizon if div[j] < 0.5]
            if low and "transition_collapse" not in labels:
                labels["transition_collapse"] = steps[k]
    zd = o["z_diversity"]
    if zd and math.isfinite(zd[0]) and zd[0] > 0:
        low = [s for s, v in zip(steps, zd) if v < 0.05 * zd[0]]
        if low:
            labels["w_collapse"] = low[0]
    if div and div[-1] < 0.5 and "transition_collapse" not in labels:
        first = next(s for s, v in zip(steps, div) if v < 0.5)
        labels["mode_collapse"] = first
    return labels


def score(results: list[dict[str, Any]], tolerance: int) -> dict[str, Any]:
    found, missed, false_alarms, rows = 0, 0, 0, []
    for r in results:
        fam = [a for a in r["alerts"] if a["detector"] in FAMILY]
        hits = {}
        for lab, onset in r["labels"].items():
            ok = [
                a
                for a in r["alerts"]
                if a["detector"] in FINDS[lab] and a["step"] >= onset - tolerance
            ]
            hits[lab] = ok[0]["step"] - onset if ok else None
            found += bool(ok)
            missed += not ok
        wanted = set().union(*(FINDS[lab] for lab in r["labels"])) if r["labels"] else set()
        fa = [a for a in fam if a["detector"] not in wanted]
        false_alarms += len(fa)
        rows.append(
            [
                r["case"],
                r["seed"],
                ", ".join(f"{k}@{v}" for k, v in r["labels"].items()) or "healthy",
                ", ".join(
                    f"{k}: {'delay ' + str(v) if v is not None else 'MISSED'}"
                    for k, v in hits.items()
                )
                or "-",
                ", ".join(sorted({a["detector"] for a in fa})) or "-",
            ]
        )
    return {"found": found, "missed": missed, "false_alarms": false_alarms, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", default=CASES)
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--phase-steps", type=int, default=30)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--tolerance", type=int, default=10)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args(argv)
    jobs = [(c, s) for c in args.cases for s in args.seeds]
    with ProcessPoolExecutor(args.jobs) as ex:
        futures = [
            ex.submit(run_case, c, s, args.steps, args.phase_steps, args.eval_every)
            for c, s in jobs
        ]
        results = [f.result() for f in futures]
    sc = score(results, args.tolerance)
    write_json(
        args.json,
        {
            "benchmark": "growing_families",
            "args": vars(args),
            "results": results,
            **{k: v for k, v in sc.items() if k != "rows"},
        },
    )
    if not args.no_docs:
        write_section(
            "growing_families",
            "## Growing and style-based families: labelled cases\n\n"
            f"`python bench/growing_families.py --cases {' '.join(args.cases)} --steps "
            f"{args.steps} --phase-steps {args.phase_steps} --seeds "
            f"{' '.join(map(str, args.seeds))}` - each config "
            "shortened, batch 16, labels from fresh-sample outcomes (see the script's "
            "docstring); the fade-in label comes from the configuration.\n\n"
            + table(
                ["case", "seed", "labels (onset)", "found (delay, steps)", "false alarms"],
                sc["rows"],
            )
            + f"\n\nFound {sc['found']} of {sc['found'] + sc['missed']} labels; "
            f"{sc['false_alarms']} false alarms from the family detectors.\n",
        )
    print(
        f"growing families: found {sc['found']} of {sc['found'] + sc['missed']} labels, "
        f"{sc['false_alarms']} false alarms (family detectors), {len(results)} runs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

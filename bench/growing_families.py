"""Labelled cases of the growing and style-based families: do their detectors find each failure?

Each case trains a config from ``configs/`` (shortened: ``--steps``; a phased model runs its
whole schedule with phases of ``--phase-steps``) with the family's stepper and a
``gandiag.Monitor`` running the default GAN detectors plus the family's. Separately, every
``--eval-every`` steps the bench measures OUTCOMES on fresh samples (never the monitor's
signals), and labels come from those outcomes only:

* ``transition_collapse`` (ProGAN): the large-sample diversity of fresh fakes (mean
  pairwise distance of 256 fakes over that of 256 reals at the same resolution and fade)
  falls below 0.5 within two phases after a switch, having been at least 0.5 before it;
* ``w_collapse`` (StyleGAN): the diversity of 256 fresh images across latents, with one
  noise draw shared by all, falls below 0.1 of the reals' diversity (the latent no longer
  moves the image);
* ``stage_copy`` (LAPGAN): the detail of fresh fakes (energy of ``x - up(down(x))``) falls
  below 0.1 of the reals' detail (the finest level adds nothing over the level below);
* ``augment_leak``: the fresh fakes' mean image loses the orientation the reals' mean has
  (its distance to its own average over the 8 flips and quarter turns, over the reals'),
  falling below 0.5 having been at least 0.5: flips and rotations leak into samples;
* ``mode_collapse``: the fresh-sample diversity ratio below 0.5 at the end of a run (onset:
  the first evaluation below 0.5);
* ``fade_in`` (ProGAN with ``alpha_schedule = "truncated"``): labelled from the
  configuration, because the failure *is* the schedule (there is no other outcome).

A label is found when a detector mapped to it (``FINDS``) alerts at or after its onset
(minus ``--tolerance`` steps, by default the evaluation interval, within which the onset
lies); alerts of the family detectors in cases without a label are false alarms. A case
``name@seed`` runs that seed only (else every ``--seeds``).

Run length: a ``mode_collapse`` label is measured at the end of a run, and a collapse with
no family mechanism behind it is seen only by the generic collapse detectors
(``GENERIC_COLLAPSE``), which wait out the early phase of training (warm-up, then
patience). ``--steps`` (unphased models) must reach the first step at which one of them can
alert (600 with the default parameters); the bench refuses a shorter run rather than
scoring misses it could not find. The JSON also keeps diagnostics the labels never read:
D's mean raw score on 64 training reals, 64 held-out reals and 64 fresh fakes, ADA's p, and
the R1 and path-length traces (every logged value) that ``regularizer_blowup`` reads.

    python bench/growing_families.py --jobs 1 --json bench/results/growing_families.json
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import tomllib
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import confirmed_at, table, write_json, write_section

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    "progan_glyphs",
    "progan_tanh_glyphs",
    "progan_stuck_fade_glyphs",
    "stylegan_glyphs",
    "stylegan_small_glyphs",
    "stylegan_collapsed_mapping_glyphs",
    "stylegan_no_r1_glyphs",
    "stylegan_ada_small_glyphs",
    "lapgan_glyphs",
    "lapgan_copy_glyphs",
]
FINDS = {
    "transition_collapse": {"transition_instability", "mode_collapse"},
    "fade_in": {"fade_in"},
    "w_collapse": {"w_collapse", "noise_dominated", "mixing_no_effect"},
    # sample_coverage is the label-free mode-collapse detector (as in bench/stackgan_failures.py)
    "mode_collapse": {"mode_collapse", "sample_coverage", "transition_instability", "w_collapse"},
    "stage_copy": {"level_copy"},
    "augment_leak": {"augment_runaway"},
}
GENERIC_COLLAPSE = {"mode_collapse", "sample_coverage"}  # read diversity / coverage, any model
FAMILY = {
    "transition_instability",
    "fade_in",
    "w_collapse",
    "noise_dominated",
    "mixing_no_effect",
    "channel_spike",
    "regularizer_blowup",
    "augment_runaway",
    "level_copy",
}


COVERAGE_EVERY = 250  # the Monitor's default coverage cadence, which the bench keeps


def earliest_alert_step(params: dict[str, Any], coverage_every: int = COVERAGE_EVERY) -> int:
    """The first step at which a detector with these parameters can alert: its warm-up plus
    its patience (in steps, or in evaluations of the coverage cadence). A lower bound: the
    condition must also hold for that long."""
    warmup = int(params.get("warmup_steps") or 0)
    if params.get("patience_evals"):
        return confirmed_at(warmup, coverage_every, int(params["patience_evals"]))
    return warmup + int(params.get("patience_steps") or 0)


def collapse_horizon(detectors: dict[str, dict[str, Any]]) -> tuple[str, int]:
    """The generic collapse detector (``GENERIC_COLLAPSE``) that can alert first, and from
    which step (``detectors``: name -> parameters of the detectors the runs use).

    The ``mode_collapse`` label is measured at the end of a run and a collapse with no
    family mechanism behind it (no w collapse, no transition) is seen only by these
    detectors, so a run that ends before this step cannot have it found: the bench's
    ``--steps`` must reach it."""
    step, name = min(
        (earliest_alert_step(detectors[n]), n) for n in sorted(GENERIC_COLLAPSE) if n in detectors
    )
    return name, step


def run_detector_params() -> dict[str, dict[str, Any]]:
    """Name -> parameters of the detectors the bench's Monitor runs on a StyleGAN-lite case
    (the default GAN set plus every family detector)."""
    from gandiag.detectors import default_detectors

    return {d.name: dict(d.cfg) for d in default_detectors("gan", **dict.fromkeys(FAMILY, True))}


def _pdist(x: torch.Tensor) -> float:
    f = x.flatten(1).double()
    return float(torch.pdist(f).mean())


def _band(x: torch.Tensor, coarse: torch.Tensor) -> float:
    """Mean energy of what an image has over the upsampled level below it (its finest band)."""
    from gandiag.reference_models.lapgan import up

    return float((x - up(coarse)).double().pow(2).mean())


def _orientation(x: torch.Tensor) -> float:
    """How far the mean image is from its average over the 8 flips and quarter turns."""
    m = x.double().mean(0)
    turns = [torch.rot90(m, k, dims=(-2, -1)) for k in range(4)]
    sym = torch.stack(turns + [t.flip(-1) for t in turns]).mean(0)
    return float((m - sym).norm())


def _ratio(a: float, b: float) -> float:
    """``a / b``; NaN where the reference has none (a fade's reals at alpha 0 have no detail)."""
    return a / b if b > 0 else float("nan")


def schedule_steps(opts: dict[str, Any], levels: int) -> int:
    """Steps of a progressive-growing schedule: the first level, then a fade and a phase each."""
    return int(opts["phase_steps"]) + (levels - 1) * (
        int(opts["fade_steps"]) + int(opts["phase_steps"])
    )


def run_case(
    name: str,
    seed: int,
    steps: int,
    phase_steps: int,
    eval_every: int,
    keep_store: str | None = None,
) -> dict[str, Any]:
    import numpy as np

    import gandiag
    from gandiag.data import load_dataset
    from gandiag.detectors import default_detectors
    from gandiag.reference_models import build_model
    from gandiag.reference_models.lapgan import down
    from gandiag.reference_models.progan import fade_reals
    from gandiag.train.family import stepper_class
    from gandiag.train.trainer import Batches

    torch.set_num_threads(1)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    cfg = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
    opts = dict(cfg.get("gan", {}).get("options", {}))
    model = cfg["model"]["name"]
    if model == "progan":
        opts.update(phase_steps=phase_steps, fade_steps=phase_steps)
    elif model == "stylegan":
        opts.setdefault("probe_every", 10)
    n_data = int(cfg["data"].get("options", {}).get("n", 2048))  # ADA's small set keeps its size
    ds = load_dataset("glyphs", n=n_data, image_size=32, seed=seed)
    bundle = build_model(model, seed=seed, **cfg["model"].get("options", {}))
    if model == "progan":
        steps = schedule_steps(opts, bundle.generator.levels)
    batches = Batches(ds, np.arange(len(ds)), 16, torch.device("cpu"), seed)
    gen = torch.Generator().manual_seed(seed)
    t = bundle.training

    def make_opt(params, which):
        return torch.optim.Adam(params, lr=t[f"lr_{which}"], betas=tuple(t["betas"]))

    stepper = stepper_class(t["stepper"])(
        bundle, opts, make_opt, batches, gen, contextlib.nullcontext
    )
    tmp = tempfile.TemporaryDirectory()
    store = Path(keep_store) if keep_store else Path(tmp.name) / "run"
    mon = gandiag.Monitor(
        store,
        generator=bundle.generator,
        discriminator=bundle.discriminator,
        latent_dim=bundle.latent_dim,
        loss="wasserstein" if t["loss"] == "wasserstein" else "bce",
        detectors=default_detectors("gan", **dict.fromkeys(t["detectors"], True)),
        cadence=gandiag.monitor.Cadence(samples=5, layers=5, grid=0),
        quiet=True,
    )
    # outcome reals: held out from training where the set is large enough
    held = load_dataset("glyphs", n=256, image_size=32, seed=50_000 + seed)
    reals = torch.from_numpy(held.array.copy()).float() / 127.5 - 1
    eval_gen = torch.Generator().manual_seed(10_000 + seed)
    z_eval = torch.randn(256, bundle.latent_dim, generator=eval_gen)
    outcomes: dict[str, list[float]] = {
        "step": [],
        "diversity": [],
        "z_diversity": [],
        "detail": [],
        "orientation": [],
        "phase_index": [],
    }
    # diagnostics: kept in the JSON to explain outcomes, never read by the labels
    train_reals = batches.x[:64].float() / 127.5 - 1
    diagnostics: dict[str, list[Any]] = {
        "d_train": [],
        "d_held": [],
        "d_fake": [],
        "ada_p": [],
        "reg_r1": [],  # [step, value] of every logged regulariser value: their detector's input
        "reg_pl_length": [],
        "ema_diversity": [],  # the EMA generator's diversity (stylegan2-ada evaluates G_ema)
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
            for key in ("reg/r1", "reg/pl_length"):
                if key in out["scalars"]:
                    diagnostics[key.replace("/", "_")].append([step, out["scalars"][key]])
        if step % eval_every == 0 or step == steps - 1:
            G = bundle.generator
            with torch.no_grad():
                detail = float("nan")
                if model == "progan":
                    level, alpha = int(G.level), float(G.alpha)
                    fakes = G.forward_at(z_eval, level, alpha)
                    ref = fade_reals(reals, level, alpha, G.levels)
                    zdiv = float("nan")
                elif model == "lapgan":
                    level, ref = 0, reals
                    *_, below, fakes = G(z_eval, return_levels=True)
                    zdiv = float("nan")
                    detail = _ratio(_band(fakes, below), _band(ref, down(ref)))
                else:
                    level = 0
                    fakes = G(z_eval)
                    ref = reals
                    shared = [
                        torch.randn(s, generator=eval_gen).expand(256, -1, -1, -1)
                        for s in G.synthesis.noise_shapes(1)
                    ]
                    zdiv = _pdist(G.synthesis(G.broadcast(G.map(z_eval)), shared)) / _pdist(ref)
            outcomes["step"].append(step)
            outcomes["diversity"].append(_pdist(fakes) / _pdist(ref))
            outcomes["z_diversity"].append(zdiv)
            outcomes["detail"].append(detail)
            outcomes["orientation"].append(_ratio(_orientation(fakes), _orientation(ref)))
            outcomes["phase_index"].append(level)
            if model == "stylegan":  # D's mean raw score: memorised reals vs held-out vs fakes
                with torch.no_grad():
                    D = bundle.discriminator
                    diagnostics["d_train"].append(float(D(train_reals).mean()))
                    diagnostics["d_held"].append(float(D(reals[:64]).mean()))
                    diagnostics["d_fake"].append(float(D(fakes[:64]).mean()))
                diagnostics["ada_p"].append(float((out.get("scalars") or {}).get("ada/p", 0.0)))
                if stepper.ema is not None:
                    with torch.no_grad():
                        ema_fakes = stepper.ema.module(z_eval)
                    diagnostics["ema_diversity"].append(_pdist(ema_fakes) / _pdist(ref))
    alerts += mon.close()
    tmp.cleanup()
    labels = label(name, outcomes, opts)
    return {
        "case": name,
        "seed": seed,
        "steps": steps,
        "eval_every": eval_every,
        "wall_s": time.perf_counter() - started,
        "load_avg_1min": [load_start, os.getloadavg()[0]],
        "labels": labels,
        "outcomes": outcomes,
        "diagnostics": diagnostics,
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


def _first_low_run(steps: list[int], values: list[float], level: float) -> int | None:
    """The step from which ``values`` stay below ``level`` to the end (None if they end above)."""
    import math

    onset = None
    for st, v in zip(steps, values):
        if math.isfinite(v) and v < level:
            onset = st if onset is None else onset
        else:
            onset = None
    return onset


def label(name: str, o: dict[str, list[float]], opts: dict[str, Any]) -> dict[str, int]:
    """Labels (name -> onset step) from the outcome series only (and the fade config)."""
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
    onset = _first_low_run(steps, o["z_diversity"], 0.1)
    if onset is not None:
        labels["w_collapse"] = onset
    if idx and max(idx) == 0:  # the detail band of a phased model changes with its level
        onset = _first_low_run(steps, o["detail"], 0.1)
        if onset is not None:
            labels["stage_copy"] = onset
    orient = o["orientation"]
    healthy = next((k for k, v in enumerate(orient) if v >= 0.5), None)
    if healthy is not None:
        onset = _first_low_run(steps[healthy:], orient[healthy:], 0.5)
        if onset is not None:
            labels["augment_leak"] = onset
    if div and div[-1] < 0.5 and "transition_collapse" not in labels:
        first = next(s for s, v in zip(steps, div) if v < 0.5)
        labels["mode_collapse"] = first
    return labels


def score(
    results: list[dict[str, Any]], tolerance: int, horizon: tuple[str, int] | None = None
) -> dict[str, Any]:
    """Found / missed labels and family false alarms; a ``mode_collapse`` miss in a run that
    ended before the generic collapse detectors could alert (``horizon``) says so."""
    found, missed, false_alarms, rows = 0, 0, 0, []

    def miss(r: dict[str, Any], lab: str) -> str:
        last = r["outcomes"]["step"][-1]
        if lab == "mode_collapse" and horizon is not None and last < horizon[1]:
            return f"MISSED (run ends at {last}; {horizon[0]} cannot alert before {horizon[1]})"
        return "MISSED"

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
                    f"{k}: {'delay ' + str(v) if v is not None else miss(r, k)}"
                    for k, v in hits.items()
                )
                or "-",
                ", ".join(sorted({a["detector"] for a in fa})) or "-",
            ]
        )
    return {"found": found, "missed": missed, "false_alarms": false_alarms, "rows": rows}


def _config_options(name: str) -> dict[str, Any]:
    """The ``[gan] options`` of a config (the labels read its fade schedule)."""
    cfg = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
    return dict(cfg.get("gan", {}).get("options", {}))


def _merged(paths: list[str], cases: set[tuple[str, int]]) -> list[dict[str, Any]]:
    """Results of earlier calls (their JSON files, in order: a later file's result for a
    case and seed replaces an earlier one's), less the cases this call runs again."""
    import json

    out: dict[tuple[str, int], dict[str, Any]] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        args = data.get("args", {})
        for r in data["results"]:
            if (r["case"], r["seed"]) in cases:
                continue
            r.setdefault("eval_every", args.get("eval_every"))
            r.setdefault("from", str(path))
            # the stored outcomes labelled by the current rule, as this call's runs are
            r["labels"] = label(r["case"], r["outcomes"], _config_options(r["case"]))
            out.pop((r["case"], r["seed"]), None)
            out[(r["case"], r["seed"])] = r
    return list(out.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", default=CASES)
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument(
        "--steps",
        type=int,
        default=800,
        help="steps of the unphased cases; at least the first step at which a generic "
        "collapse detector can alert (600 with the defaults)",
    )
    p.add_argument("--phase-steps", type=int, default=30)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument(
        "--tolerance",
        type=int,
        default=None,
        help="steps an alert may precede a label's onset (default: --eval-every, since the "
        "onset is known only to the evaluation interval)",
    )
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--json", default=None)
    p.add_argument(
        "--merge",
        nargs="*",
        default=[],
        help="JSON files of earlier calls whose results are scored with this call's "
        "(cases run again here replace theirs)",
    )
    p.add_argument("--no-docs", action="store_true")
    p.add_argument(
        "--keep-stores",
        default=None,
        metavar="DIR",
        help="keep each run's Monitor store as DIR/<case>-s<seed> (to replay it with other "
        "detector parameters: gandiag replay)",
    )
    args = p.parse_args(argv)
    tolerance = args.eval_every if args.tolerance is None else args.tolerance
    horizon = collapse_horizon(run_detector_params())
    if args.steps < horizon[1]:
        p.error(
            f"--steps {args.steps} ends before {horizon[0]} can alert (step {horizon[1]}: "
            "its warm-up plus patience), so a mode collapse at the end of an unphased run "
            f"could not be found; use --steps {horizon[1]} or more"
        )
    jobs = [
        (c.split("@")[0], int(c.split("@")[1])) if "@" in c else (c, s)
        for c in args.cases
        for s in ([None] if "@" in c else args.seeds)
    ]
    if args.keep_stores:
        taken = [f"{c}-s{s}" for c, s in jobs if (Path(args.keep_stores) / f"{c}-s{s}").exists()]
        if taken:
            p.error(
                f"--keep-stores {args.keep_stores} already holds {', '.join(taken)}: "
                "choose a new directory, or remove those runs first"
            )
    earlier = _merged(args.merge, set(jobs))
    with ProcessPoolExecutor(args.jobs) as ex:
        futures = [
            ex.submit(
                run_case,
                c,
                s,
                args.steps,
                args.phase_steps,
                args.eval_every,
                str(Path(args.keep_stores) / f"{c}-s{s}") if args.keep_stores else None,
            )
            for c, s in jobs
        ]
        results = []
        for f in futures:  # kept as they finish, so a stopped bench leaves what it measured
            results.append(f.result())
            write_json(
                args.json, {"benchmark": "growing_families", "partial": True, "results": results}
            )
    order = {c: k for k, c in enumerate(CASES)}
    results = sorted(earlier + results, key=lambda r: (order.get(r["case"], len(order)), r["seed"]))
    sc = score(results, tolerance, horizon)
    write_json(
        args.json,
        {
            "benchmark": "growing_families",
            "args": vars(args),
            "collapse_horizon": horizon,
            "results": results,
            **{k: v for k, v in sc.items() if k != "rows"},
        },
    )
    if not args.no_docs:
        merged = [m for m in args.merge if any(r["from"] == m for r in earlier)]
        write_section(
            "growing_families",
            "## Growing and style-based families: labelled cases\n\n"
            f"`python bench/growing_families.py --cases {' '.join(args.cases)} --steps "
            f"{args.steps} --phase-steps {args.phase_steps} --eval-every {args.eval_every} "
            f"--tolerance {tolerance} --seeds {' '.join(map(str, args.seeds))}"
            + (f" --merge {' '.join(merged)}" if merged else "")
            + "` - each config shortened, batch 16, labels from fresh-sample outcomes (see "
            "the script's docstring); the fade-in label comes from the configuration. "
            f"The generic collapse detectors can alert from step {horizon[1]} "
            f"({horizon[0]}: warm-up plus patience).\n\n"
            + table(
                ["case", "seed", "steps", "labels (onset)", "found (delay, steps)", "false alarms"],
                [row[:2] + [_length(r)] + row[2:] for row, r in zip(sc["rows"], results)],
            )
            + f"\n\nFound {sc['found']} of {sc['found'] + sc['missed']} labels; "
            f"{sc['false_alarms']} false alarms from the family detectors.\n",
        )
    print(
        f"growing families: found {sc['found']} of {sc['found'] + sc['missed']} labels, "
        f"{sc['false_alarms']} false alarms (family detectors), {len(results)} runs"
    )
    return 0


def _length(r: dict[str, Any]) -> str:
    """A run's length and evaluation interval, as the table shows them."""
    return f"{r['outcomes']['step'][-1] + 1} (eval every {r.get('eval_every') or '?'})"


if __name__ == "__main__":
    raise SystemExit(main())

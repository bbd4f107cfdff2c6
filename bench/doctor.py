"""Does ``gandiag doctor`` find a remedy that works, and is it the one practitioners name?

For each failure configuration of the reference trainer in configs/ (the runs' failure is
the outcome the configuration is known for; the doctor treats the run's first serious
alert): train the run with a checkpoint ring, run ``doctor`` with its defaults, and record

- recovered: a remedy cleared the alert and beat the control continuation on the run's
  quality measure (FID on images, fvd_lite on video, modes covered on 2-D data);
- agrees: that best remedy is the one practitioners name first for the failure;
- the doctor's wall time against one branch's mean time and against the bound
  ceil(branches / workers) x branch time, with where the rest went (`DoctorResult.timing`):
  starting the worker pool (paid by the first doctor call only: the pool is kept, its
  workers forked from a server that imported torch and gandiag once), the wait for the
  first branch to start, scoring and the report.

All runs go through one process, as a user's session would; the machine's 1-minute
load average is recorded before and after, since the machine may be shared.

Each branch trains doctor's default budget (twice the steps from the fork to the alert,
at least two evaluation intervals), so the control runs past the step where the original
run raised its alert and can show whether the failure returns; a shorter budget compares
the branches before the failure is due (the first --quick results did, with 400 steps
against a mode collapse alerted at step 600 of the original).

``--quick`` shortens the training runs to at most 800 steps (the alerts still fire);
``--short`` runs each family configuration at its reduced size in :data:`SIZES` (the run
stopped just after its alert is due, smaller evaluations, shorter ProGAN phases, and a
cap on the branches' budget), so that its training and doctor's branches take a few
minutes of CPU; the table states the reduction. ``--steps`` caps every training run and
``--budget`` the branch budget of a configuration without a reduced size (doctor's
default budget, capped). ``--configs`` picks configurations; ``--time-limit`` (minutes)
skips the configurations left once it is spent, and the table lists them as not run.
``--section NAME`` writes the table of the configurations run into another section of
docs/benchmarks.md (a timing run with more workers keeps the main table). ``--previous JSON`` keeps the rows of an earlier run for the configurations not run now
(their branches re-ranked by the current rule, so "best" and "agrees" follow it), marked
with the run they came from; a row an earlier call made with the same options counts as
this bench's. ``--rewrite`` runs nothing and writes the table of ``--previous`` again.

    python bench/doctor.py --quick --workers 2 --time-limit 25 --json bench/results/doctor.json
    python bench/doctor.py --short --workers 1 --previous bench/results/doctor_quick.json \
        --configs srgan_no_pretrain_glyphs.toml ... --json bench/results/doctor_short.json
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_json, write_section

ROOT = Path(__file__).resolve().parent.parent
#: the 2-D configurations (no family stepper: cheap at their full size)
RING = ("mlp_gan_ring8_collapse.toml", "vae_ring8_collapse.toml", "mlp_gan_ring8_minimax.toml")
#: configurations whose runs fail, with the failure they are known for
FAILURES = {
    "mlp_gan_ring8_collapse.toml": "mode collapse",
    "vae_ring8_collapse.toml": "posterior collapse",
    "mlp_gan_ring8_minimax.toml": "vanishing generator gradients (saturating loss)",
    # the families' failure configurations, cheapest first (at --short's reduced size)
    "dvdgan_frozen_temporal.toml": "a temporal discriminator that never learns",
    "dvdgan_no_temporal.toml": "frozen video (no temporal discriminator)",
    "dvdgan_framewise.toml": "flickering video (a generator run frame by frame)",
    "dvdgan_state_reset.toml": "looping video (Conv-GRU state reset every 4 frames)",
    "srgan_no_pretrain_glyphs.toml": "no better than bicubic (no pre-training)",
    "pix2pix_no_l1_glyphs.toml": "the input's content lost (no L1)",
    "cyclegan_identity_glyphs.toml": "identity mapping",
    "cyclegan_inversion_glyphs.toml": "colour inversion",
    "cyclegan_steganography_glyphs.toml": "steganography",
    "stackgan_no_ca_glyphs.toml": "conditioning collapse (no CA)",
    "stackgan_copy_glyphs.toml": "stage II copies stage I",
    "lapgan_copy_glyphs.toml": "levels copy the coarse image",
    "stylegan_collapsed_mapping_glyphs.toml": "collapsed mapping network",
    "stylegan_no_r1_glyphs.toml": "mode collapse without R1",
    "progan_tanh_glyphs.toml": "fade-in collapse (tanh output)",
    "progan_stuck_fade_glyphs.toml": "stuck fade-in",
}

_SMALL_EVAL = {"every": 100, "num_samples": 256, "num_real": 256, "interpolation": False}
#: ``--short``'s reduced sizes: config overrides, and ``budget``, the cap on doctor's
#: default branch budget (None: doctor's default). Every family evaluates 256 samples
#: every 100 steps (70 for ProGAN: one per level).
SIZES: dict[str, dict] = {
    # CycleGAN, pix2pix and SRGAN: the translation probes and detectors as configured
    # (probes every 50 steps, 200 steps of warm-up, 3 probes in a row: an alert is due at
    # step 300, as bench/translation_suite.py found it), the run stopped just after. Shortened (probes every 25, warm-up
    # 100), every generator trained from scratch alerted at step 150, healthy or not
    # (pix2pix: the input's class kept in 12% of outputs, chance, by the control and
    # every remedy alike), and 3 probes in a row then span 50 steps instead of 100
    "i2i-300": {"steps": 350, "eval": _SMALL_EVAL, "budget": 400},
    # CycleGAN's steganography needs the blur test's evidence a probe longer: alert at 350
    "i2i-350": {"steps": 400, "eval": _SMALL_EVAL, "budget": 400},
    # SRGAN's remedies start from the initialisation (a generator trained from scratch is
    # below bicubic from step 0): its budget must cover the untrained phase
    "sr-300": {"steps": 350, "eval": _SMALL_EVAL, "budget": 500},
    # ProGAN (batch 16 as bench/growing_families.py). The stuck fade is judged at the
    # final resolution (doctor runs a schedule failure's branches to the run's last step),
    # so the phases are long enough for the last resolution to train after its fade
    # (phases of 60 steps, 120 of them at 32 px) and FID takes 512 samples; the switch
    # detector's windows span one phase, with sample diversity every 10 steps so a window
    # holds its 3 records. (The first size, phases of 30 steps to step 210, ended the
    # branches 10 steps into 32 px: FID 339.8 against 339.6, every branch barely trained.)
    "progan-60": {
        "steps": 480,
        "data": {"batch_size": 16},
        "gan": {"options": {"phase_steps": 60, "fade_steps": 60}},
        "eval": {**_SMALL_EVAL, "every": 120, "num_samples": 512, "num_real": 512},
        "monitor": {
            "cadence": {"samples": 10},
            "overrides": {"transition_instability": {"window_steps": 60}},
        },
        "budget": None,
    },
    # ProGAN's tanh output: phases of 30 steps, the switch windows as configured (100
    # steps, with which bench/growing_families.py found the collapse after the switch at
    # step 30; windows of one phase, 30 steps, raised nothing in the first --short run)
    "progan-30-w100": {
        "steps": 210,
        "data": {"batch_size": 16},
        "gan": {"options": {"phase_steps": 30, "fade_steps": 30}},
        "eval": {**_SMALL_EVAL, "every": 70},
        "monitor": {"cadence": {"samples": 10}},
        "budget": 200,
    },
    # StyleGAN-lite: batch 16 as bench/growing_families.py (the collapsed mapping's
    # w_collapse came at step 166 there), the run stopped 100 steps after it
    "stylegan-300": {"steps": 300, "data": {"batch_size": 16}, "eval": _SMALL_EVAL, "budget": 300},
    # CycleGAN's identity mapping: identity_mapping came at step 500 or 600 in
    # bench/translation_suite.py (3 seeds), so the run goes to 700
    # (its evidence goes back to step 0: branches from the initialisation, doctor's
    # default budget of twice the 500 steps to the alert, so the control can fail again)
    "i2i-600": {"steps": 700, "eval": _SMALL_EVAL, "budget": None},
    # pix2pix without L1: content_lost at step 300 or 400 in bench/translation_suite.py
    # (none by step 350 in the first --short run)
    "i2i-400": {"steps": 450, "eval": _SMALL_EVAL, "budget": 400},
    # LAPGAN: batch 16 as bench/growing_families.py (level_copy at step 300: the end of
    # its 200-step warm-up plus 100 steps of patience)
    "lapgan-300": {"steps": 350, "data": {"batch_size": 16}, "eval": _SMALL_EVAL, "budget": 400},
    # StackGAN without CA: class_collapse at step 350 (warm-up 200 + patience 150,
    # bench/stackgan_failures.py), in stage I; batch 32 as configured
    "stackgan-350": {"steps": 400, "eval": _SMALL_EVAL, "budget": 400},
    # StackGAN's stage copy: level_copy reads stage II's copy ratio, 100 steps of patience
    # after stage II begins (step 800 with the configured 700 steps of stage I): stage I
    # shortened to 300 steps, so the alert is due at 400
    "stackgan-copy-400": {
        "steps": 450,
        "gan": {"options": {"stage1_steps": 300}},
        "eval": _SMALL_EVAL,
        "budget": 300,
    },
    # DVD-GAN-lite (~2.5 s/step under load): d_imbalance at step 110 in
    # bench/detectors_video.py, onset before the first checkpoint, so the branches start
    # from the initialisation; evaluations every 50 steps on 256 clips (fvd_lite's
    # features have 128 dimensions: fewer clips leave its covariance rank-deficient);
    # doctor's default budget (twice the span from the fork to the alert), capped at 260
    "dvd-110": {
        "steps": 150,
        "eval": {**_SMALL_EVAL, "every": 50},
        "budget": 260,
    },
    # DVD-GAN-lite's flicker, looping and no-D_T configurations: temporal_flicker,
    # looping_video and frozen_video are labelled from step 100 and alerted about 100
    # steps later in bench/detectors_video.py (their 100-step holds; dvd-110 ended the
    # no-D_T run before frozen_video's alert), so the run goes to 250; doctor's default
    # budget from the last checkpoint before the onset (twice the span to the alert),
    # capped at 250 as the looping run treated by hand (docs/doctor.md)
    "dvd-200": {
        "steps": 250,
        "eval": {**_SMALL_EVAL, "every": 50},
        "budget": 250,
    },
}
#: the reduced size of each family configuration
SHORT: dict[str, str] = {
    "srgan_no_pretrain_glyphs.toml": "sr-300",
    "cyclegan_inversion_glyphs.toml": "i2i-300",
    "cyclegan_steganography_glyphs.toml": "i2i-350",
    "progan_stuck_fade_glyphs.toml": "progan-60",
    "stylegan_collapsed_mapping_glyphs.toml": "stylegan-300",
    "cyclegan_identity_glyphs.toml": "i2i-600",
    "pix2pix_no_l1_glyphs.toml": "i2i-400",
    "progan_tanh_glyphs.toml": "progan-30-w100",
    "lapgan_copy_glyphs.toml": "lapgan-300",
    "stackgan_no_ca_glyphs.toml": "stackgan-350",
    "stackgan_copy_glyphs.toml": "stackgan-copy-400",
    "dvdgan_frozen_temporal.toml": "dvd-110",
    "dvdgan_no_temporal.toml": "dvd-200",
    "dvdgan_framewise.toml": "dvd-200",
    "dvdgan_state_reset.toml": "dvd-200",
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def _flat(over: dict, prefix: str = "") -> list[str]:
    """``over`` as dotted ``key=value`` settings, for the table."""
    out = []
    for k, v in over.items():
        if isinstance(v, dict) and k != "overrides":
            out += _flat(v, f"{prefix}{k}.")
        elif k == "overrides":  # detector parameters, the same for each detector listed
            params = {f"{p}={x}" for d in v.values() for p, x in d.items()}
            out.append(f"{', '.join(sorted(params))} ({', '.join(v)})")
        else:
            out.append(f"{prefix}{k}={v}")
    return out


def _rerank(row: dict) -> dict:
    """A stored row's branches ranked by the current rule (practitioners' order from the
    row's remedies), with best and agrees derived again."""
    from gandiag.doctor.score import BranchScore, rank_branches

    names = [b["name"] for b in row["branches"]]
    first = row.get("first_named")
    order = [first] + [n for n in names if n not in (first, "control")] if first else None
    ranked = rank_branches([BranchScore(**b) for b in row["branches"]], order=order)
    best = next(
        (b.name for b in ranked if b.name != "control" and b.cleared and b.improves_on_control),
        None,
    )
    return {
        **row,
        "branches": [b.to_dict() for b in ranked],
        "best": best,
        "recovered": best is not None,
        "agrees": best is not None and best == first,
    }


def _label(args: argparse.Namespace) -> str:
    """How this run was made, for rows kept by a later run."""
    parts = ["--quick" if args.quick else "", "--short" if args.short else ""]
    parts += [
        f"--steps {args.steps}" if args.steps else "",
        f"--budget {args.budget}" if args.budget else "",
    ]
    return " ".join(p for p in parts + [f"--workers {args.workers}"] if p)


def _previous(path: str | None, names: list[str], own: bool = False) -> dict[str, dict]:
    """The rows of an earlier run's JSON for configurations not run now, re-ranked by the
    current rule and labelled with how that run was made (``own``: the JSON's own rows
    are not labelled, as when its table is written again)."""
    if path is None or not Path(path).exists():
        return {}
    import json

    old = json.loads(Path(path).read_text())
    label = old.get("label") or (
        f"{'--quick ' if old.get('quick') else ''}--workers {old.get('workers')}, "
        "doctor's default budgets"
    ) + (
        f", 1-min load average {old['load_before']:.1f} at the start"
        if "load_before" in old
        else ""
    )
    kept = {}
    for r in old["rows"]:
        stopped = str(r.get("not_run", "")).startswith("stopped part-way")
        if r["config"] in names or ("not_run" in r and not stopped):
            continue
        if "recovered" in r:
            r = _rerank(r)
        elif "error" not in r and not stopped:  # a run stopped part-way: not a result
            r = {"config": r["config"], "failure": r["failure"], "not_run": r.get("note", "")}
            r["not_run"] = f"stopped part-way in an earlier run ({label}): {r['not_run']}"
        flat = {
            ", ".join(_flat({k: v for k, v in over.items() if k != "budget"})): key
            for key, over in SIZES.items()
        }
        if r.get("size") in flat:  # written out in full by the first --short run
            r["size"] = flat[r["size"]]
        if "run" not in r and "loads" not in r:  # measured by that run: the load around it
            r = {**r, "loads": [old.get("load_before"), old.get("load_after")]}
        kept[r["config"]] = r if own and "run" not in r else {**r, "run": r.get("run") or label}
    return kept


#: configurations with no reduced size in SHORT: their failure raised no alert in the
#: runs this CPU affords, or too late for doctor's branches to fit (not counted as runs
#: doctor could treat)
NOT_REPRODUCED = {
    "stylegan_no_r1_glyphs.toml": (
        "not run: its alert comes late (64 glyphs, batch 16: mode_collapse at step 610 and "
        "750 of 800-step runs on 2 seeds, onset 200-220, bench/growing_families.py), so "
        "training and branches twice the span from the fork to the alert (~3,000 StyleGAN-"
        "lite steps at ~0.7 s/step) did not fit this CPU budget; its healthy control "
        "stylegan_small_glyphs loses diversity too, later and less"
    ),
}


def _write(
    rows: list[dict],
    pending: list[str],
    args: argparse.Namespace,
    load_before: float,
    previous: dict[str, dict],
    again: dict | None = None,
) -> str:
    """The table and JSON of the rows so far (written after each configuration, so a run
    stopped early still leaves what it measured), with the kept rows of an earlier run;
    configs not reached or not run are listed as such, in FAILURES' order."""
    now = {r["config"]: r for r in rows}
    table = []
    for n, failure in FAILURES.items():
        if args.section != "doctor" and n not in now and n not in pending and n not in previous:
            continue  # a section of its own (a timing run) lists what it ran and --previous
        if n in now:
            table.append(now[n])
        elif n in pending:
            table.append({"config": n, "failure": failure, "not_run": "not reached yet"})
        elif n in previous:
            table.append(previous[n])
        else:
            why = NOT_REPRODUCED[n] if args.short and n in NOT_REPRODUCED else "time limit"
            table.append({"config": n, "failure": failure, "not_run": why})
    scored = [r for r in table if "error" not in r and "not_run" not in r]
    recovered = sum(r["recovered"] for r in scored)
    agrees = sum(r["agrees"] for r in scored)
    within = sum(r["wall_s"] <= r["bound_s"] for r in scored)
    first_cleared = sum(bool(r["first_named_cleared"]) for r in scored)
    # ``again``: an earlier run's JSON whose table is written again (its label and loads)
    load_after = again["load_after"] if again else os.getloadavg()[0]
    label = again["label"] if again else _label(args)
    for r in table:  # a row an earlier run made the same way is this bench's
        if r.get("run") == label:
            r.pop("run")
    loads = [load_before, load_after] + [
        x for r in table if "run" not in r for x in r.get("loads", []) if x is not None
    ]
    ratios = [r["wall_s"] / r["bound_s"] for r in scored]
    sizes = {r["size"] for r in table if r.get("size") and "run" not in r}
    lines = [
        f"## Doctor (`bench/doctor.py {label}`)",
        "",
        (
            "Each failure configuration is trained with a checkpoint ring"
            + (" (at most 800 steps)" if args.quick else "")
            + (f" (at most {args.steps} steps)" if args.steps else "")
            + (", the family configurations at a reduced size (column size)" if args.short else "")
            + ", then `doctor` forks the remedies for its first serious alert with an "
            "applicable remedy from the last healthy checkpoint, each branch trained for "
            "doctor's default budget (twice the steps from the fork to the alert, at least two "
            "evaluation intervals"
            + (f", capped at {args.budget} steps" if args.budget and not args.short else "")
            + (", capped as the size says" if args.short else "")
            + "). Cleared: the alert's detector, replayed over the branch's second half, "
            "raises it no more (rows marked *earlier*: no alert after the fork, the rule "
            "then; their branch stores were not kept, so they are not judged again). "
            "Recovered: a "
            "remedy cleared the alert and beat the control's quality. "
            "Quality: the failure's own outcome where it has one (the reconstruction NLL "
            "for posterior collapse; for the image-to-image failures the probe measure the "
            "failure spoils, see docs/doctor.md), else FID on images, fvd_lite on video, "
            "modes covered on 2-D data. One torch thread per branch. "
            f"Under load: 1-minute load average {min(loads):.1f}-{max(loads):.1f} (before "
            f"and after each bench call), on {os.cpu_count()} cores (the machine was shared). Bound: "
            "ceil(branches / workers) x the branches' mean time. Start-up: from asking for "
            "the pool to the first branch running (the first call starts the pool). Rows "
            "marked *earlier* were kept from an earlier run (`--previous`; its options in the "
            "column size), their branches re-ranked by the current rule."
        ),
        "",
        (
            "| config | size | alert | fork | budget | branches | best remedy | named first: "
            "alert, quality vs control | recovered | control re-alerts | wall / bound | "
            "start-up, report |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        size = r.get("size", "")
        if "run" in r and "not_run" not in r:
            size = f"{size} (*earlier*: `{r['run']}`)" if size else f"*earlier*: `{r['run']}`"
        if "not_run" in r:
            lines.append(f"| {r['config']} | | not run: {r['not_run']} | | | | | | | | | |")
            continue
        if "error" in r:  # the run's folder (a temporary one) says nothing here
            why = (
                re.sub(r"/[^\s:]+", "the run", r["error"])
                .removeprefix("the run has ")
                .removesuffix(": nothing to treat")
            )
            lines.append(
                f"| {r['config']} | {size} | nothing to treat: {why} | | | | | | — | | | |"
            )
            continue
        lines.append(
            f"| {r['config']} | {size} | {r['detector']} (onset {r['onset']}) | "
            f"{r['fork_step']} | {r['budget']} | {len(r['branches'])} | {r['best'] or '—'} | "
            f"{_first(r)} | {'yes' if r['recovered'] else 'no'} | "
            f"{'yes' if r['control_reproduced'] else 'no'} "
            f"| {r['wall_s']:.0f} s / {r['bound_s']:.0f} s = {r['wall_s'] / r['bound_s']:.2f} "
            f"| {r['overhead_s']['pool']:.1f} s, {r['overhead_s']['report']:.1f} s |"
        )
    summary = (
        f"doctor: recovering remedy found for {recovered}/{len(scored)} failure runs with an "
        f"alert and an applicable remedy, best = practitioners' first for {agrees}/"
        f"{len(scored)} (the first cleared its alert in {first_cleared}), within the time "
        f"bound for {within}/{len(scored)}"
        + (f" (wall / bound {min(ratios):.2f}-{max(ratios):.2f})" if ratios else "")
        + f"; {sum('error' in r for r in table)} with nothing to treat, "
        f"{sum('not_run' in r for r in table)} not run"
    )
    used = sorted({r["size"] for r in table if r.get("size") in SIZES})
    if used:
        lines += ["", "Sizes (`--short`; budget: the cap on doctor's default budget):", ""]
        for key in used:
            over = {k: v for k, v in SIZES[key].items() if k != "budget"}
            cap = SIZES[key]["budget"]
            lines.append(
                f"- {key}: {', '.join(_flat(over))}; budget "
                + (f"at most {cap}" if cap else "doctor's default")
            )
    lines += ["", summary]
    write_section(args.section, "\n".join(lines))
    write_json(
        args.json,
        {
            "quick": args.quick,
            "short": args.short,
            "workers": args.workers,
            "label": label,
            "load_before": load_before,
            "load_after": load_after,
            "sizes": sorted(sizes),
            "rows": table,
            "summary": summary,
        },
    )
    return summary


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def _first(r: dict) -> str:
    """The remedy named first: did it clear the alert, its quality against the control's."""
    state = "cleared" if r["first_named_cleared"] else "fired again"
    return (
        f"{r['first_named']}: {state}, {r['quality_name'] or 'quality'} "
        f"{_num(r['first_named_quality'])} vs {_num(r['control_quality'])}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", default=None, help="keep the runs in this folder")
    ap.add_argument("--configs", nargs="*", default=None, help="config file names (default: all)")
    ap.add_argument(
        "--time-limit", type=float, default=None, help="minutes; later configs are not run"
    )
    ap.add_argument("--short", action="store_true", help="family configs at SHORT's reduced size")
    ap.add_argument("--steps", type=int, default=None, help="cap on every training run's steps")
    ap.add_argument("--budget", type=int, default=None, help="cap on each branch's budget")
    ap.add_argument(
        "--previous", default=None, help="JSON of an earlier run: its rows of configs not run now"
    )
    ap.add_argument(
        "--section",
        default="doctor",
        help="the section of docs/benchmarks.md to write (another keeps the main table, as "
        "for a timing run with more workers)",
    )
    ap.add_argument(
        "--rewrite",
        action="store_true",
        help="run nothing: write the table of --previous again (rows re-ranked by the current rule)",
    )
    args = ap.parse_args()
    if args.rewrite:
        import json

        again = json.loads(Path(args.previous).read_text())
        for key in ("short", "quick", "workers"):
            setattr(args, key, again.get(key, getattr(args, key)))
        kept = _previous(args.previous, [], own=True)
        print(_write([], [], args, again["load_before"], kept, again))
        return
    names = args.configs or list(FAILURES)
    unknown = [n for n in names if n not in FAILURES]
    if unknown:
        ap.error(f"unknown configs {unknown}; choose from {', '.join(FAILURES)}")

    import torch

    from gandiag.doctor import NothingToTreat, doctor
    from gandiag.train.config import load_config

    # one thread for the runs trained here too, as in the branch workers: on a shared
    # machine more threads than free cores only spin
    torch.set_num_threads(1)
    from gandiag.train.trainer import train

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gandiag-doctor-"))
    load_before = os.getloadavg()[0]
    previous = _previous(args.previous, names)
    rows: list[dict] = []
    bench_start = time.perf_counter()
    for name in names:
        failure = FAILURES[name]
        spent = (time.perf_counter() - bench_start) / 60
        if args.time_limit is not None and spent >= args.time_limit:
            rows.append({"config": name, "failure": failure, "not_run": "time limit"})
            print(f"{name}: not run ({spent:.0f} of {args.time_limit:g} minutes spent)")
            continue
        cfg = load_config(ROOT / "configs" / name).to_dict()
        size = SHORT.get(name) if args.short else None
        short = dict(SIZES[size]) if size else {}
        cap = short.pop("budget") if size else args.budget
        cfg = _merge(cfg, short)
        if args.quick:
            cfg["steps"] = min(cfg["steps"], 800)
        if args.steps is not None:
            cfg["steps"] = min(cfg["steps"], args.steps)
        size = size or f"steps={cfg['steps']}"
        cfg["checkpoint"].update(ring=6, ring_every=max(25, cfg["eval"]["every"] // 4))
        run = root / name.removesuffix(".toml")
        if run.exists():
            shutil.rmtree(run)
        t0 = time.perf_counter()
        train(cfg, run, progress=False)
        train_s = time.perf_counter() - t0
        try:
            result = doctor(run, workers=args.workers, max_budget=cap)
        except NothingToTreat as exc:  # not detected, or no remedy doctor can try
            rows.append(
                {
                    "config": name,
                    "failure": failure,
                    "size": size,
                    "error": str(exc),
                    "train_s": train_s,
                }
            )
            print(f"{name}: {exc}", flush=True)
            _write(rows, names[len(rows) :], args, load_before, previous)
            continue
        first = next((b for b in result.branches if b.name == result.first_named), None)
        control = next(b for b in result.branches if b.name == "control")
        branch_s = statistics.mean(b.wall_s for b in result.branches)
        bound_s = -(-len(result.branches) // args.workers) * branch_s
        t = result.timing
        row = {
            "config": name,
            "failure": failure,
            "size": size,
            "train_steps": cfg["steps"],
            "detector": result.detector,
            "onset": result.onset_step,
            "fork_step": result.fork_step,
            "budget": result.budget,
            "branches": [b.to_dict() for b in result.branches],
            "best": result.best,
            "first_named": result.first_named,
            "recovered": result.recovered,
            "agrees": result.best is not None and result.best == result.first_named,
            "control_reproduced": result.control_reproduced,
            "quality_name": control.quality_name,
            "control_quality": control.quality,
            "first_named_cleared": first.cleared if first else None,
            "first_named_quality": first.quality if first else None,
            "passed_over": result.passed_over,
            "wall_s": result.wall_s,
            "branch_mean_s": branch_s,
            "bound_s": bound_s,
            "train_s": train_s,
            "timing": t,
            "overhead_s": {
                "pool": t.get("pool_s", 0.0) + t.get("first_start_s", 0.0),
                "setup": t.get("setup_s", 0.0),
                "scoring": t.get("scoring_s", 0.0),
                "report": t.get("report_s", 0.0),
            },
        }
        rows.append(row)
        print(
            f"{name}: {result.detector} -> best {result.best} (first named {result.first_named}); "
            f"wall {result.wall_s:.0f} s vs bound {bound_s:.0f} s",
            flush=True,
        )
        _write(rows, names[len(rows) :], args, load_before, previous)

    summary = _write(rows, [], args, load_before, previous)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(summary)


if __name__ == "__main__":
    main()

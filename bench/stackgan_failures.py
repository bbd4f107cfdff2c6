"""StackGAN-lite cases: does each failure config fail, and do the detectors say so?

Trains (or reads, with ``--runs`` holding finished runs) ``configs/stackgan_*.toml`` with
``gandiag train`` and its default detectors, then measures OUTCOMES on fresh samples of the
final generator (never the monitor's signals); labels come from those outcomes only:

* ``mode_collapse``: within-class diversity (mean pairwise L2 distance of 50 fakes of one
  class over that of 50 reals of the class, averaged over the classes) below 0.5, the
  threshold of the growing-families bench;
* ``condition_ignored``: glyph-classifier accuracy of the fakes against the requested
  class below 0.5 (chance is 0.1);
* ``stage_copy``: what stage II adds over its upsampled stage-I input has less than 10% of
  the energy the real 32 px images have over their upsampled 16 px copies.

A label is found when a detector mapped to it (``FINDS``) alerted; the family detectors'
alerts in a case without a label are false alarms. Also reported: mean pairwise MS-SSIM
of fakes within a class (lower = more diverse; reals for comparison).

The ``condition_ignored`` label and the detector's classifier reading
(``eval/class_consistency``, the trainer's evaluations) use the same glyph classifier: the
label is measured once, on 50 fresh samples per class of the final generator with this
bench's own seed, and the signal on the evaluations' samples during training (1,000 per
evaluation, the trainer's seed). Same instrument, different samples and times, so the
headline is reported twice: with the run's live alerts, and with the stored records
replayed through the run's detectors with every ``eval/class_*`` signal removed (the
label-free detectors alone).

    OMP_NUM_THREADS=1 python bench/stackgan_failures.py --json bench/results/stackgan_failures.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import tomllib
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import table, write_json, write_section

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    "stackgan_glyphs",
    "stackgan_no_ca_glyphs",
    "stackgan_copy_glyphs",
    "stackgan_onehot_glyphs",
]
FINDS = {
    "mode_collapse": {"class_collapse", "mode_collapse", "sample_coverage"},
    "condition_ignored": {"condition_ignored", "ca_collapse"},
    "stage_copy": {"level_copy"},
}
FAMILY = {"ca_collapse", "level_copy", "condition_ignored", "class_collapse"}
PER_CLASS = 50


def _pairwise_l2(x: torch.Tensor) -> float:
    flat = x.flatten(1).double()
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1)))


@torch.no_grad()
def outcomes(run: Path, seed: int = 0) -> dict[str, float]:
    from gandiag.data import load_dataset
    from gandiag.features import get_extractor
    from gandiag.metrics.msssim import msssim_diversity
    from gandiag.reference_models import build_model
    from gandiag.reference_models.stackgan import down, up
    from gandiag.store import RunReader
    from gandiag.train.checkpoint import checkpoint_path

    reader = RunReader(run)
    options = reader.meta("config")["model_options"]
    bundle = build_model("stackgan", **options)
    payload = torch.load(checkpoint_path(run), map_location="cpu", weights_only=True)
    g = bundle.generator
    g.load_state_dict(payload["stepper"]["G"])
    g.eval()
    ds = load_dataset("glyphs", image_size=32)
    gen = torch.Generator().manual_seed(seed)
    ext = get_extractor("glyph")
    ratios, correct, detail_fake, detail_real, ms_fake, ms_real = [], 0, 0.0, 0.0, [], []
    for k in range(g.num_classes):
        y = torch.full((PER_CLASS,), k, dtype=torch.long)
        z = torch.randn(PER_CLASS, bundle.latent_dim, generator=gen)
        s1 = g.sample_stage1(z, y, gen)[0]
        fake = g.sample_stage2(s1, y, gen)[0] if int(g.stage) == 2 else up(s1)
        real = torch.from_numpy(ds.array[ds.labels == k][:PER_CLASS]).float() / 127.5 - 1.0
        ratios.append(_pairwise_l2(fake) / _pairwise_l2(real))
        # the glyph classifier reads 28 px: resized as the trainer's evaluation does
        small = F.interpolate(fake, size=(28, 28), mode="bilinear", antialias=True)
        correct += int((ext.logits(small).argmax(1) == k).sum())
        detail_fake += float((fake - up(s1)).pow(2).mean())
        detail_real += float((real - up(down(real))).pow(2).mean())
        ms_fake.append(msssim_diversity(fake, pairs=100, seed=seed))
        ms_real.append(msssim_diversity(real, pairs=100, seed=seed))
    n = g.num_classes
    return {
        "class_diversity_ratio": sum(ratios) / n,
        "class_accuracy": correct / (n * PER_CLASS),
        "stage2_detail_ratio": detail_fake / detail_real,
        "msssim_fake": sum(ms_fake) / n,
        "msssim_real": sum(ms_real) / n,
    }


def labels_of(out: dict[str, float]) -> list[str]:
    labels = []
    if out["class_diversity_ratio"] < 0.5:
        labels.append("mode_collapse")
    if out["class_accuracy"] < 0.5:
        labels.append("condition_ignored")
    if out["stage2_detail_ratio"] < 0.1:
        labels.append("stage_copy")
    return labels


CLASSIFIER_SIGNALS = ("eval/class_accuracy", "eval/class_accuracy_real", "eval/class_consistency")


def alerts_without_classifier(run: Path) -> list[tuple[str, str, int]]:
    """The run's stored records replayed through its detectors, the classifier's signals removed."""
    import dataclasses

    from gandiag.detectors import DetectorSuite
    from gandiag.store import RunReader

    reader = RunReader(run)
    suite = DetectorSuite.from_spec(reader.meta("detectors"))
    suite.bind(reader.meta("networks"), reader.meta("network_stages"))
    out = []
    for rec in reader.read_records():
        kept = {k: v for k, v in rec.scalars.items() if k not in CLASSIFIER_SIGNALS}
        for a in suite.update(dataclasses.replace(rec, scalars=kept)):
            if a.severity.value != "info":
                out.append((a.detector, a.severity.value, a.step))
    return out


def consistency_of(run: Path) -> str:
    """The evaluations' class consistency, ``step: value`` (the detector's classifier reading)."""
    from gandiag.store import RunReader

    s = RunReader(run).read_scalars(["eval/class_consistency"]).get("eval/class_consistency")
    if s is None or not len(s.steps):
        return "-"
    return ", ".join(f"{int(t)}: {v:.2f}" for t, v in zip(s.steps, s.values))


def alerts_of(run: Path) -> list[tuple[str, str, int]]:
    from gandiag.store import RunReader

    return [
        (a.detector, a.severity.value, a.step)
        for a in RunReader(run).read_alerts()
        if a.severity.value != "info"
    ]


def run_key(case: str, seed: int) -> str:
    """The run folder of a case and seed (seed 0 keeps the bare name of earlier runs)."""
    return case if seed == 0 else f"{case}@{seed}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("/tmp/stackgan_failures"))
    ap.add_argument("--cases", nargs="*", default=CASES, choices=CASES)
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[0],
        help="training seeds (the config's seed); the outcomes draw with the same seed",
    )
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    from gandiag.train import train

    rows, payload = [], {}
    for case, seed in [(c, s) for s in args.seeds for c in args.cases]:
        key = run_key(case, seed)
        run = args.runs / key
        if not (run / "run.sqlite").exists():
            started = time.perf_counter()
            cfg = tomllib.loads((ROOT / "configs" / f"{case}.toml").read_text())
            train({**cfg, "seed": seed}, run, progress=False)
            print(f"{key}: trained in {time.perf_counter() - started:.0f} s", flush=True)
        out = outcomes(run, seed)
        labels = labels_of(out)
        alerts = alerts_of(run)
        fired = {d for d, _, _ in alerts}
        found = {lab: bool(FINDS[lab] & fired) for lab in labels}
        false = sorted(fired & FAMILY) if not labels else []
        blind = alerts_without_classifier(run)
        fired_blind = {d for d, _, _ in blind}
        found_blind = {lab: bool(FINDS[lab] & fired_blind) for lab in labels}
        false_blind = sorted(fired_blind & FAMILY) if not labels else []
        payload[key] = {
            "seed": seed,
            **out,
            "labels": labels,
            "found": found,
            "alerts": alerts,
            "found_without_classifier": found_blind,
            "alerts_without_classifier": blind,
            "false_alarms": false,
            "false_alarms_without_classifier": false_blind,
        }
        first = {}
        for d, sev, step in alerts:
            first.setdefault(d, f"{d}@{step} ({sev})")
        rows.append(
            [
                case,
                seed,
                out["class_diversity_ratio"],
                out["class_accuracy"],
                out["stage2_detail_ratio"],
                f"{out['msssim_fake']:.3f} / {out['msssim_real']:.3f}",
                consistency_of(run),
                ", ".join(labels) or "healthy",
                ", ".join(f"{k}: {'found' if v else 'MISSED'}" for k, v in found.items()) or "-",
                ", ".join(f"{k}: {'found' if v else 'MISSED'}" for k, v in found_blind.items())
                or "-",
                ", ".join(first.values()) or "none",
                ", ".join(false) or "-",
                ", ".join(false_blind) or "-",
            ]
        )
    load = os.getloadavg()[0]
    md = (
        "StackGAN-lite configs trained with `gandiag train` (CPU, 1 torch thread, under load, "
        f"1-min load average {load:.1f} at the end); outcomes on 50 fresh samples per class.\n\n"
        + table(
            [
                "config",
                "seed",
                "within-class diversity (fake/real)",
                "class accuracy",
                "stage-II detail (fake/real)",
                "MS-SSIM within class (fake / real)",
                "class consistency at the evaluations (step: value)",
                "labels (outcomes)",
                "found",
                "found without the classifier signal",
                "alerts (first per detector)",
                "family false alarms",
                "false alarms without the classifier signal",
            ],
            rows,
        )
    )
    n_labels = sum(len(p["labels"]) for p in payload.values())
    n_found = sum(sum(p["found"].values()) for p in payload.values())
    n_blind = sum(sum(p["found_without_classifier"].values()) for p in payload.values())
    n_false = sum(len(p["false_alarms"]) for p in payload.values())
    n_false_blind = sum(len(p["false_alarms_without_classifier"]) for p in payload.values())
    headline = (
        f"stackgan_failures: {n_found}/{n_labels} labelled failures found, {n_false} family "
        f"false alarms; without the classifier signal {n_blind}/{n_labels}, {n_false_blind}"
    )
    md += f"\n\n{headline}\n"
    write_json(args.json, {"cases": payload})
    if not args.no_docs:
        write_section("stackgan_failures", md)
    print(md)
    print(headline)


if __name__ == "__main__":
    main()

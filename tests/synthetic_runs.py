"""Synthetic runs written through :class:`~gandiag.store.RunWriter`, to try the dashboard and the
reports without training (``gandiag dashboard`` on a folder of these) and to test them.

The curves are shaped like well-known failures (a GAN whose D wins and whose
samples collapse, a VAE whose units die) but they are made up: never read them as results.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gandiag import signals as sig
from gandiag.images import grid_png
from gandiag.store import RunWriter
from gandiag.types import Alert, Histogram, MetricProtocol, MetricResult, Severity, StepRecord

GAN_LAYERS = ("net.0", "net.2", "net.4")


def write_synthetic_run(
    run_dir: str | Path,
    *,
    kind: str = "gan",
    steps: int = 400,
    name: str | None = None,
    seed: int = 0,
    failure: bool = True,
    extra_layers: int = 0,
    histogram_every: int = 10,
    grids: int = 4,
    config: Mapping[str, Any] | None = None,
    batch: int = 2000,
    close: bool = True,
) -> RunWriter | Path:
    """Write a synthetic ``"gan"`` or ``"vae"`` run of ``steps`` steps and return its directory.

    ``failure`` adds a collapse (GAN) or dying units (VAE) in the last 40% of the run with
    the matching alerts; ``extra_layers`` adds per-layer gradient series to G and D (a
    100,000-step run with ``extra_layers=20`` has about 50 series). With ``close=False`` the
    open writer is returned so a test can keep appending, as a live run would.
    """
    if kind not in ("gan", "vae"):
        raise ValueError(f"kind must be 'gan' or 'vae', not {kind!r}")
    rng = np.random.default_rng(seed)
    cfg = dict(
        config
        or {
            "model": "dcgan" if kind == "gan" else "conv_vae",
            "lr": 2e-4,
            "batch_size": 64,
            "seed": seed,
        }
    )
    writer = RunWriter(run_dir, config=cfg, name=name, kind=kind)
    onset = int(steps * 0.6) if failure else steps + 1
    t = np.arange(steps)
    columns = (_gan_columns if kind == "gan" else _vae_columns)(t, onset, rng, extra_layers)
    hist_steps = (
        set(range(0, steps, histogram_every)) if kind == "gan" and histogram_every else set()
    )
    for start in range(0, steps, batch):
        records = []
        for i in range(start, min(steps, start + batch)):
            scalars = {k: float(v[i]) for k, v in columns.items() if not np.isnan(v[i])}
            hists = {}
            if i in hist_steps:
                hists = {
                    sig.HIST_D_REAL: _prob_hist(columns[sig.D_REAL_PROB_MEAN][i], rng),
                    sig.HIST_D_FAKE: _prob_hist(columns[sig.D_FAKE_PROB_MEAN][i], rng),
                }
            records.append(StepRecord(i, scalars, hists, wall_time=1.7e9 + i * 0.05))
        writer.write_steps(records)
    for k in range(grids):
        step = int((steps - 1) * k / max(1, grids - 1))
        collapsed = step >= onset
        imgs = rng.uniform(-1, 1, size=(16, 1, 12, 12))
        if collapsed:
            imgs = np.repeat(imgs[:1], 16, axis=0) + rng.normal(0, 0.05, size=imgs.shape)
        writer.write_sample_grid(step, grid_png(imgs, min_size=96), "samples")
    if failure and steps > 10:
        writer.write_alerts(_alerts(kind, onset, steps))
    writer.write_metrics(_metrics(kind, steps, failure, rng))
    if close:
        writer.close()
        return Path(run_dir)
    return writer


def _gan_columns(
    t: np.ndarray, onset: int, rng: np.random.Generator, extra_layers: int
) -> dict[str, np.ndarray]:
    n = t.size
    bad = (t >= onset).astype(float)
    noise = lambda s: rng.normal(0, s, n)
    real = np.clip(0.6 + 0.35 * bad + noise(0.03), 0, 1)
    fake = np.clip(0.4 - 0.35 * bad + noise(0.03), 0, 1)
    cols = {
        sig.loss("G"): 0.9 + 2.0 * bad + noise(0.1),
        sig.loss("D"): 1.3 - 1.1 * bad + noise(0.08),
        sig.D_REAL_PROB_MEAN: real,
        sig.D_FAKE_PROB_MEAN: fake,
        sig.D_REAL_RAW_MEAN: np.log(real / (1 - real + 1e-6) + 1e-6),
        sig.D_FAKE_RAW_MEAN: np.log(fake / (1 - fake + 1e-6) + 1e-6),
        sig.grad_norm("G"): np.exp(-3 - 3 * bad + noise(0.2)),
        sig.grad_norm("D"): np.exp(-2 + noise(0.2)),
        sig.D_RT: np.clip(0.3 + 0.5 * bad + noise(0.03), -1, 1),
        sig.SAMPLES_STD_RATIO: np.clip(0.95 - 0.6 * bad + noise(0.02), 0, None),
        sig.SAMPLES_PDIST_RATIO: np.clip(0.95 - 0.55 * bad + noise(0.02), 0, None),
        sig.LOSS_NONFINITE: np.zeros(n),
    }
    for net, base in (("G", -3.0), ("D", -2.0)):
        layers = list(GAN_LAYERS) + [f"block{j}.conv" for j in range(extra_layers)]
        for j, layer in enumerate(layers):
            drop = 3.0 * bad if net == "G" else 0.0
            cols[sig.grad_layer_norm(net, layer)] = np.exp(base - 0.3 * j - drop + noise(0.2))
    fid = np.full(n, np.nan)
    every = max(1, n // 10)
    fid[::every] = 120 * np.exp(-t[::every] / max(1, n / 3)) + 20 + 60 * bad[::every]
    cols[sig.eval_metric("fid")] = fid
    modes = np.full(n, np.nan)
    modes[::every] = np.where(bad[::every] > 0, 1.0, 8.0)
    cols[sig.EVAL_MODES_COVERED] = modes
    return cols


def _vae_columns(
    t: np.ndarray, onset: int, rng: np.random.Generator, extra_layers: int
) -> dict[str, np.ndarray]:
    n = t.size
    dims = 8
    cols: dict[str, np.ndarray] = {}
    kl_total = np.zeros(n)
    active = np.zeros(n)
    for j in range(dims):
        dies = j >= dims // 2
        kl = 1.5 * (1 - np.exp(-t / max(1, n / 10))) + rng.normal(0, 0.03, n)
        if dies:
            kl = np.where(t >= onset, 0.002 + np.abs(rng.normal(0, 0.001, n)), kl)
        kl = np.clip(kl, 0, None)
        cols[sig.vae_kl_dim(j)] = kl
        kl_total += kl
        active += kl > 0.01
    cols[sig.VAE_KL] = kl_total
    cols[sig.VAE_RECON] = 80 * np.exp(-t / max(1, n / 4)) + 20 + rng.normal(0, 1, n)
    cols[sig.loss("total")] = cols[sig.VAE_RECON] + kl_total
    cols[sig.VAE_ACTIVE_UNITS] = active
    cols[sig.VAE_ACTIVE_FRACTION] = active / dims
    cols[sig.grad_norm("model")] = np.exp(-1 + rng.normal(0, 0.2, n))
    return cols


def _prob_hist(mean: float, rng: np.random.Generator) -> Histogram:
    x = np.clip(rng.normal(mean, 0.08, 256), 0, 1)
    counts, _ = np.histogram(x, bins=20, range=(0.0, 1.0))
    return Histogram(0.0, 1.0, tuple(int(c) for c in counts))


def _alerts(kind: str, onset: int, steps: int) -> list[Alert]:
    if kind == "gan":
        first = Alert(
            "mode_collapse",
            Severity.WARNING,
            onset + 20,
            onset,
            "sample diversity fell: fakes spread 0.4x as far as reals",
            {"pdist_ratio": 0.4, "std_ratio": 0.35},
            ("unrolled discriminator steps", "lower the discriminator learning rate"),
        )
        worse = Alert(
            "mode_collapse",
            Severity.CRITICAL,
            min(steps - 1, onset + 80),
            onset,
            "samples collapsed onto one mode",
            {"modes_covered": 1.0, "pdist_ratio": 0.3},
            ("restart from the last healthy checkpoint", "use spectral norm with hinge loss"),
        )
        grads = Alert(
            "vanishing_gradients",
            Severity.WARNING,
            min(steps - 1, onset + 40),
            onset + 5,
            "generator gradients vanished while D(real)≈0.95 and D(fake)≈0.05",
            {"grad_G_norm": 0.002, "d_real": 0.95, "d_fake": 0.05},
            ("non-saturating generator loss", "instance noise or label smoothing"),
        )
        return [first, grads, worse]
    return [
        Alert(
            "posterior_collapse",
            Severity.WARNING,
            min(steps - 1, onset + 10),
            onset,
            "4 of 8 latent dimensions carry no information (KL < 0.01 nats)",
            {"active_units": 4.0, "dead_dims": 4.0},
            ("KL annealing", "free bits / a KL floor"),
        )
    ]


def _metrics(kind: str, steps: int, failure: bool, rng: np.random.Generator) -> list[MetricResult]:
    proto = MetricProtocol(
        "glyph", "0" * 64, "uint8 quantised, 28x28", 2000, 2000, {"k": 3, "seed": 0}
    )
    good = not failure
    values = {
        "fid": (25.0 if good else 80.0) + rng.normal(0, 1),
        "kid": 0.01 if good else 0.06,
        "precision": 0.8 if good else 0.9,
        "recall": 0.75 if good else 0.15,
        "density": 0.95 if good else 1.3,
        "coverage": 0.8 if good else 0.2,
    }
    if kind == "vae":
        values.update(precision=0.55, recall=0.7, fid=45.0)
    out = []
    for name, v in values.items():
        half = 0.03 * abs(v) + 0.01
        out.append(
            MetricResult(
                name,
                float(v),
                proto,
                uncertainty=half / 2,
                interval=(float(v) - half, float(v) + half),
                step=steps - 1,
            )
        )
    return out


def write_ring_run(run_dir: Path, *, name: str = "ring-gan", steps: int = 200) -> Path:
    """A 2-D GAN run on a ring of 8 Gaussians: losses, and sample scatters at three steps
    whose points (half the modes covered) are stored with a real batch and the mode
    centres, as the trainer stores them."""
    from gandiag.data import load_dataset
    from gandiag.images import scatter_png

    ds = load_dataset("ring8", n=512)
    rng = np.random.default_rng(0)
    writer = RunWriter(run_dir, config={"model": "mlp_gan"}, name=name, kind="gan")
    writer.set_meta(
        data_modes={"name": "ring8", "centers": ds.modes.centers.tolist(), "sigma": 0.02}
    )
    t = np.arange(steps)
    writer.write_steps(
        [StepRecord(int(s), {"loss/G": 1.0 + 0.1 * np.sin(s / 9), "loss/D": 1.2}) for s in t]
    )
    real = ds.batch(np.arange(256))
    for step in (0, steps // 2, steps - 1):
        modes = rng.integers(0, 4, size=256)  # the generator covers modes 0-3 only
        pts = ds.modes.centers[modes] + 0.05 * rng.standard_normal((256, 2))
        writer.write_sample_grid(step, scatter_png(pts, reference=real), name="samples")
        writer.write_sample_points(step, pts, reference=real, name="samples")
    writer.close()
    return run_dir

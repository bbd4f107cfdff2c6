"""The labelled failure suite: cheap training runs that fail (or not) in known ways.

Each case trains a small model with ``gandiag.Monitor`` attached (default detectors),
and, separately, measures OUTCOMES on large fresh sample sets at every evaluation. The
ground-truth labels (which failure, since when) are computed from those outcomes only
(see :func:`label_ring`, :func:`label_vae`, :func:`label_glyph` and docs/detectors.md),
never from the monitor's signals.

Configurations follow REFERENCE.md section 3 (2-D ring of 8 Gaussians, radius 2,
σ = 0.02; MLP G and D with 2 hidden layers of 128 ReLU, z = 16, Adam β = (0.5, 0.999)).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_HEALTHY = {"loss": "ns", "r1": 1.0, "lr_g": 2e-4, "lr_d": 2e-4, "d_steps": 1, "batch": 256}
RING_CONFIGS: dict[str, dict[str, Any]] = {
    "healthy": {"loss": "ns", "r1": 1.0, "lr_g": 2e-4, "lr_d": 2e-4, "d_steps": 1, "batch": 256},
    "collapse": {"loss": "ns", "lr_g": 1e-4, "lr_d": 1e-3, "d_steps": 5, "batch": 256},
    "vanishing": {"loss": "sat", "lr_g": 1e-4, "lr_d": 1e-3, "d_steps": 5, "batch": 256},
    "nonconvergence": {"loss": "sat", "lr_g": 1e-4, "lr_d": 1e-3, "d_steps": 1, "batch": 256},
    "explosion": {"loss": "wgan", "lr_g": 1e-3, "lr_d": 1e-3, "d_steps": 5, "batch": 256},
    "nan": {"loss": "ns", "opt": "sgd", "lr_g": 2.0, "lr_d": 2.0, "d_steps": 1, "batch": 256},
    "noisy": {"loss": "ns", "lr_g": 1e-3, "lr_d": 1e-3, "d_steps": 1, "batch": 32},
    # noisy but meant to be healthy: the healthy configuration (R1, lr 2e-4) with batches
    # of 32 like `noisy`, so every batch signal is ~3x noisier; whether it is healthy is
    # for its outcomes to say
    "healthy_small_batch": {**_HEALTHY, "batch": 32},
    # -- detectors v2 cases. A "pull" (start, ramp_end, share[, end]) adds to G's loss the
    # squared distance of G(z) to one mode centre for the latents whose first coordinate is
    # below the `share` quantile (the share ramps linearly from start to ramp_end): a G that
    # really learns to put that share of its samples on one mode, while the GAN loss keeps
    # training the rest. Labels still come from the outcomes alone (label_ring).
    "partial": {**_HEALTHY, "pull": (400, 400, 0.6), "steps": 900},
    "slow_collapse": {**_HEALTHY, "pull": (500, 1000, 0.95), "steps": 1200},
    # 2,000 steps: at 1,200 none of 5 seeds had recovered yet (dominant share 0.35-0.59
    # and falling), so the case was labelled a lasting collapse
    "transient": {**_HEALTHY, "pull": (500, 500, 0.9, 700), "steps": 2000},
    # Adam with beta1 = 0.9 and lr 1e-3 for both players, no penalty: the generated
    # distribution sloshes around (pilot: its centroid swings 0 -> 3 -> 0 -> 6 -> 0.4 ...)
    "oscillation": {
        "loss": "ns",
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "d_steps": 1,
        "batch": 256,
        "beta1": 0.9,
        "steps": 1200,
    },
    # two discriminators: a healthy one and a second one trained 5x per G step at 5x the
    # learning rate, whose term enters G's loss with weight 0.1 in the saturating form
    # log(1 - D_aux(G(z))). With the non-saturating form (the first version) G's pull from
    # D_aux grew as D_aux won, holding D_aux's fake probability near 0.05: inside the
    # label's margin band, not saturated. The saturating form's gradient vanishes as D_aux
    # wins (Goodfellow et al. 2014, section 3), so D_aux saturates while D_main does not.
    "multi_d": {
        **_HEALTHY,
        "second_d": (10, 2e-3, 0.1, "sat"),
        "names": ("G", "D_main", "D_aux"),
    },
    # networks named neither G nor D
    "collapse_named": {
        "loss": "ns",
        "lr_g": 1e-4,
        "lr_d": 1e-3,
        "d_steps": 5,
        "batch": 256,
        "names": ("mapper", "critic"),
    },
}
VAE_CONFIGS: dict[str, dict[str, Any]] = {
    "vae_healthy": {"decoder_sigma": 0.1, "beta": 1.0},
    # REFERENCE.md's sigma=1 and beta=50 do not collapse 784-pixel glyphs in [-1, 1] within
    # 1,000 steps (pilot: all 8 units active); sigma=5 and beta=400 are the weakest settings
    # that did (docs/detectors.md).
    "vae_collapse": {"decoder_sigma": 5.0, "beta": 1.0},
    "vae_partial": {"decoder_sigma": 0.1, "beta": 400.0},
    # a healthy VAE whose decoder is pulled, from step 200, to draw 65% of its prior
    # samples as one glyph (the mean image of one class): sample concentration
    # 2,400 steps: the glyph classifier reads this VAE's outputs (READABLE_ACC) only late
    # (at 1,600 steps it named 79% of the reconstructions right, rising ~2 points per 100)
    "vae_concentration": {"decoder_sigma": 0.1, "beta": 1.0, "pull": (200, 0.65), "steps": 2400},
}
GLYPH_CONFIGS: dict[str, dict[str, Any]] = {
    # 50 images met the large-sample r_v > 0.5 label in only 2 of 5 seeds within 1,500
    # steps; 25 images meet it by step ~700 (pilot: 3 of 3 seeds)
    "glyph_overfit": {"train_images": 25},
    "glyph_healthy": {"train_images": 5000},
}

RING_EVAL_EVERY = 50
VAE_EVAL_EVERY = 100
GLYPH_EVAL_EVERY = 100
EARLY_PHASE_STEPS = 500  # healthy ring runs leave their one-or-two-mode phase by then


@dataclass
class Case:
    family: str  # "ring", "vae", "glyph"
    config: str
    seed: int
    steps: int

    @property
    def name(self) -> str:
        return f"{self.config}/s{self.seed}"

    @property
    def key(self) -> str:
        """Identifies a trained result in the --cache: case, steps and configuration."""
        from failure_suite_video import VIDEO_CONFIGS

        configs = {**RING_CONFIGS, **VAE_CONFIGS, **GLYPH_CONFIGS, **VIDEO_CONFIGS}
        return f"{self.family}:{self.name}:{self.steps}:{sorted(configs[self.config].items())}"


@dataclass
class CaseResult:
    case: dict[str, Any]
    steps_run: int
    eval_every: int
    labels: dict[str, int]  # failure -> labelled onset step
    ambiguous: dict[str, int]  # failures in the margin band of their label: not scored
    alerts: list[dict[str, Any]]  # live alerts, as Alert.to_dict()
    outcomes: dict[str, list[float]]  # outcome curves ("step" plus named series)
    signals: dict[str, list[list[float]]]  # name -> [[step, value], ...] (downsampled)
    records: list[dict[str, Any]] = field(default_factory=list)  # for replays
    seconds: float = 0.0


def run_case(case: Case) -> dict[str, Any]:
    """Train one case with the Monitor attached; return a JSON-able :class:`CaseResult`."""
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / case.name.replace("/", "_")
        if case.family == "ring":
            from failure_suite_ring import train_ring

            out = train_ring(case, run_dir)
        elif case.family == "video":
            from failure_suite_video import train_video

            out = train_video(case, run_dir)
        elif case.family == "vae":
            from failure_suite_images import train_vae

            out = train_vae(case, run_dir)
        else:
            from failure_suite_images import train_glyph_gan

            out = train_glyph_gan(case, run_dir)
        signals, records, alerts = read_run(run_dir)
    out.signals, out.records, out.alerts = signals, records, alerts
    out.seconds = time.perf_counter() - t0
    return asdict(out)


SIGNALS_SHOWN = (
    "loss/G",
    "loss/D",
    "loss/vae",
    "grad/G/norm",
    "grad/D/norm",
    "grad/model/norm",
    "grad/VAE/norm",
    "samples/pdist_ratio",
    "d/real/prob_mean",
    "d/fake/prob_mean",
    "d/real/raw_mean",
    "d/fake/raw_mean",
    "d/r_v",
    "vae/kl",
    "vae/active_fraction",
    "eval/dominant_share",
    "video/motion_ratio",
    "video/recurrence_excess",
    "video/flip_excess",
    "video/legible_fake",
    "loss/D_S",
    "loss/D_T",
)


def run_cases(
    cases: list[Case], jobs: int = 1, cache: Path | None = None, cached_only: bool = False
) -> tuple[list[Case], list[dict[str, Any]]]:
    """Train the cases not in ``cache`` (a pickle of ``Case.key -> run_case`` results), on
    ``jobs`` processes, and return the cases scored with their results. The cache is
    written after every case, so an interrupted suite keeps its runs; ``cached_only``
    scores only the cases already in it (a bench stopped early) and trains nothing."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    cached: dict = pickle.loads(cache.read_bytes()) if cache and cache.exists() else {}
    if cached_only:
        cases = [c for c in cases if c.key in cached]
        if not cases:
            raise SystemExit("--cached-only: none of the selected cases is in --cache")
    todo = [c for c in cases if c.key not in cached]

    def keep(case: Case, result: dict) -> None:
        cached[case.key] = result
        if cache:
            tmp = cache.with_name(cache.name + ".tmp")
            tmp.write_bytes(pickle.dumps(cached))
            tmp.replace(cache)

    if jobs == 1:
        for c in todo:
            keep(c, run_case(c))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for c, r in zip(todo, pool.map(run_case, todo)):
                keep(c, r)
    return cases, [cached[c.key] for c in cases]


def read_run(
    run_dir: Path, points: int = 300
) -> tuple[dict[str, list[list[float]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Downsampled curves for the HTML page, the records (for replays), the stored alerts."""
    from gandiag.store import RunReader

    with RunReader(run_dir) as reader:
        names = [n for n in reader.scalar_names() if n in SIGNALS_SHOWN]
        series = reader.read_scalars(names, max_points=points)
        records = [{"step": r.step, "scalars": dict(r.scalars)} for r in reader.read_records()]
        alerts = [a.to_dict() for a in reader.read_alerts()]
    curves = {
        n: [[int(s), _json(v)] for s, v in zip(se.steps.tolist(), se.values.tolist())]
        for n, se in series.items()
    }
    return curves, records, alerts


def _json(v: float) -> float | None:
    return None if not math.isfinite(v) else float(v)


# -- labels from outcomes ------------------------------------------------------------------------
def first_streak(
    flags: list[bool],
    steps: list[int],
    length: int,
    min_end: int = -1,
    min_span: int = 0,
    support: list[bool] | None = None,
) -> int | None:
    """Step at which the first run of at least ``length`` consecutive True flags, spanning at
    least ``min_span`` steps (first to last) and ending at or after ``min_end``, begins; with
    ``support``, a run counts once one of its evaluations is also supported."""
    run = 0
    for i, f in enumerate(flags):
        run = run + 1 if f else 0
        start = i - run + 1
        if (
            run >= max(length, 1)
            and steps[i] >= min_end
            and steps[i] - steps[start] >= min_span
            and (support is None or any(support[start : i + 1]))
        ):
            return steps[start]
    return None


# Each label has a strict rule (the failure is there) and a lenient one with the same shape
# and looser thresholds. A run meeting only the lenient rule sits in the margin band of that
# label: "ambiguous", excluded from scoring (a claim there is neither right nor wrong, and it
# is not a miss). The bands are fixed from the outcome scales below, not from detector output.
RING_BANDS = {  # strict, lenient
    "effective_modes": (2.5, 4.0),  # exp(H) of the nearest-centre histogram, out of 8 modes
    "d_fake_prob": (0.01, 0.05),  # mean sigmoid(D(G(z))) below
    "d_real_prob": (0.99, 0.95),  # mean sigmoid(D(x)) above
    "g_grad_rel": (0.3, 0.5),  # G's loss gradient relative to step 0, below
    "sample_scale": (20.0, 10.0),  # mean |G(z)| above (ring radius 2)
    "critic_scale": (100.0, 50.0),  # mean |D| above
    "dominant_share": (0.45, 0.35),  # share of samples nearest one mode, at least
    "centroid": (1.0, 0.7),  # |mean of the samples| swings above this (ring radius 2) ...
    "aux_fake_prob": (0.05, 0.1),  # second D: mean sigmoid(D2(G(z))) below ...
    "aux_real_prob": (0.95, 0.9),  # ... and mean sigmoid(D2(x)) above
}
CENTROID_BACK = 0.5  # ... and back below this: one swing of the generated distribution
# Swings are counted from the end of the early phase, like every other ring label. (They
# were counted from 300 on the premise that the early one-mode phase ends earlier; the
# healthy runs' outcomes contradict it: centroid above 1.0 until step 300-450, so the end
# of the early phase counted as a swing and labelled non_convergence on runs whose only
# later swing was an injected transient collapse.)
OSCILLATION_FROM = EARLY_PHASE_STEPS
RECOVERED_EVALS = 3  # a collapse that ends in this many non-concentrated evaluations recovered
DEAD_SHARE_BAND = (0.25, 0.125)  # VAE: share of the 8 latent units inactive, at least
RV_BAND = (0.5, 0.3)  # glyph GAN: large-sample r_v above


def label_ring(o: dict[str, list[float]]) -> tuple[dict[str, int], dict[str, int]]:
    """Ground truth for a 2-D ring run from its outcome curves: (labels, ambiguous)."""
    nan_step = o.get("nonfinite_step", [None])[0]
    labels = {"nonfinite": int(nan_step)} if nan_step is not None else {}
    strict = _ring_rules(o, {k: b[0] for k, b in RING_BANDS.items()})
    lenient = _ring_rules(o, {k: b[1] for k, b in RING_BANDS.items()})
    labels |= strict
    if "transient_collapse" in labels:
        lenient.pop("mode_collapse", None)
    ambiguous = {f: t for f, t in lenient.items() if f not in strict}
    if "transient_collapse" in labels and _slow_start(o):
        # a one-mode start that outlasted the early phase and then spread: not a collapse
        # (nothing covered was lost), and not healthy either (the samples sat on one mode
        # past the early phase): the margin band, neither claim nor silence scored
        ambiguous["transient_collapse"] = labels.pop("transient_collapse")
    return labels, ambiguous


def _slow_start(o: dict[str, list[float]]) -> bool:
    """The run's samples never spread (by the lenient rule) between step 0 and the strict
    concentration streak that starts its collapse label: one early phase, not a collapse."""
    steps = [int(s) for s in o["step"]]
    shares = o.get("dominant_share") or [0.0] * len(steps)
    strict = [
        n <= RING_BANDS["effective_modes"][0] or s >= RING_BANDS["dominant_share"][0]
        for n, s in zip(o["effective_modes"], shares)
    ]
    loose = [
        n <= RING_BANDS["effective_modes"][1] or s >= RING_BANDS["dominant_share"][1]
        for n, s in zip(o["effective_modes"], shares)
    ]
    start = first_streak(strict, steps, 3, min_end=EARLY_PHASE_STEPS)
    if start is None:
        return False
    # step 0 is the initialisation, spread or not by chance; "spread" means trained there
    return all(loose[i] for i, st in enumerate(steps) if 0 < st < start)


def _ring_rules(o, b: dict[str, float]) -> dict[str, int]:
    steps = [int(s) for s in o["step"]]
    labels: dict[str, int] = {}
    shares = o.get("dominant_share") or [0.0] * len(steps)
    concentrated = [
        n <= b["effective_modes"] or s >= b["dominant_share"]
        for n, s in zip(o["effective_modes"], shares)
    ]
    start = first_streak(concentrated, steps, 3, min_end=EARLY_PHASE_STEPS)
    if start is not None:
        onset = max(start, EARLY_PHASE_STEPS)
        # transient: the last RECOVERED_EVALS evaluations are not concentrated even by
        # the lenient rule (a collapse that ended, not one in the margin band)
        loose = [
            n <= RING_BANDS["effective_modes"][1] or s >= RING_BANDS["dominant_share"][1]
            for n, s in zip(o["effective_modes"], shares)
        ]
        tail = loose[-RECOVERED_EVALS:]
        if len(loose) > RECOVERED_EVALS and not any(tail):
            labels["transient_collapse"] = onset
        else:
            labels["mode_collapse"] = onset
    swings = _swings(o.get("centroid") or [], steps, b["centroid"])
    if len(swings) >= 2:
        labels.setdefault("non_convergence", swings[0])
    if o.get("aux_fake_prob"):
        sat = [
            f < b["aux_fake_prob"] and r > b["aux_real_prob"]
            for f, r in zip(o["aux_fake_prob"], o["aux_real_prob"])
        ]
        start = first_streak(sat, steps, 2)
        if start is not None:
            labels["discriminator_imbalance"] = start
    concentrated = [n <= b["effective_modes"] for n in o["effective_modes"]]
    # mode hopping: 5 successive concentrated evaluations after the early phase whose
    # dominant mode changes at least 3 times
    dom = o["dominant_mode"]
    for i in range(4, len(steps)):
        window = range(i - 4, i + 1)
        if steps[i - 4] < EARLY_PHASE_STEPS or not all(concentrated[j] for j in window):
            continue
        if sum(dom[j] != dom[j - 1] for j in range(i - 3, i + 1)) >= 3:
            labels["non_convergence"] = min(steps[i - 4], labels.get("non_convergence", 10**9))
            break
    vanish = [
        fp < b["d_fake_prob"] and rp > b["d_real_prob"] and g < b["g_grad_rel"]
        for fp, rp, g in zip(o["d_fake_prob"], o["d_real_prob"], o["g_grad_rel"])
    ]
    start = first_streak(vanish, steps, 2)
    if start is not None:
        labels["vanishing_gradients"] = start
    blown = [
        s > b["sample_scale"] or c > b["critic_scale"]
        for s, c in zip(o["sample_scale"], o["critic_scale"])
    ]
    start = first_streak(blown, steps, 2)
    if start is not None:
        labels["explosion"] = start
    return labels


def _swings(centroid: list[float], steps: list[int], high: float) -> list[int]:
    """Steps at which the samples' centroid left the centre (above ``high``) and came back
    (below CENTROID_BACK), counted from OSCILLATION_FROM; non-finite counts as away."""
    out, away, since = [], False, None
    for s, c in zip(steps, centroid):
        if s < OSCILLATION_FROM:
            continue
        if not away and not (math.isfinite(c) and c <= high):
            away, since = True, s
        elif away and math.isfinite(c) and c < CENTROID_BACK:
            away = False
            out.append(since)
    return out


CLASS_SHARE_BAND = (0.5, 0.4)  # VAE and glyph GAN: share of samples in the dominant glyph class
# The class share is evidence only where the classifier reads the decoder's outputs: it
# names the true class of at least this share of the decoder's reconstructions of
# held-out glyphs (it names 100% of real glyphs). An under-trained VAE draws blurry loops
# that the classifier calls "8" whatever they are meant to be: the reference VAE at 100-700
# steps put 55-100% of its prior samples in class 8 while naming only 12-60% of its own
# reconstructions right (and those piled into classes 0 and 8 too), although its samples
# were visibly varied glyph-like shapes. That share measured the ruler, not the samples.
READABLE_ACC = 0.8


def label_vae(o: dict[str, list[float]], warmup: int) -> tuple[dict[str, int], dict[str, int]]:
    """Posterior collapse: dead share of latent units on held-out data, 2 evaluations in a row.
    Sample concentration (labelled mode_collapse): the glyph classifier puts at least the
    band's share of 1,000 prior samples in one class, 2 evaluations in a row. The strict
    rule counts only evaluations where the classifier reads the decoder (READABLE_ACC);
    the lenient one counts every evaluation, so concentration the classifier sees in
    outputs it cannot read lands in the margin band: neither a label nor healthy."""
    out = []
    n = len(o["step"])
    readable = [a >= READABLE_ACC for a in o.get("recon_class_acc") or [False] * n]
    for thr, share, strict in zip(DEAD_SHARE_BAND, CLASS_SHARE_BAND, (True, False)):
        got = {}
        start = first_streak([d >= thr for d in o["dead_share"]], o["step"], 2, min_end=warmup)
        if start is not None:
            got["posterior_collapse"] = max(start, warmup)
        if o.get("dominant_class_share"):
            flags = [
                s >= share and (r or not strict)
                for s, r in zip(o["dominant_class_share"], readable)
            ]
            start = first_streak(flags, o["step"], 2, min_end=warmup)
            if start is not None:
                got["mode_collapse"] = max(start, warmup)
        out.append(got)
    return out[0], {f: t for f, t in out[1].items() if f not in out[0]}


GLYPH_WARMUP = 300  # a glyph GAN's first samples are alike blobs named as one class


def label_glyph(o: dict[str, list[float]]) -> tuple[dict[str, int], dict[str, int]]:
    """D overfitting: large-sample r_v above the threshold on 2 evaluations in a row.

    Mode collapse (class concentration): the glyph classifier puts at least the band's
    share of 1,000 fresh samples in one class, 2 evaluations in a row from GLYPH_WARMUP
    on (the training images' most common class holds ~12%). The strict rule also asks
    the same share among the samples the classifier names with probability >= 0.9, so
    a pile of blurry samples it cannot read is not counted as a class; the lenient rule
    counts all samples (margin band). Runs recorded before these outcomes existed get
    the overfitting label only."""
    out = []
    for i, thr in enumerate(RV_BAND):
        got = {}
        start = first_streak([v > thr for v in o["r_v_large"]], o["step"], 2)
        if start is not None:
            got["d_overfitting"] = start
        if o.get("dominant_class_share"):
            share, strict = CLASS_SHARE_BAND[i], i == 0
            # only evaluations from the warm-up on count; a NaN confident share (no sample
            # named confidently) compares False, so it never flags under the strict rule
            flags = [
                st >= GLYPH_WARMUP and s >= share and (not strict or c >= share)
                for st, s, c in zip(
                    o["step"], o["dominant_class_share"], o["confident_dominant_share"]
                )
            ]
            start = first_streak(flags, o["step"], 2)
            if start is not None:
                got["mode_collapse"] = start
        out.append(got)
    return out[0], {f: t for f, t in out[1].items() if f not in out[0]}


def effective_modes(nearest: np.ndarray, k: int) -> float:
    """exp(entropy) of the nearest-centre histogram: 8 for a uniform cover, 1 for one mode."""
    p = np.bincount(nearest, minlength=k).astype(np.float64)
    p = p[p > 0] / p.sum()
    return float(np.exp(-(p * np.log(p)).sum())) if p.size else 0.0

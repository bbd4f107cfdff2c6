"""Label-free coverage, online: a reservoir of real samples against a fixed probe batch of fakes.

Every ``Cadence.coverage`` steps the monitor embeds

* a **reservoir** of real samples it has seen (Vitter's Algorithm R over the real
  batches passed to ``mon.step``: a uniform sample of everything seen, fixed size), and
* a **probe batch** of fakes drawn from the monitor's own fixed latents (so successive
  evaluations compare the same points; the current fake batch when no latent size is
  known),

and computes, in one embedding space,

* improved precision/recall (Kynkäänniemi et al. 2019, k=3) and density/coverage
  (Naeem et al. 2020, k=5) with the project's own :func:`gandiag.metrics.prdc`;
* occupancy of k-means bins of the real features (NDB, Richardson & Weiss 2018): the
  share of bins whose fake proportion differs significantly from the real one
  (two-proportion z-test at α = 0.05), the total-variation distance between the two bin
  histograms, the largest excess of fakes in one region — a bin, merged with its nearest
  bin when that one is over-filled too, because k-means splits a mode over neighbouring
  bins — (``top_bin_excess``: about 0.5 when 60% of the fakes sit on one mode of eight)
  and the real mass in bins the fakes all but leave empty (``bins_missed``);
* how far the generated distribution moved since the previous evaluation
  (``fake_shift``): the total-variation distance between the bin histograms of this
  evaluation's probe fakes and the previous evaluation's (kept as samples and embedded
  again now, so both are seen through the same features and bins). The probe latents are
  fixed, so a generator that stands still scores 0, and one hopping from mode to mode
  scores near 1: the label-free counterpart of the dominant mode changing between
  evaluations.

The embedding (:func:`resolve_features`): a user ``features=`` callable if given;
otherwise the data itself for low-dimensional data (at most 64 numbers per sample:
2-D toys, tabular data, where distances in data space are meaningful); for images
watched with a discriminator, the discriminator's penultimate features (the input of
its last linear/convolutional layer, read by a forward hook that exists only during
the evaluation) — the representation D learned to tell this data from these fakes,
free of downloads and one forward pass long; without a discriminator (VAEs), pixels
average-pooled to at most 8x8 per channel (a model-free space in which glyph- and
digit-like classes separate, and which a collapsed encoder cannot distort). Both sets
are embedded by the same network at the same step, so the numbers compare like with
like even though D's features drift over training.

Clips ``[B, T, C, H, W]`` have no pixel fallback: they are embedded by a user
``features=`` network or a discriminator that takes clips alone, else the probe stays
off (one log line says how to turn it on). In pixels, whole or pooled frame by frame,
the bins do not follow what a clip shows: on moving glyphs, 256 held-out clips of all
ten classes blurred and dimmed (the look of an early video generator's samples) put
0.39 more of themselves in one region than the reals (the mode-collapse evidence is
0.3), with recall 0 and density 26 (a dim, blurred clip is near every real one), while
256 clips of one class only scored 0.27 whole and 0.11 frame by frame
(docs/detectors.md, "Video detectors").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gandiag import signals
from gandiag.monitor import probes

log = logging.getLogger(__name__)

FeatureFn = Callable[[torch.Tensor], torch.Tensor]

#: data with at most this many numbers per sample is compared in data space
IDENTITY_MAX_DIM = 64
#: embeddings wider than this are projected to it by a fixed random Gaussian matrix
#: (Johnson-Lindenstrauss: pairwise distances kept within a few %), which keeps k-means and
#: the k-NN of PRDC cheap on 4,096-wide discriminator features
PROJECT_DIM = 256
#: significance level of NDB's per-bin two-proportion test (Richardson & Weiss 2018)
NDB_ALPHA = 0.05
#: a bin is "missed" when the fakes put less than this fraction of the real share in it
MISSED_FRACTION = 0.25
_Z_CRIT = 1.959963984540054  # two-sided 5% normal quantile


class Reservoir:
    """A uniform random sample of fixed size of every item offered (Algorithm R, batched)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = int(size)
        self.seen = 0
        self.data: torch.Tensor | None = None
        self._rng = torch.Generator(device="cpu").manual_seed(int(seed) + 7919)

    @property
    def count(self) -> int:
        return min(self.seen, self.size)

    @property
    def full(self) -> bool:
        return self.seen >= self.size

    def add(self, batch: torch.Tensor) -> None:
        x = batch.detach()
        b = int(x.shape[0])
        if b == 0:
            return
        if self.data is not None and tuple(x.shape[1:]) != tuple(self.data.shape[1:]):
            # the samples changed shape (a progressive-growing resolution switch): the old
            # reals are not comparable with the new fakes, so the reservoir starts over
            self.data, self.seen = None, 0
        if self.data is None:
            self.data = x.new_zeros((self.size, *x.shape[1:]))
        pos = torch.arange(self.seen, self.seen + b)
        slot = torch.where(
            pos < self.size,
            pos,
            (torch.rand(b, generator=self._rng, dtype=torch.float64) * (pos + 1)).long(),
        )
        keep = slot < self.size
        if bool(keep.any()):
            idx = keep.nonzero().reshape(-1)
            self.data[slot[idx].to(self.data.device)] = x[idx.to(x.device)].to(self.data.dtype)
        self.seen += b

    def samples(self) -> torch.Tensor | None:
        return None if self.data is None else self.data[: self.count]


def penultimate_layer(net: nn.Module) -> nn.Module | None:
    """The last linear or convolutional module of ``net`` (its input is the penultimate feature)."""
    last = None
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.LazyLinear)):
            last = m
    return last


def discriminator_features(net: nn.Module) -> FeatureFn | None:
    """``x -> `` the input of ``net``'s last linear/conv layer, flattened (a temporary hook)."""
    layer = penultimate_layer(net)
    if layer is None:
        return None

    def embed(x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
            captured.append(inputs[0].detach())

        handle = layer.register_forward_pre_hook(hook)
        try:
            net(x)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError("the discriminator's last layer did not run")
        return captured[0].reshape(x.shape[0], -1)

    return embed


def pooled_pixels(x: torch.Tensor) -> torch.Tensor:
    """Images average-pooled to at most 8x8 per channel; other data flattened."""
    if x.dim() == 4 and x.shape[-1] > 8:
        x = F.adaptive_avg_pool2d(x.float(), (min(8, x.shape[-2]), 8))
    return x.reshape(x.shape[0], -1).float()


def at_resolution(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor | None:
    """Images ``x`` ``[N, C, H, W]`` average-pooled to ``shape`` ``(C, h, w)`` when H and W
    are the same integer multiple of h and w (exact for images nearest-upsampled from that
    resolution, as a progressive-growing generator shows its lower phases); else None."""
    if x.dim() != 4 or len(shape) != 3 or x.shape[1] != shape[0]:
        return None
    h, w = int(shape[1]), int(shape[2])
    if h < 1 or w < 1 or x.shape[2] % h or x.shape[3] % w or x.shape[2] // h != x.shape[3] // w:
        return None
    factor = x.shape[2] // h
    return F.avg_pool2d(x.float(), factor) if factor > 1 else None


def is_clip(sample_shape: tuple[int, ...]) -> bool:
    """Whether samples of this shape are clips ``[T, C, H, W]`` (a batch is 5-D)."""
    return len(sample_shape) == 4


#: the probe's answer for clips without a feature network: no embedding
NO_EMBEDDING = "none"


def resolve_features(
    features: FeatureFn | None,
    sample_shape: tuple[int, ...],
    discriminators: Mapping[str, nn.Module],
) -> tuple[FeatureFn | None, str]:
    """The embedding the coverage probe uses and its name (see the module docstring);
    ``(None, NO_EMBEDDING)`` for clips that only pixels could embed."""
    if features is not None:
        return features, "user"
    if math.prod(sample_shape) <= IDENTITY_MAX_DIM:
        return (lambda x: x.reshape(x.shape[0], -1).float()), "identity"
    if discriminators:
        fn = discriminator_features(next(iter(discriminators.values())))
        if fn is not None:
            return fn, "discriminator_penultimate"
    if is_clip(sample_shape):
        return None, NO_EMBEDDING
    return pooled_pixels, "pooled_pixels"


# -- k-means bins (NDB) ----------------------------------------------------------------------------
def kmeans(x: np.ndarray, k: int, seed: int, iters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding; returns (centres, labels of ``x``)."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    centres = [x[rng.integers(n)]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        i = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        centres.append(x[i])
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(1))
    c = np.stack(centres)
    labels = np.zeros(n, dtype=np.int64)
    for it in range(iters):
        new = assign(x, c)
        if it and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(0)
    return c, labels


def assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = (x * x).sum(1, keepdims=True) - 2.0 * x @ centres.T + (centres * centres).sum(1)[None]
    return d.argmin(1)


def bin_occupancy(
    real_bins: np.ndarray, fake_bins: np.ndarray, k: int, centres: np.ndarray | None = None
) -> dict[str, float]:
    """NDB/K, TV distance, largest excess of fakes in one region, real mass the fakes miss.

    A region is a bin merged with the bin whose centre is nearest to its own (when the
    ``centres`` are given): k-means splits a mode of the data over two or more bins, and a
    generator piling its samples on that mode fills all of them.
    """
    p = np.bincount(real_bins, minlength=k) / len(real_bins)
    q = np.bincount(fake_bins, minlength=k) / len(fake_bins)
    # region j: bin j alone, or with its nearest bin when that adds to the excess
    partner = np.full(k, -1)
    if centres is not None and k > 2:
        d = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        nearest = d.argmin(1)
        partner = np.where((q - p)[nearest] > 0, nearest, -1)
    merged = partner >= 0
    region_q = q + np.where(merged, q[partner], 0.0)
    region_p = p + np.where(merged, p[partner], 0.0)
    top = int(np.argmax(region_q - region_p))
    n_r, n_f = len(real_bins), len(fake_bins)
    pooled = (p * n_r + q * n_f) / (n_r + n_f)
    se = np.sqrt(pooled * (1 - pooled) * (1.0 / n_r + 1.0 / n_f))
    z = np.abs(p - q) / np.where(se > 0, se, np.inf)
    missed = p[q < MISSED_FRACTION * p].sum()
    return {
        signals.COVERAGE_NDB: float((z > _Z_CRIT).mean()),
        signals.COVERAGE_BIN_TV: float(0.5 * np.abs(p - q).sum()),
        signals.COVERAGE_TOP_BIN_EXCESS: float(region_q[top] - region_p[top]),
        signals.COVERAGE_TOP_BIN_SHARE: float(region_q[top]),
        signals.COVERAGE_BINS_MISSED: float(missed),
    }


def coverage_scalars(
    real: np.ndarray,
    fake: np.ndarray,
    bins: int,
    seed: int,
    previous_fake: np.ndarray | None = None,
) -> dict[str, float]:
    """Every coverage signal for one evaluation, from real and fake features (and the
    previous evaluation's fakes in the same features, for ``fake_shift``)."""
    from gandiag.metrics.prdc import prdc

    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    res = prdc(real, fake, k_pr=3, k_dc=5)
    k = max(2, min(int(bins), real.shape[0] // 10))
    centres, real_bins = kmeans(real, k, seed)
    out = {
        signals.COVERAGE_PRECISION: res.precision,
        signals.COVERAGE_RECALL: res.recall,
        signals.COVERAGE_DENSITY: res.density,
        signals.COVERAGE_COVERAGE: res.coverage,
    }
    fake_bins = assign(fake, centres)
    out.update(bin_occupancy(real_bins, fake_bins, k, centres))
    if previous_fake is not None and len(previous_fake):
        before = assign(np.asarray(previous_fake, dtype=np.float64), centres)
        out[signals.COVERAGE_FAKE_SHIFT] = histogram_shift(before, fake_bins, k)
    return out


def histogram_shift(before: np.ndarray, after: np.ndarray, k: int) -> float:
    """Total-variation distance between two bin histograms (0: same, 1: disjoint)."""
    p = np.bincount(before, minlength=k) / len(before)
    q = np.bincount(after, minlength=k) / len(after)
    return float(0.5 * np.abs(p - q).sum())


class CoverageProbe:
    """Keeps the real reservoir and computes the coverage signals at the coverage cadence."""

    def __init__(
        self,
        *,
        every: int,
        reservoir: int,
        probe: int,
        bins: int,
        generate: Callable[[torch.Tensor], torch.Tensor] | None,
        latent_dim: Callable[[], int | None],
        discriminators: Mapping[str, nn.Module],
        modules: list[nn.Module],
        features: FeatureFn | None,
        device: torch.device,
        seed: int,
        samples_every: int,
    ) -> None:
        self.every, self.probe_size, self.bins = int(every), int(probe), int(bins)
        self.reservoir = Reservoir(reservoir, seed)
        self.generate, self._latent_dim = generate, latent_dim
        self.discriminators = dict(discriminators)
        self.modules = modules
        self.user_features = features
        self.device, self.seed = device, int(seed)
        self.samples_every = int(samples_every)
        self.features: FeatureFn | None = None
        self.embedding = ""
        self._z: torch.Tensor | None = None
        self._projection: torch.Tensor | None = None
        self._last_fake: torch.Tensor | None = None
        self._previous_probe: torch.Tensor | None = None
        self._shape: tuple[int, ...] | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.every > 0 and not self._failed

    def observe(self, step: int, real: torch.Tensor | None, fake: torch.Tensor | None) -> None:
        """Offer this step's real batch to the reservoir (every step until full, then at the
        samples cadence, which keeps the per-step cost at zero) and remember the fakes."""
        if not self.enabled or real is None:
            return
        data = self.reservoir.data
        reshaped = data is not None and tuple(real.shape[1:]) != tuple(data.shape[1:])
        due = self.samples_every and step % self.samples_every == 0
        if not self.reservoir.full or due or reshaped:
            # a new shape (a resolution switch) restarts the reservoir at once
            self.reservoir.add(real)
        if fake is not None and step % self.every == 0:
            self._last_fake = fake.detach()

    def due(self, step: int) -> bool:
        return self.enabled and step % self.every == 0 and step > 0

    def evaluate(self, step: int) -> dict[str, float]:
        """The coverage signals now, or {} while the reservoir holds too few reals."""
        real = self.reservoir.samples()
        if real is None or self.reservoir.count < min(self.reservoir.size, 64):
            return {}
        try:
            fake = self._probe_fakes()
            if fake is None or fake.shape[0] < 8:
                return {}
            shape = tuple(real.shape[1:])
            if tuple(fake.shape[1:]) != shape:
                # a generator that shows its samples at the final resolution while it trains
                # at a lower one (progressive growing) is read at the reals' resolution; a
                # resolution switch whose reals are still arriving waits for them
                fake = at_resolution(fake, shape)
                if fake is None:
                    return {}
            if shape != self._shape:
                # a new resolution: the embedding is chosen again for it, and the previous
                # probe's fakes (another resolution) are no reference for the drift
                if self._shape is not None and self.embedding != "user":
                    self.features = None
                self._shape, self._previous_probe = shape, None
            if self.features is None:
                self.features, self.embedding = resolve_features(
                    self.user_features, shape, self.discriminators
                )
                if self.features is None:
                    self._turn_off_for_clips("no discriminator takes clips alone")
                    return {}
            previous, self._previous_probe = self._previous_probe, fake.detach()
            try:
                fr, ff, fp = self._embed_all(real, fake, previous)
            except Exception as exc:  # the fallback below, or re-raised
                if self.embedding != "discriminator_penultimate":
                    raise
                reason = (
                    f"the discriminator did not take samples alone ({type(exc).__name__}: {exc})"
                )
                if is_clip(shape):
                    self._turn_off_for_clips(reason)
                    return {}
                # a discriminator that does not take samples alone (a conditional one,
                # pix2pix's on (input, output) pairs): pooled pixels instead
                log.info("gandiag: coverage probe uses pooled pixels; %s", reason)
                self.features, self.embedding = pooled_pixels, "pooled_pixels"
                fr, ff, fp = self._embed_all(real, fake, previous)
            if not (torch.isfinite(fr).all() and torch.isfinite(ff).all()):
                return {}  # non-finite samples are the nonfinite detector's
            if fp is not None and not torch.isfinite(fp).all():
                fp = None
            return coverage_scalars(
                fr.numpy(),
                ff.numpy(),
                self.bins,
                self.seed,
                previous_fake=None if fp is None else fp.numpy(),
            )
        except Exception as exc:  # noqa: BLE001 - a probe must never stop training
            self._failed = True
            log.warning(
                "gandiag: coverage probe turned off after an error (%s: %s); pass "
                "Monitor(features=<callable x -> [N, F] tensor>) or Cadence(coverage=0)",
                type(exc).__name__,
                exc,
            )
            return {}

    def _turn_off_for_clips(self, reason: str) -> None:
        """Clips with no feature network: no coverage signals rather than pixel ones, whose
        bins follow brightness and blur, not content (the module docstring)."""
        self._failed = True
        self.features, self.embedding = None, NO_EMBEDDING
        log.info(
            "gandiag: coverage probe off for clips: %s, and pixels do not measure what clips "
            "cover; pass Monitor(features=<callable clips -> [N, F] tensor>), e.g. a video "
            "network's features",
            reason,
        )

    def _probe_fakes(self) -> torch.Tensor | None:
        dim = self._latent_dim()
        if self.generate is not None and dim is not None:
            if self._z is None:
                rng = torch.Generator(device="cpu").manual_seed(self.seed + 104729)
                self._z = torch.randn(self.probe_size, dim, generator=rng).to(self.device)
            with probes.probing(self.modules, self.device):
                return torch.cat([self.generate(z) for z in self._z.split(256)]).detach()
        return self._last_fake

    def _embed_all(
        self, real: torch.Tensor, fake: torch.Tensor, previous: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        with probes.probing(self.modules, self.device):
            fr = self._embed(real)
            ff = self._embed(fake)
            fp = self._embed(previous) if previous is not None else None
        return fr, ff, fp

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        assert self.features is not None
        out = [self.features(c.to(self.device)) for c in x.split(256)]
        feats = torch.cat([o.reshape(o.shape[0], -1) for o in out]).float()
        dim = feats.shape[1]
        if dim > PROJECT_DIM:
            if self._projection is None or self._projection.shape[0] != dim:
                rng = torch.Generator(device="cpu").manual_seed(self.seed + 15485863)
                proj = torch.randn(dim, PROJECT_DIM, generator=rng) / PROJECT_DIM**0.5
                self._projection = proj.to(feats.device)
            feats = feats @ self._projection
        return feats.double().cpu()

"""Score samples end to end: images or a generator -> features -> metrics -> MetricResults.

>>> results = evaluate(real_images, fake_images, metrics=("fid", "kid"), extractor="glyph")  # doctest: +SKIP
>>> results["fid"].value, results["fid"].interval                                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch

from gandiag import streaming
from gandiag.features import FeatureExtractor, get_extractor
from gandiag.metrics import feature_stats
from gandiag.metrics import image_metrics as _image_metrics  # noqa: F401  (ms_ssim, ppl)
from gandiag.metrics import standard as _standard  # noqa: F401  (registers the built-ins)
from gandiag.metrics.registry import METRICS, MetricContext
from gandiag.types import MetricResult

IMAGE_EXTENSIONS = streaming.IMAGE_EXTENSIONS


def load_images(source: Any) -> torch.Tensor:
    """Images ``[N, C, H, W]`` from a tensor, an array, a folder of images, or ``.npy``/``.npz``.

    Arrays whose last axis has 1 or 3 entries and whose second does not are read as NHWC.
    A folder's files are read in sorted path order (recursively), RGB stays RGB, grayscale
    stays one channel. Holds the whole set: :func:`evaluate` streams instead
    (:mod:`gandiag.streaming`).
    """
    if isinstance(source, torch.Tensor):
        return source
    src = streaming.open_source(source)
    return torch.cat(list(src.batches(np.arange(src.n), 1024)))


P = ParamSpec("P")
R = TypeVar("R")


def _keeps_global_rng(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with the caller's global torch RNG (CPU) put back after it."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.random.fork_rng(devices=[]):
            return fn(*args, **kwargs)

    return wrapper


@_keeps_global_rng
def evaluate(
    real: Any,
    fake: Any,
    metrics: Sequence[str] = ("fid", "kid", "is", "pr", "dc"),
    extractor: str | torch.nn.Module | FeatureExtractor = "glyph",
    *,
    num_samples: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    bootstrap: int = 20,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    k_pr: int = 3,
    k_dc: int = 5,
    inclusive: bool = False,
    cache: bool | str | os.PathLike[str] = False,
    extractor_options: dict[str, Any] | None = None,
    step: int | None = None,
    generator_batch_size: int = 500,
    workers: int | None = None,
    progress: bool | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, MetricResult]:
    """Extract features of ``real`` and ``fake`` and compute ``metrics``.

    ``real``/``fake``: tensors or arrays ``[N, C, H, W]`` (uint8, or float in the
    extractor's range), image folders, ``.npy``/``.npz`` files; ``fake`` may be a callable
    ``n -> images`` (then ``num_samples`` is required). ``num_samples`` subsamples larger
    sets without replacement (seeded). ``metrics``: any of ``fid, kid, is, pr, dc, fd_inf``
    or a metric added with :func:`gandiag.metrics.registry.register_metric`.
    ``inclusive``: a sample on a ball's boundary counts as inside (``d <= r``, NVIDIA and
    torch-fidelity) instead of prdc's ``d < r``; only exact ties differ.
    ``cache``: True (default directory) or a directory for the real set's features,
    statistics and k-NN radii (:mod:`gandiag.features.cache`).
    Images are streamed in batches (:mod:`gandiag.streaming`): memory holds one batch of
    images plus the features, whatever N. ``workers``: DataLoader processes decoding an
    image folder (default: the usable CPUs minus one, at most 7); ``progress``: a tqdm
    bar (default: only when stderr is a terminal). ``on_stage``: called with a line when
    each stage (real features, fake features, each metric) starts and ends, with its size
    and time, so a log shows where the time goes even without a terminal.
    Returns ``{name: MetricResult}`` with names ``fid, fd_inf, kid, is, precision, recall,
    density, coverage``; FID and KID carry bootstrap intervals when ``bootstrap >= 2``.

    The caller's global torch RNG (CPU) is left as it was: building the extractor draws
    initial weights from it, so a training loop that evaluates would otherwise continue
    from another state (dropout, noise inputs, the reparameterisation's draws), and its
    trajectory would depend on how often and what it evaluates.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"unknown metrics {unknown}; valid names: {', '.join(METRICS.names())} "
            "(add one with gandiag.metrics.registry.register_metric)"
        )
    rng = np.random.default_rng(seed)
    ext = get_extractor(extractor, device=device, **(extractor_options or {}))
    specs = [METRICS[m] for m in METRICS if m in metrics]  # registration order
    needs_features = any("features" in spec.needs for spec in specs)
    needs_logits = any("logits" in spec.needs for spec in specs)
    stream = {
        "num_samples": num_samples,
        "rng": rng,
        "generator_batch_size": generator_batch_size,
        "workers": workers,
        "progress": progress,
    }
    stages = _Stages(on_stage, total=2 + len(specs))
    reference = None
    with stages("real set: reading images and extracting features") as done:
        if needs_features and cache:
            reference = streaming.cached_reference(
                real, ext, None if cache is True else cache, name="real", **stream
            )
            real_feats, num_real = reference.features, len(reference.features)
        else:  # without features (IS only) the real set is still read: its size is recorded
            got = streaming.stream_features(
                real, ext, name="real", features=needs_features, **stream
            )
            real_feats, num_real = got.features, got.num
        done(f"N = {num_real}")
    fake_source = fake
    # one pass over the fakes gives features and logits: a generator is sampled once
    reads = "generating samples" if callable(fake) else "reading images"
    with stages(f"fake set: {reads} and extracting features") as done:
        fake = streaming.stream_features(
            fake, ext, name="fake", features=needs_features, logits=needs_logits, **stream
        )
        done(f"N = {fake.num}")
    ctx = MetricContext(
        base_protocol=ext.protocol(),
        num_real=int(num_real),
        num_fake=int(fake.num),
        seed=seed,
        step=step,
        options={
            "bootstrap": bootstrap,
            "kid_subsets": kid_subsets,
            "kid_subset_size": kid_subset_size,
            "is_splits": is_splits,
            "k_pr": k_pr,
            "k_dc": k_dc,
            "inclusive": inclusive,
            "device": device,
        },
        logits=lambda: fake.logits,
        fake_source=fake_source,
        extractor=ext,
    )
    if needs_features:
        ctx.reference = reference
        ctx.real_feats, ctx.fake_feats = real_feats, fake.features
        ctx.real_stats = reference.stats if reference is not None else feature_stats(real_feats)

    out: dict[str, MetricResult] = {}
    for spec in specs:
        with stages(f"metric {spec.name}"):
            out.update(ctx.run(spec))
    return out


class _Stages:
    """Numbered, timed stage lines (``[2/6] fake set: ... done: N = 2000, 3.1 s``)."""

    def __init__(self, say: Callable[[str], None] | None, total: int) -> None:
        self.say, self.total, self.index = say, total, 0

    @contextlib.contextmanager
    def __call__(self, text: str) -> Iterator[Callable[[str], None]]:
        self.index += 1
        notes: list[str] = []
        head = f"[{self.index}/{self.total}] {text}"
        if self.say is not None:
            self.say(f"{head} ...")
        t0 = time.perf_counter()
        yield notes.append
        if self.say is not None:
            notes.append(f"{time.perf_counter() - t0:.1f} s")
            self.say(f"{head}: done ({', '.join(notes)})")


def sample_callable(
    generator: torch.nn.Module, latent_dim: int, *, seed: int = 0, device: Any = None
) -> LatentSampler:
    """``n -> images`` drawing latents from a seeded ``torch.Generator`` (for ``evaluate``)."""
    return LatentSampler(generator, latent_dim, seed=seed, device=device)


class LatentSampler:
    """``n -> generator(z)`` with ``z`` from one seeded stream; ``skip(n)`` advances the stream
    as a call would, so ranks that share the work produce the single-process samples."""

    def __init__(
        self, generator: torch.nn.Module, latent_dim: int, *, seed: int = 0, device: Any = None
    ) -> None:
        self.generator, self.latent_dim, self.device = generator, latent_dim, device
        self._gen = torch.Generator(device="cpu").manual_seed(seed)

    def __call__(self, n: int) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=self._gen)
        return self.generator(z.to(self.device) if self.device is not None else z)

    def skip(self, n: int) -> None:
        torch.randn(n, self.latent_dim, generator=self._gen)

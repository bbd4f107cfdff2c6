"""Score samples end to end: images or a generator -> features -> metrics -> MetricResults.

>>> results = evaluate(real_images, fake_images, metrics=("fid", "kid"), extractor="glyph")  # doctest: +SKIP
>>> results["fid"].value, results["fid"].interval                                          # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gandiag import streaming
from gandiag.features import FeatureExtractor, get_extractor
from gandiag.metrics import (
    fd_infinity,
    feature_stats,
    fid_bootstrap,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    kid_bootstrap,
    prdc,
)
from gandiag.types import MetricProtocol, MetricResult

METRICS = ("fid", "kid", "is", "pr", "dc", "fd_inf")
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
) -> dict[str, MetricResult]:
    """Extract features of ``real`` and ``fake`` and compute ``metrics``.

    ``real``/``fake``: tensors or arrays ``[N, C, H, W]`` (uint8, or float in the
    extractor's range), image folders, ``.npy``/``.npz`` files; ``fake`` may be a callable
    ``n -> images`` (then ``num_samples`` is required). ``num_samples`` subsamples larger
    sets without replacement (seeded). ``metrics``: any of ``fid, kid, is, pr, dc, fd_inf``.
    ``inclusive``: a sample on a ball's boundary counts as inside (``d <= r``, NVIDIA and
    torch-fidelity) instead of prdc's ``d < r``; only exact ties differ.
    ``cache``: True (default directory) or a directory for the real set's features,
    statistics and k-NN radii (:mod:`gandiag.features.cache`).
    Images are streamed in batches (:mod:`gandiag.streaming`): memory holds one batch of
    images plus the features, whatever N. ``workers``: DataLoader processes decoding an
    image folder (default: the usable CPUs minus one, at most 7); ``progress``: a tqdm
    bar (default: only when stderr is a terminal).
    Returns ``{name: MetricResult}`` with names ``fid, fd_inf, kid, is, precision, recall,
    density, coverage``; FID and KID carry bootstrap intervals when ``bootstrap >= 2``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metrics {unknown}; valid names: {', '.join(METRICS)}")
    rng = np.random.default_rng(seed)
    ext = get_extractor(extractor, device=device, **(extractor_options or {}))
    needs_features = any(m in metrics for m in ("fid", "kid", "pr", "dc", "fd_inf"))
    stream = {
        "num_samples": num_samples,
        "rng": rng,
        "generator_batch_size": generator_batch_size,
        "workers": workers,
        "progress": progress,
    }
    real_stats, reference = None, None
    if needs_features and cache:
        reference = streaming.cached_reference(
            real, ext, None if cache is True else cache, name="real", **stream
        )
        real_feats, real_stats, num_real = (
            reference.features,
            reference.stats,
            len(reference.features),
        )
    else:  # without features (IS only) the real set is still read: its size is recorded
        got = streaming.stream_features(real, ext, name="real", features=needs_features, **stream)
        real_feats, num_real = got.features, got.num
    got = streaming.stream_features(
        fake, ext, name="fake", features=needs_features, logits="is" in metrics, **stream
    )
    fake_feats, fake_logits, num_fake = got.features, got.logits, got.num
    if needs_features:
        real_stats = real_stats or feature_stats(real_feats)

    base = ext.protocol()

    def result(name: str, value: float, options: dict[str, Any], **kw: Any) -> MetricResult:
        proto = MetricProtocol(
            feature_extractor=base["feature_extractor"],
            weights_sha256=base["weights_sha256"],
            preprocessing=base["preprocessing"],
            num_real=int(num_real),
            num_fake=int(num_fake),
            options={"seed": seed, **options},
        )
        return MetricResult(name=name, value=float(value), protocol=proto, step=step, **kw)

    out: dict[str, MetricResult] = {}
    if "fid" in metrics:
        fid = frechet_distance(real_stats, fake_feats).fid
        kw: dict[str, Any] = {}
        if bootstrap >= 2:
            iv = fid_bootstrap(real_stats, fake_feats, bootstrap, seed=seed)
            kw = {"uncertainty": iv.std, "interval": (iv.low, iv.high)}
        out["fid"] = result("fid", fid, {"bootstrap": bootstrap}, **kw)
    if "fd_inf" in metrics:
        fdi = fd_infinity(real_stats, fake_feats, seed=seed)
        out["fd_inf"] = result("fd_inf", fdi.fd_inf, {"sizes": list(fdi.sizes)})
    if "kid" in metrics:
        kid = kernel_inception_distance(real_feats, fake_feats, kid_subsets, kid_subset_size, seed)
        kw = {"uncertainty": None if kid.identical_subsets else kid.std}
        if bootstrap >= 2:
            iv = kid_bootstrap(
                real_feats, fake_feats, bootstrap, subset_size=kid_subset_size, seed=seed
            )
            kw["interval"] = (iv.low, iv.high)
        opts = {
            "num_subsets": kid.num_subsets,
            "subset_size": kid.subset_size,
            "bootstrap": bootstrap,
            "identical_subsets": kid.identical_subsets,  # std meaningless: none reported
        }
        out["kid"] = result("kid", kid.mean, opts, **kw)
    if "is" in metrics:
        isr = inception_score(fake_logits, is_splits)
        out["is"] = result(
            "is", isr.mean, {"splits": is_splits, "std_ddof": 0}, uncertainty=isr.std
        )
    if "pr" in metrics or "dc" in metrics:
        radii: dict[str, Any] = {}
        if reference is not None:  # the real set's k-NN radii come from the cache too
            radii = {
                "real_radii_pr": reference.radii(k_pr, device=device),
                "real_radii_dc": reference.radii(k_dc, device=device),
            }
        res = prdc(
            real_feats,
            fake_feats,
            k_pr=k_pr,
            k_dc=k_dc,
            inclusive=inclusive,
            device=device,
            **radii,
        )
        inside = "<=" if inclusive else "<"
        if "pr" in metrics:
            out["precision"] = result("precision", res.precision, {"k": k_pr, "inside": inside})
            out["recall"] = result("recall", res.recall, {"k": k_pr, "inside": inside})
        if "dc" in metrics:
            out["density"] = result("density", res.density, {"k": k_dc, "inside": inside})
            out["coverage"] = result("coverage", res.coverage, {"k": k_dc, "inside": inside})
    return out


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

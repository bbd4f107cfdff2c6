"""Score samples end to end: images or a generator -> features -> metrics -> MetricResults.

>>> results = evaluate(real_images, fake_images, metrics=("fid", "kid"), extractor="glyph")  # doctest: +SKIP
>>> results["fid"].value, results["fid"].interval                                          # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gandiag.features import FeatureExtractor, get_extractor
from gandiag.features.cache import cached_reference
from gandiag.metrics import feature_stats
from gandiag.metrics import standard as _standard  # noqa: F401  (registers the built-ins)
from gandiag.metrics.registry import METRICS, MetricContext
from gandiag.types import MetricResult

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def load_images(source: Any) -> torch.Tensor:
    """Images ``[N, C, H, W]`` from a tensor, an array, a folder of images, or ``.npy``/``.npz``.

    Arrays whose last axis has 1 or 3 entries and whose second does not are read as NHWC.
    A folder's files are read in sorted path order (recursively), RGB stays RGB, grayscale
    stays one channel.
    """
    if isinstance(source, torch.Tensor):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source)
    path = Path(source)
    if path.is_dir():
        from PIL import Image

        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {path}")
        arrays = []
        for f in files:
            with Image.open(f) as im:
                im = (
                    im.convert("L")
                    if im.mode in ("1", "L", "I", "I;16", "F")
                    else im.convert("RGB")
                )
                arrays.append(np.asarray(im))
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(
                f"images under {path} have different sizes {sorted(shapes)[:3]}; resize them to one size"
            )
        return _from_array(np.stack(arrays))
    if path.suffix == ".npy":
        return _from_array(np.load(path))
    if path.suffix == ".npz":
        with np.load(path) as z:
            key = next((k for k in ("images", "x", "arr_0") if k in z.files), None)
            if key is None:
                raise ValueError(
                    f"{path} has arrays {z.files}; store the images under 'images' (or 'x', 'arr_0')"
                )
            return _from_array(z[key])
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; pass an image folder, a .npy/.npz file, or an array"
        )
    raise ValueError(f"cannot read images from {path}; pass an image folder, a .npy or .npz file")


def _from_array(arr: np.ndarray) -> torch.Tensor:
    arr = np.array(arr, copy=True)
    if arr.ndim == 3:  # [N, H, W] grayscale
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3) and arr.shape[1] not in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr))


def _sample(
    source: Any, num_samples: int | None, rng: np.random.Generator, name: str, batch_size: int
) -> torch.Tensor:
    if callable(source) and not isinstance(source, (torch.Tensor, np.ndarray)):
        if num_samples is None:
            raise ValueError(f"{name} is a generator callable: pass num_samples (how many to draw)")
        chunks, have = [], 0
        with torch.no_grad():
            while have < num_samples:
                out = source(min(batch_size, num_samples - have))
                out = load_images(out.detach().cpu() if isinstance(out, torch.Tensor) else out)
                chunks.append(out)
                have += out.shape[0]
        return torch.cat(chunks)[:num_samples]
    images = load_images(source)
    if num_samples is not None:
        if num_samples > images.shape[0]:
            raise ValueError(
                f"num_samples={num_samples} but the {name} set has only {images.shape[0]} images; "
                "pass fewer or add images (samples are never drawn twice)"
            )
        if num_samples < images.shape[0]:
            idx = np.sort(rng.choice(images.shape[0], num_samples, replace=False))
            images = images[torch.from_numpy(idx)]
    return images


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
    Returns ``{name: MetricResult}`` with names ``fid, fd_inf, kid, is, precision, recall,
    density, coverage``; FID and KID carry bootstrap intervals when ``bootstrap >= 2``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"unknown metrics {unknown}; valid names: {', '.join(METRICS.names())} "
            "(add one with gandiag.metrics.registry.register_metric)"
        )
    rng = np.random.default_rng(seed)
    ext = get_extractor(extractor, device=device, **(extractor_options or {}))
    real_images = _sample(real, num_samples, rng, "real", generator_batch_size)
    fake_images = _sample(fake, num_samples, rng, "fake", generator_batch_size)

    specs = [METRICS[m] for m in METRICS if m in metrics]  # registration order
    ctx = MetricContext(
        base_protocol=ext.protocol(),
        num_real=int(real_images.shape[0]),
        num_fake=int(fake_images.shape[0]),
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
        logits=lambda: ext.logits(fake_images).numpy(),
    )
    if any("features" in spec.needs for spec in specs):
        if cache:
            ctx.reference = cached_reference(real_images, ext, None if cache is True else cache)
            ctx.real_feats, ctx.real_stats = ctx.reference.features, ctx.reference.stats
        else:
            ctx.real_feats = ext(real_images).numpy()
        ctx.fake_feats = ext(fake_images).numpy()
        ctx.real_stats = ctx.real_stats or feature_stats(ctx.real_feats)

    out: dict[str, MetricResult] = {}
    for spec in specs:
        out.update(ctx.run(spec))
    return out


def sample_callable(
    generator: torch.nn.Module, latent_dim: int, *, seed: int = 0, device: Any = None
) -> Callable[[int], torch.Tensor]:
    """``n -> images`` drawing latents from a seeded ``torch.Generator`` (for ``evaluate``)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def draw(n: int) -> torch.Tensor:
        z = torch.randn(n, latent_dim, generator=gen)
        return generator(z.to(device) if device is not None else z)

    return draw

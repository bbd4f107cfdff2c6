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
    sets without replacement (seeded). ``metrics``: any of ``fid, kid, is, pr, dc, fd_inf``.
    ``inclusive``: a sample on a ball's boundary counts as inside (``d <= r``, NVIDIA and
    torch-fidelity) instead of prdc's ``d < r``; only exact ties differ.
    ``cache``: True (default directory) or a directory for the real set's features,
    statistics and k-NN radii (:mod:`gandiag.features.cache`).
    Returns ``{name: MetricResult}`` with names ``fid, fd_inf, kid, is, precision, recall,
    density, coverage``; FID and KID carry bootstrap intervals when ``bootstrap >= 2``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metrics {unknown}; valid names: {', '.join(METRICS)}")
    rng = np.random.default_rng(seed)
    ext = get_extractor(extractor, device=device, **(extractor_options or {}))
    real_images = _sample(real, num_samples, rng, "real", generator_batch_size)
    fake_images = _sample(fake, num_samples, rng, "fake", generator_batch_size)

    needs_features = any(m in metrics for m in ("fid", "kid", "pr", "dc", "fd_inf"))
    real_stats, reference = None, None
    if needs_features:
        if cache:
            reference = cached_reference(real_images, ext, None if cache is True else cache)
            real_feats, real_stats = reference.features, reference.stats
        else:
            real_feats = ext(real_images).numpy()
        fake_feats = ext(fake_images).numpy()
        real_stats = real_stats or feature_stats(real_feats)

    base = ext.protocol()

    def result(name: str, value: float, options: dict[str, Any], **kw: Any) -> MetricResult:
        proto = MetricProtocol(
            feature_extractor=base["feature_extractor"],
            weights_sha256=base["weights_sha256"],
            preprocessing=base["preprocessing"],
            num_real=int(real_images.shape[0]),
            num_fake=int(fake_images.shape[0]),
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
        kw = {"uncertainty": kid.std}
        if bootstrap >= 2:
            iv = kid_bootstrap(
                real_feats, fake_feats, bootstrap, subset_size=kid_subset_size, seed=seed
            )
            kw["interval"] = (iv.low, iv.high)
        opts = {
            "num_subsets": kid.num_subsets,
            "subset_size": kid.subset_size,
            "bootstrap": bootstrap,
        }
        out["kid"] = result("kid", kid.mean, opts, **kw)
    if "is" in metrics:
        isr = inception_score(ext.logits(fake_images).numpy(), is_splits)
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
) -> Callable[[int], torch.Tensor]:
    """``n -> images`` drawing latents from a seeded ``torch.Generator`` (for ``evaluate``)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def draw(n: int) -> torch.Tensor:
        z = torch.randn(n, latent_dim, generator=gen)
        return generator(z.to(device) if device is not None else z)

    return draw

"""On-disk cache of a real set's features and FID statistics.

Key: SHA-256 of the images' bytes, shape and dtype, plus the extractor's protocol (name,
weights checksum, preprocessing), so changing any of the three misses the cache. Entries
are ``.npz`` files (``features``, ``mu``, ``sigma``) under ``GANDIAG_CACHE_DIR`` or
``~/.cache/gandiag``; ``mu``/``sigma`` use clean-fid's key names.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from gandiag.features.base import FeatureExtractor
from gandiag.metrics.frechet import FeatureStats, feature_stats


def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get("GANDIAG_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "gandiag"


def content_key(images: torch.Tensor, extractor: FeatureExtractor) -> str:
    h = hashlib.sha256()
    t = images.detach().cpu().contiguous()
    h.update(f"{t.dtype}:{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps(extractor.protocol(), sort_keys=True).encode())
    return h.hexdigest()


def cached_real_features(
    images: torch.Tensor, extractor: FeatureExtractor, root: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, FeatureStats, bool]:
    """(features, stats, hit): from the cache when present, else extracted and stored."""
    images = extractor.check_images(images)
    path = cache_dir(root) / "stats" / f"{content_key(images, extractor)}.npz"
    if path.is_file():
        with np.load(path) as z:
            feats = z["features"]
            stats = FeatureStats(mu=z["mu"], sigma=z["sigma"], n=int(z["n"]))
        return feats, stats, True
    feats = extractor(images).numpy()
    stats = feature_stats(feats)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=feats, mu=stats.mu, sigma=stats.sigma, n=stats.n)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return feats, stats, False

"""On-disk cache of a real set's features, FID statistics and nearest-neighbour radii.

Key: SHA-256 of the images' bytes, shape and dtype, plus the extractor's protocol (name,
weights checksum, preprocessing), so changing any of the three misses the cache. Under
``GANDIAG_CACHE_DIR`` (or ``~/.cache/gandiag``), ``stats/<key>.npz`` holds ``features``,
``mu``, ``sigma`` and ``n`` (``mu``/``sigma`` are clean-fid's key names, so clean-fid can
read the file), and ``stats/<key>.knn<k>.npy`` the k-th-nearest-neighbour distance of every
real feature, written the first time precision/recall or density/coverage use that k.
Every file is written to a temporary name and renamed, so a concurrent reader never sees
half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gandiag._atomic import atomic_write
from gandiag.features.base import FeatureExtractor
from gandiag.metrics.frechet import FeatureStats, feature_stats
from gandiag.metrics.prdc import knn_radii


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


@dataclass
class CachedReference:
    """A real set's cached features and statistics; :meth:`radii` adds k-NN radii."""

    path: Path
    features: np.ndarray
    stats: FeatureStats
    hit: bool  # whether the features came from the cache
    _radii: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def radii_path(self, k: int) -> Path:
        return self.path.with_name(f"{self.path.stem}.knn{k}.npy")

    def radii(self, k: int, *, device: torch.device | str | None = None) -> np.ndarray:
        """Distance of each real feature to its k-th nearest other one: read from the
        cache, or computed (exactly, see :func:`gandiag.metrics.knn_radii`) and stored."""
        if k not in self._radii:
            p = self.radii_path(k)
            r = np.load(p) if p.is_file() else None
            if r is None or r.shape != (self.features.shape[0],):
                r = knn_radii(self.features, k, device=device)
                atomic_write(p, lambda f, r=r: np.save(f, r))
            self._radii[k] = r
        return self._radii[k]


def cached_reference(
    images: torch.Tensor, extractor: FeatureExtractor, root: str | os.PathLike[str] | None = None
) -> CachedReference:
    """The real set's features and statistics: from the cache when present, else extracted
    and stored."""
    images = extractor.check_images(images)
    path = cache_dir(root) / "stats" / f"{content_key(images, extractor)}.npz"
    if path.is_file():
        with np.load(path) as z:
            feats = z["features"]
            stats = FeatureStats(mu=z["mu"], sigma=z["sigma"], n=int(z["n"]))
        return CachedReference(path, feats, stats, hit=True)
    feats = extractor(images).numpy()
    stats = feature_stats(feats)
    atomic_write(
        path, lambda f: np.savez(f, features=feats, mu=stats.mu, sigma=stats.sigma, n=stats.n)
    )
    return CachedReference(path, feats, stats, hit=False)

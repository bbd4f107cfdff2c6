"""On-disk cache of a real set's features, FID statistics and nearest-neighbour radii.

Key: SHA-256 of the images' bytes, shape and dtype, plus the extractor's protocol (name,
weights checksum, preprocessing), so changing any of the three misses the cache. Under
``GANDIAG_CACHE_DIR`` (or ``~/.cache/gandiag``), ``stats/<key>.npz`` holds ``features``,
``mu``, ``sigma`` and ``n`` (``mu``/``sigma`` are clean-fid's key names, so clean-fid can
read the file), and ``stats/<key>.knn<k>.npz`` the k-th-nearest-neighbour distance of every
real feature (``radii``), written the first time precision/recall or density/coverage use
that k. Each entry also holds its key and a SHA-256 of its key and arrays: an entry that is
damaged, tampered with or copied from another key is named in a warning and recomputed,
never used. Every file is written to a temporary name and renamed, so a concurrent reader
never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gandiag._atomic import atomic_write
from gandiag.features.base import FeatureExtractor
from gandiag.metrics.frechet import FeatureStats, feature_stats
from gandiag.metrics.prdc import knn_radii

log = logging.getLogger(__name__)


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

    @property
    def key(self) -> str:
        return self.path.stem

    def radii_path(self, k: int) -> Path:
        return self.path.with_name(f"{self.key}.knn{k}.npz")

    def radii(self, k: int, *, device: torch.device | str | None = None) -> np.ndarray:
        """Distance of each real feature to its k-th nearest other one: read from the
        cache, or computed (exactly, see :func:`gandiag.metrics.knn_radii`) and stored."""
        if k not in self._radii:
            p = self.radii_path(k)
            key = f"{self.key}.knn{k}"
            entry = _read_entry(p, key, ("radii",))
            r = None if entry is None else entry["radii"]
            if r is not None and r.shape != (self.features.shape[0],):
                _warn_unusable(
                    p, f"it holds {r.shape[0]} radii for {self.features.shape[0]} features"
                )
                r = None
            if r is None:
                r = knn_radii(self.features, k, device=device)
                _write_entry(p, key, {"radii": r})
            self._radii[k] = r
        return self._radii[k]


def cached_reference(
    images: torch.Tensor, extractor: FeatureExtractor, root: str | os.PathLike[str] | None = None
) -> CachedReference:
    """The real set's features and statistics: from the cache when its entry is intact and
    belongs to this key, else extracted and stored (a damaged or foreign entry is named in
    a warning and replaced, never used)."""
    images = extractor.check_images(images)
    key = content_key(images, extractor)
    path = cache_dir(root) / "stats" / f"{key}.npz"
    hit = load_reference(path, key)
    if hit is not None:
        return hit
    return store_reference(path, key, extractor(images).numpy())


def load_reference(path: Path, key: str) -> CachedReference | None:
    """The intact entry at ``path`` written under ``key``; None when absent or unusable
    (an unusable one is named in a warning)."""
    entry = _read_entry(path, key, ("features", "mu", "sigma", "n"))
    if entry is None:
        return None
    feats, mu, sigma = entry["features"], entry["mu"], entry["sigma"]
    n = int(entry["n"])
    d = feats.shape[-1] if feats.ndim == 2 else -1
    if feats.ndim == 2 and feats.shape[0] == n and mu.shape == (d,) and sigma.shape == (d, d):
        return CachedReference(path, feats, FeatureStats(mu=mu, sigma=sigma, n=n), hit=True)
    _warn_unusable(path, "its arrays have inconsistent shapes")
    return None


def store_reference(path: Path, key: str, feats: np.ndarray, write: bool = True) -> CachedReference:
    """Statistics of ``feats``, written with their key and checksum (``write=False``: only
    computed, for ranks other than the writer)."""
    stats = feature_stats(feats)
    if write:
        entry = {"features": feats, "mu": stats.mu, "sigma": stats.sigma, "n": stats.n}
        _write_entry(path, key, entry)
    return CachedReference(path, feats, stats, hit=False)


# -- integrity ------------------------------------------------------------------------------
# Every entry stores, besides its arrays, the key it was written under (``cache_key``) and
# a SHA-256 over that key and every array's name, dtype, shape and bytes (``checksum``).
# A file that cannot be read, lacks an array, was written under another key, or whose
# arrays no longer match the checksum is reported and recomputed.


def _checksum(key: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(f"gandiag-cache-v1:{key}".encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}:{a.dtype.str}:{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _write_entry(path: Path, key: str, arrays: dict[str, Any]) -> None:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    digest = _checksum(key, arrays)
    atomic_write(
        path,
        lambda f: np.savez(f, **arrays, cache_key=np.array(key), checksum=np.array(digest)),
    )


def _read_entry(path: Path, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The entry's arrays if the file is present, readable, written under ``key`` and
    matches its checksum; ``None`` (with a warning naming the file, unless absent)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in (*names, "cache_key", "checksum") if n not in z.files]
            if missing:
                _warn_unusable(path, f"it lacks {', '.join(missing)}")
                return None
            arrays = {n: z[n] for n in names}
            stored_key, stored_sum = str(z["cache_key"]), str(z["checksum"])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        _warn_unusable(path, f"it cannot be read ({type(exc).__name__}: {exc})")
        return None
    if stored_key != key:
        _warn_unusable(path, f"it belongs to another key ({stored_key[:16]}...)")
        return None
    if _checksum(key, arrays) != stored_sum:
        _warn_unusable(path, "its contents do not match its checksum (modified or damaged)")
        return None
    return arrays


def _warn_unusable(path: Path, why: str) -> None:
    log.warning(
        "gandiag cache entry %s is not used because %s; recomputing it and replacing the file "
        "(delete the cache directory to start afresh)",
        path,
        why,
    )

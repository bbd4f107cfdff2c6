"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, appendix D).

The protocol of tkarras/progressive_growing_of_gans ``metrics/sliced_wasserstein.py``,
in pure numpy:

1. each image's Laplacian pyramid (5-tap binomial filter ``[1, 4, 6, 4, 1] / 16``,
   2x decimation); the levels of at least ``min_resolution`` pixels are kept, the
   coarsest of them being the Gaussian (low-pass) level;
2. ``patches_per_image`` (128) random 7x7 neighbourhoods per image and level, flattened;
3. per level and per set, descriptors normalised by their per-channel mean and std;
4. the distance between two sets of descriptors: ``dir_repeats`` (4) times
   ``dirs_per_repeat`` (128) random unit directions, both sets projected and sorted, the
   mean absolute difference of the sorted projections; averaged over the repeats.

Results are per level (finest first), as the paper's tables, which print them
multiplied by 1e3 (``SWDResult.per_level`` holds the raw distances). The two sets must
hold the same number of descriptors: equal numbers of images.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


class SWDResult(NamedTuple):
    per_level: tuple[float, ...]  # finest (full resolution) first
    resolutions: tuple[int, ...]
    mean: float


def _blur(x: np.ndarray) -> np.ndarray:
    """Separable binomial blur of ``[N, C, H, W]`` with reflect padding."""
    pad = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    h = sum(_KERNEL[i] * pad[:, :, i : i + x.shape[2], :] for i in range(5))
    return sum(_KERNEL[i] * h[:, :, :, i : i + x.shape[3]] for i in range(5))


def _down(x: np.ndarray) -> np.ndarray:
    return _blur(x)[:, :, ::2, ::2]


def _up(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.zeros((n, c, 2 * h, 2 * w), dtype=x.dtype)
    out[:, :, ::2, ::2] = x
    return _blur(out) * 4.0


def laplacian_pyramid(images: np.ndarray, min_resolution: int = 16) -> list[np.ndarray]:
    """Band-pass levels from full resolution down to ``min_resolution``; the last is low-pass."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"images must be [N, C, H, W], got shape {x.shape}")
    if x.shape[-1] < min_resolution or x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"images must be square and at least {min_resolution} pixels (min_resolution), "
            f"got {x.shape[-2]}x{x.shape[-1]}"
        )
    levels = []
    while x.shape[-1] // 2 >= min_resolution:
        low = _down(x)
        levels.append(x - _up(low))
        x = low
    levels.append(x)
    return levels


def _descriptors(level: np.ndarray, per_image: int, rng: np.random.Generator) -> np.ndarray:
    n, c, h, w = level.shape
    s = 7
    ys = rng.integers(0, h - s + 1, size=(n, per_image))
    xs = rng.integers(0, w - s + 1, size=(n, per_image))
    off = np.arange(s)
    rows = (ys[..., None] + off)[..., :, None]  # [n, p, 7, 1]
    cols = (xs[..., None] + off)[..., None, :]  # [n, p, 1, 7]
    idx = np.arange(n)[:, None, None, None]
    patches = level.transpose(0, 2, 3, 1)[idx, rows, cols]  # [n, p, 7, 7, c]
    desc = patches.reshape(n * per_image, s, s, c)
    desc = desc - desc.mean(axis=(0, 1, 2), keepdims=True)
    desc = desc / (desc.std(axis=(0, 1, 2), keepdims=True) + 1e-12)
    return desc.reshape(len(desc), -1)


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, dir_repeats: int = 4, dirs_per_repeat: int = 128, seed: int = 0
) -> float:
    """SWD between two descriptor sets ``[N, D]`` of the same size."""
    if a.shape != b.shape:
        raise ValueError(
            f"descriptor sets must have the same shape, got {a.shape} and {b.shape}; "
            "compare equal numbers of images"
        )
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(dir_repeats):
        dirs = rng.standard_normal((a.shape[1], dirs_per_repeat))
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
        out.append(np.abs(pa - pb).mean())
    return float(np.mean(out))


def swd(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    patches_per_image: int = 128,
    min_resolution: int = 16,
    dir_repeats: int = 4,
    dirs_per_repeat: int = 128,
    seed: int = 0,
) -> SWDResult:
    """SWD per Laplacian-pyramid level between two image sets ``[N, C, H, W]`` (same N)."""
    real, fake = np.asarray(real), np.asarray(fake)
    if real.shape != fake.shape:
        raise ValueError(
            f"real {real.shape} and fake {fake.shape} must have the same shape; draw as many "
            "fakes as reals at the reals' resolution"
        )
    rng = np.random.default_rng([seed, 1])
    pr, pf = laplacian_pyramid(real, min_resolution), laplacian_pyramid(fake, min_resolution)
    dists, res = [], []
    for level, (lr, lf) in enumerate(zip(pr, pf)):
        state = rng.bit_generator.state  # the same patch positions for both sets
        dr = _descriptors(lr, patches_per_image, rng)
        rng.bit_generator.state = state
        df = _descriptors(lf, patches_per_image, rng)
        dists.append(sliced_wasserstein(dr, df, dir_repeats, dirs_per_repeat, seed + level))
        res.append(lr.shape[-1])
    return SWDResult(tuple(dists), tuple(res), float(np.mean(dists)))

"""Image helpers shared by the monitor, the trainer and the reports: sample grids as PNG.

Works on numpy arrays so it needs no torch; pass ``tensor.detach().cpu().numpy()``.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Map float images in ``value_range`` to uint8 0..255 (clipping), NCHW or NHWC kept as is."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    lo, hi = value_range
    scaled = (images.astype(np.float64) - lo) / (hi - lo) * 255.0
    return np.clip(np.rint(np.nan_to_num(scaled, nan=0.0)), 0, 255).astype(np.uint8)


def make_grid(
    images: np.ndarray,
    nrow: int | None = None,
    padding: int = 2,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> np.ndarray:
    """Tile ``[N, C, H, W]`` (C in 1 or 3) or ``[N, H, W]`` images into one ``[H', W', C]`` uint8 image."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"images must be [N, C, H, W] with C=1 or 3, or [N, H, W]; got shape {images.shape}"
        )
    imgs = to_uint8(images, value_range).transpose(0, 2, 3, 1)  # NHWC
    n, h, w, c = imgs.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol = math.ceil(n / nrow)
    grid = np.zeros((ncol * (h + padding) + padding, nrow * (w + padding) + padding, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = imgs[i]
    return grid


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]`` uint8 array as PNG."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def grid_png(
    images: np.ndarray,
    nrow: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    min_size: int = 0,
) -> bytes:
    """A PNG sample grid of ``images`` (optionally upscaled, nearest, to at least ``min_size`` px wide)."""
    grid = make_grid(images, nrow=nrow, value_range=value_range)
    if min_size and grid.shape[1] < min_size:
        factor = math.ceil(min_size / grid.shape[1])
        grid = grid.repeat(factor, axis=0).repeat(factor, axis=1)
    return png_bytes(grid)


def scatter_png(
    points: np.ndarray,
    reference: np.ndarray | None = None,
    size: int = 256,
    extent: float | None = None,
) -> bytes:
    """A PNG scatter of 2-D samples (white) over optional reference points (grey), for 2-D GANs."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be [N, 2], got {pts.shape}")
    allpts = pts if reference is None else np.concatenate([pts, np.asarray(reference, np.float64)])
    finite = allpts[np.isfinite(allpts).all(1)]
    ext = extent or (float(np.abs(finite).max()) * 1.1 if finite.size else 1.0)
    img = np.zeros((size, size, 3), np.uint8)

    def plot(p: np.ndarray, color: tuple[int, int, int]) -> None:
        p = p[np.isfinite(p).all(1)]
        ij = np.clip(((p / ext + 1) / 2 * (size - 1)).round().astype(int), 0, size - 1)
        img[size - 1 - ij[:, 1], ij[:, 0]] = color

    if reference is not None:
        plot(np.asarray(reference, np.float64), (90, 90, 90))
    plot(pts, (255, 255, 255))
    return png_bytes(img)

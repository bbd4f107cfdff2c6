"""Moving glyphs: a Moving-MNIST analogue made from the bundled glyph digits, with no download.

Each clip shows one (or two) glyph digits, rendered by :func:`gandiag.data.glyphs.render_glyph`
and shrunk to ``glyph_size`` pixels, moving at constant speed inside a ``size x size`` black
frame and bouncing off its edges (Srivastava et al. 2015, "Unsupervised Learning of Video
Representations using LSTMs", built Moving MNIST the same way at 64x64 with 28x28 digits).
Clips are ``[frames, 1, size, size]`` uint8. Every clip is a deterministic function of
``(seed, index)``, and carries two labels:

- ``label``: the class (0-9) of its first glyph, what a class-conditional generator is given;
- ``direction``: the first glyph's initial direction of motion, one of 8 compass directions
  (0 = right, counter-clockwise in 45° steps; image rows grow downwards, so 2 = up).

The speed is drawn from ``speed`` (pixels per frame, uniform), so within a class the
motion varies across clips: that variation is what the motion-diversity signal measures.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image

from gandiag.data.glyphs import NUM_CLASSES, render_glyph

NUM_DIRECTIONS = 8


def _small_glyph(digit: int, rng: np.random.Generator, glyph_size: int) -> np.ndarray:
    img = Image.fromarray(render_glyph(digit, rng)).resize(
        (glyph_size, glyph_size), Image.Resampling.LANCZOS
    )
    return np.asarray(img, dtype=np.float32)


def _trajectory(
    rng: np.random.Generator, frames: int, room: int, speed: tuple[float, float]
) -> tuple[np.ndarray, int]:
    """Top-left corners ``[frames, 2]`` (x, y) of a glyph bouncing in ``[0, room]``, and its
    initial direction index."""
    direction = int(rng.integers(0, NUM_DIRECTIONS))
    angle = direction * 2 * math.pi / NUM_DIRECTIONS
    v = float(rng.uniform(*speed))
    vel = np.array([math.cos(angle) * v, -math.sin(angle) * v])  # rows grow downwards
    pos = rng.uniform(0, room, size=2)
    out = np.empty((frames, 2))
    for t in range(frames):
        out[t] = pos
        pos = pos + vel
        for axis in range(2):  # reflect off the walls
            if pos[axis] < 0:
                pos[axis], vel[axis] = -pos[axis], -vel[axis]
            elif pos[axis] > room:
                pos[axis], vel[axis] = 2 * room - pos[axis], -vel[axis]
    return out, direction


def _paste(frame: np.ndarray, glyph: np.ndarray, x: float, y: float) -> None:
    """Add ``glyph`` at sub-pixel position (x, y) by bilinear splatting, saturating at 255."""
    g = glyph.shape[0]
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            w = wx * wy
            if w <= 0:
                continue
            ys, xs = y0 + dy, x0 + dx
            h = min(g, frame.shape[0] - ys)
            wd = min(g, frame.shape[1] - xs)
            if h > 0 and wd > 0:
                frame[ys : ys + h, xs : xs + wd] += w * glyph[:h, :wd]


def make_moving_glyphs(
    n: int,
    seed: int = 0,
    *,
    frames: int = 8,
    size: int = 32,
    glyph_size: int = 18,
    glyphs: int = 1,
    speed: tuple[float, float] = (1.5, 3.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` clips ``[n, frames, 1, size, size]`` uint8, their classes and directions ``[n]``.

    Classes cycle through 0-9 in a seeded random order (balanced up to rounding).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if frames < 2:
        raise ValueError(f"a clip needs at least 2 frames, got frames={frames}")
    if not 4 <= glyph_size < size:
        raise ValueError(
            f"glyph_size must be at least 4 and smaller than the frame (size={size}), "
            f"got {glyph_size}"
        )
    if glyphs not in (1, 2):
        raise ValueError(f"glyphs must be 1 or 2, got {glyphs}")
    lo, hi = (float(s) for s in speed)
    if not 0 <= lo <= hi:
        raise ValueError(
            f"speed must be (low, high) pixels per frame with 0 <= low <= high, got {speed}"
        )
    return _make_cached(
        int(n), int(seed), int(frames), int(size), int(glyph_size), glyphs, (lo, hi)
    )


@functools.lru_cache(maxsize=4)
def _make_cached(
    n: int,
    seed: int,
    frames: int,
    size: int,
    glyph_size: int,
    glyphs: int,
    speed: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.resize(np.arange(NUM_CLASSES, dtype=np.int64), n)
    np.random.default_rng([seed, 10]).shuffle(labels)
    directions = np.empty(n, np.int64)
    clips = np.empty((n, frames, 1, size, size), np.uint8)
    room = size - glyph_size
    for i in range(n):
        rng = np.random.default_rng([seed, 11, i])
        canvas = np.zeros((frames, size, size), np.float32)
        for j in range(glyphs):
            digit = int(labels[i]) if j == 0 else int(rng.integers(0, NUM_CLASSES))
            glyph = _small_glyph(digit, rng, glyph_size)
            path, direction = _trajectory(rng, frames, room, speed)
            if j == 0:
                directions[i] = direction
            for t in range(frames):
                _paste(canvas[t], glyph, path[t, 0], path[t, 1])
        clips[i, :, 0] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    for arr in (clips, labels, directions):
        arr.setflags(write=False)
    return clips, labels, directions

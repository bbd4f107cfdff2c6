"""The bundled glyph digits: an MNIST-like dataset made on the fly, with no download.

Each image is a digit 0-9 drawn with Pillow's bundled font (Aileron) at a random stroke
width, then put through a random affine transform (rotation, scale, shear, shift) and
downsampled to 28x28 with antialiasing. The class of every image is known, and the
whole set is a deterministic function of ``(seed, index)``: the same seed gives the
same images on every machine with the same Pillow version.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

NUM_CLASSES = 10
SIZE = 28
_CANVAS = 84  # render at 3x and downsample, for smooth strokes


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 bundles a FreeType font
    except TypeError as exc:  # pragma: no cover - very old Pillow
        raise RuntimeError(
            "the glyph dataset needs Pillow >= 10.1 (for its bundled scalable font); "
            "upgrade with `pip install -U pillow`"
        ) from exc


def render_glyph(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 uint8 image of ``digit`` (white on black) with random jitter from ``rng``."""
    font_size = int(rng.integers(50, 66))
    stroke = int(rng.integers(0, 4))
    angle = float(rng.uniform(-15.0, 15.0))
    scale = float(rng.uniform(0.85, 1.1))
    shear = float(rng.uniform(-0.25, 0.25))
    dx, dy = (float(v) for v in rng.uniform(-6.0, 6.0, size=2))

    img = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(img)
    font = _font(font_size)
    text = str(int(digit))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    x = (_CANVAS - (right - left)) / 2 - left
    y = (_CANVAS - (bottom - top)) / 2 - top
    draw.text((x, y), text, fill=255, font=font, stroke_width=stroke, stroke_fill=255)

    # Inverse affine map (output -> input) about the canvas centre, as PIL expects.
    c = _CANVAS / 2
    t = math.radians(angle)
    a, b = math.cos(t) / scale, math.sin(t) / scale
    m = np.array([[a, b + shear * a], [-b, a - shear * b]])
    off = np.array([c, c]) - m @ np.array([c + dx, c + dy])
    img = img.transform(
        img.size,
        Image.Transform.AFFINE,
        (m[0, 0], m[0, 1], off[0], m[1, 0], m[1, 1], off[1]),
        resample=Image.Resampling.BILINEAR,
    )
    img = img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def make_glyphs(
    n: int, seed: int = 0, classes: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` glyph images ``[n, 28, 28]`` uint8 and their labels ``[n]`` int64.

    Labels cycle through ``classes`` (all ten by default) in a seeded random order, so
    every class appears ``n / len(classes)`` times up to rounding.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    classes = tuple(range(NUM_CLASSES)) if classes is None else tuple(int(c) for c in classes)
    if not classes or any(not 0 <= c < NUM_CLASSES for c in classes):
        raise ValueError(f"classes must be digits 0-9, got {classes}")
    return _make_cached(int(n), int(seed), classes)


@functools.lru_cache(maxsize=8)
def _make_cached(n: int, seed: int, classes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.resize(np.asarray(classes, dtype=np.int64), n)
    np.random.default_rng([seed, 0]).shuffle(labels)
    images = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        images[i] = render_glyph(int(labels[i]), np.random.default_rng([seed, 1, i]))
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels

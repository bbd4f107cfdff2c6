"""Image-to-image datasets made from the bundled glyphs: unpaired domains, aligned pairs, LR/HR.

Every set is a :class:`TranslationDataset`: ``array`` holds the *target* images (domain B,
the paired target, or the high-resolution image) as uint8 ``[N, 1, H, W]`` and ``inputs``
the *source* images (domain A, the paired input, or the low-resolution image). Labels are
the digit classes, so the glyph classifier can check that a translation keeps the class.
Everything is a deterministic function of ``seed`` (glyphs from :func:`make_glyphs`,
styles from fixed morphological operations).

- ``glyphs_unpaired`` (CycleGAN): A = glyphs, B = the same style of digit restyled
  (``plain``: unchanged, ``thick`` strokes by a 3x3 grey dilation, ``outline`` = dilation
  minus erosion, or
  ``coarse`` = a ``block`` x ``block`` average (4 by default: a 7x7 image) upsampled back,
  which discards detail on purpose; ``block`` 7 keeps only a 4x4 image). A
  and B are drawn from two disjoint glyph streams, so no image of A has its match in B.
  Options for domains that differ mainly in "colour": ``bold`` (a grey dilation of that
  radius applied to both domains first: 4 px makes strokes cover about half the frame),
  ``levels`` (B's background and stroke grey levels, a linear remap of 0..255) and
  ``negative`` (the share of B images printed in negative, after the remap).
- ``glyphs_edges`` (pix2pix): aligned pairs (``input``: the outline of a glyph by default,
  or any style above, e.g. ``coarse`` with its ``block``; the glyph).
- ``glyphs_sr`` (SRGAN): aligned pairs (glyph block-averaged down by ``scale``, the glyph).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gandiag.capabilities import DatasetCapabilities
from gandiag.data.datasets import Dataset, register_dataset
from gandiag.data.glyphs import make_glyphs

STYLES = ("plain", "thick", "outline", "coarse")
#: task names of :attr:`TranslationDataset.task`
TASKS = ("unpaired", "paired", "super_resolution")


@dataclass
class TranslationDataset(Dataset):
    """A :class:`Dataset` of targets (``array``) with their sources (``inputs``).

    ``paired``: ``inputs[i]`` is the source of ``array[i]`` (pix2pix, SR); otherwise the two
    domains are independent samples (CycleGAN) and ``input_labels`` are A's classes.
    """

    inputs: np.ndarray | None = None
    input_labels: np.ndarray | None = None
    paired: bool = True
    task: str = "paired"
    #: unpaired domains whose translation is known: each source's correct translation
    #: and each target's correct source (uint8, like ``array``); ``None`` when unknown
    input_truth: np.ndarray | None = None
    target_truth: np.ndarray | None = None

    def input_batch(self, index: np.ndarray) -> np.ndarray:
        """Sources ``index`` as float32 in [-1, 1]."""
        assert self.inputs is not None
        return self.inputs[index].astype(np.float32) / 127.5 - 1.0


def _shift_stack(img: np.ndarray, radius: int) -> np.ndarray:
    """All ``(2r+1)^2`` shifts of ``img [N, H, W]`` (edge-padded), stacked on a new axis 0."""
    pad = np.pad(img, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    h, w = img.shape[1:]
    k = 2 * radius + 1
    return np.stack([pad[:, i : i + h, j : j + w] for i in range(k) for j in range(k)])


def dilate(img: np.ndarray, radius: int = 1) -> np.ndarray:
    """Grey dilation (max over a ``(2r+1)^2`` square) of uint8 ``[N, H, W]``."""
    return _shift_stack(img, radius).max(axis=0)


def erode(img: np.ndarray, radius: int = 1) -> np.ndarray:
    """Grey erosion (min over a ``(2r+1)^2`` square) of uint8 ``[N, H, W]``."""
    return _shift_stack(img, radius).min(axis=0)


def block_mean(img: np.ndarray, factor: int) -> np.ndarray:
    """uint8 ``[N, H, W]`` averaged over ``factor x factor`` blocks: ``[N, H/f, W/f]``."""
    n, h, w = img.shape
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not a multiple of the factor {factor}")
    blocks = img.reshape(n, h // factor, factor, w // factor, factor).astype(np.float32)
    return np.round(blocks.mean(axis=(2, 4))).astype(np.uint8)


def restyle(img: np.ndarray, style: str, block: int = 4) -> np.ndarray:
    """Glyphs ``[N, H, W]`` uint8 in one of :data:`STYLES` (``block``: the coarse style's)."""
    if style == "plain":
        return img.copy()
    if style == "thick":
        return dilate(img, 1)
    if style == "outline":
        return (dilate(img, 1).astype(np.int16) - erode(img, 1)).clip(0, 255).astype(np.uint8)
    if style == "coarse":
        small = block_mean(img, block)
        return np.repeat(np.repeat(small, block, axis=1), block, axis=2)
    raise ValueError(f"unknown glyph style {style!r}; choose one of {', '.join(STYLES)}")


def remap_levels(img: np.ndarray, background: int, stroke: int) -> np.ndarray:
    """uint8 images with 0 mapped to ``background``, 255 to ``stroke``, linearly between."""
    for name, v in (("background", background), ("stroke", stroke)):
        if not 0 <= v <= 255:
            raise ValueError(f"the {name} level must be a grey level in 0..255, got {v}")
    scaled = background + (stroke - background) * (img.astype(np.float32) / 255.0)
    return np.round(scaled).astype(np.uint8)


@register_dataset(
    "glyphs_unpaired",
    "unpaired glyph domains for CycleGAN: A = glyphs, B = restyled glyphs (thick/outline/coarse)",
    capabilities=DatasetCapabilities(classifier="glyph"),
    n=4000,
    seed=0,
    style="thick",
    block=4,
    bold=0,
    levels=(0, 255),
    negative=0.0,
)
def _unpaired(
    name: str,
    *,
    n: int,
    seed: int,
    style: str,
    block: int,
    bold: int,
    levels: tuple[int, int] | list[int],
    negative: float,
) -> TranslationDataset:
    if not 0.0 <= negative <= 1.0:
        raise ValueError(
            f"negative is the share of B printed in negative, in [0, 1]; got {negative}"
        )
    background, stroke = (int(v) for v in levels)
    a, ya = make_glyphs(n, seed=seed)
    # B comes from another glyph stream (seed offset), so no A image has its pair in B.
    b, yb = make_glyphs(n, seed=seed + 1_000_003)
    a, b = np.asarray(a), np.asarray(b)
    if bold:
        a, b = dilate(a, int(bold)), dilate(b, int(bold))
    target = remap_levels(restyle(b, style, block), background, stroke)
    flip = np.random.default_rng([seed, 5]).random(len(b)) < negative
    target = np.where(flip[:, None, None], 255 - target, target)
    info = {
        "style": style,
        "block": block,
        "domains": ("glyphs", f"{style} glyphs"),
        **({"bold": int(bold)} if bold else {}),
        **({"levels": (background, stroke)} if (background, stroke) != (0, 255) else {}),
        **({"negative": float(negative)} if negative else {}),
    }
    return TranslationDataset(
        name,
        "images",
        np.ascontiguousarray(target[:, None]),
        labels=np.asarray(yb),
        num_classes=10,
        info=info,
        inputs=np.ascontiguousarray(a[:, None]),
        input_labels=np.asarray(ya),
        paired=False,
        task="unpaired",
        # the correct translations keep the glyph's polarity (B's negatives are the noise)
        input_truth=remap_levels(restyle(a, style, block), background, stroke)[:, None],
        target_truth=np.ascontiguousarray(b[:, None]),
    )


@register_dataset(
    "glyphs_edges",
    "aligned pairs for pix2pix: (the glyph in the `input` style, outline by default; the glyph)",
    capabilities=DatasetCapabilities(classifier="glyph", paired=True),
    n=4000,
    seed=0,
    input="outline",
    block=4,
)
def _edges(name: str, *, n: int, seed: int, input: str, block: int) -> TranslationDataset:
    x, y = make_glyphs(n, seed=seed)
    x = np.asarray(x)
    return TranslationDataset(
        name,
        "images",
        np.ascontiguousarray(x[:, None]),
        labels=np.asarray(y),
        num_classes=10,
        info={"input": input, "block": block},
        inputs=restyle(x, input, block)[:, None],
        input_labels=np.asarray(y),
        paired=True,
        task="paired",
    )


@register_dataset(
    "glyphs_sr",
    "low/high-resolution pairs for SRGAN: (glyph block-averaged by `scale`, the 28x28 glyph)",
    capabilities=DatasetCapabilities(classifier="glyph", paired=True),
    n=4000,
    seed=0,
    scale=2,
)
def _sr(name: str, *, n: int, seed: int, scale: int) -> TranslationDataset:
    x, y = make_glyphs(n, seed=seed)
    x = np.asarray(x)
    return TranslationDataset(
        name,
        "images",
        np.ascontiguousarray(x[:, None]),
        labels=np.asarray(y),
        num_classes=10,
        info={"scale": int(scale), "downsampling": "block mean"},
        inputs=block_mean(x, int(scale))[:, None],
        input_labels=np.asarray(y),
        paired=True,
        task="super_resolution",
    )

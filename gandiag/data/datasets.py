"""The dataset registry: every training dataset by name, loaded into memory as numpy.

A :class:`Dataset` holds 2-D points ``[N, 2]`` float32, or images ``[N, C, H, W]``
uint8 that :meth:`Dataset.batch` maps to float32 in [-1, 1] (the generators' tanh
range). Datasets with known modes carry them (:attr:`Dataset.modes` for 2-D
mixtures, :attr:`Dataset.num_classes` and labels for glyphs), so evaluation can score
mode coverage against ground truth. No torch here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from gandiag.capabilities import DatasetCapabilities
from gandiag.data import files, toy2d
from gandiag.data.glyphs import make_glyphs
from gandiag.registry import Registry, did_you_mean, instance_of

KINDS = ("points", "images")


@dataclass
class Dataset:
    name: str
    kind: str
    array: np.ndarray  # points float32 [N, D], or images uint8 [N, C, H, W]
    labels: np.ndarray | None = None
    num_classes: int = 0
    modes: toy2d.ModeSet | None = None
    info: dict[str, Any] = field(default_factory=dict)
    capabilities: DatasetCapabilities = field(default_factory=DatasetCapabilities)

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])

    def batch(self, index: np.ndarray) -> np.ndarray:
        """Items ``index`` as float32: points as stored, images scaled to [-1, 1]."""
        x = self.array[index]
        if self.kind == "images":
            return x.astype(np.float32) / 127.5 - 1.0
        return x.astype(np.float32, copy=False)

    def model_shape_options(self) -> dict[str, Any]:
        """The shape options of :func:`gandiag.reference_models.build_model` for this data."""
        if self.kind == "points":
            return {"data_dim": self.array.shape[1], "image_size": None}
        return {
            "data_dim": None,
            "image_size": self.array.shape[-1],
            "channels": self.array.shape[1],
        }


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    summary: str
    loader: Callable[..., Dataset]
    options: Mapping[str, Any]
    capabilities: DatasetCapabilities = field(default_factory=DatasetCapabilities)


#: The dataset registry: name -> DatasetSpec (see gandiag.registry for its rules).
DATASETS: Registry[DatasetSpec] = Registry("dataset", check=instance_of(DatasetSpec))


def register_dataset(
    name: str, summary: str, *, capabilities: DatasetCapabilities | None = None, **options: Any
) -> Callable:
    """Decorator registering ``loader(name, **options) -> Dataset`` with default ``options``
    and what the dataset offers evaluation (``capabilities``)."""

    def wrap(loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
        caps = capabilities if capabilities is not None else DatasetCapabilities()
        DATASETS.register(name, DatasetSpec(name, summary, loader, options, caps))
        return loader

    return wrap


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load dataset ``name`` with ``options`` overriding its defaults.

    Unknown names and options are errors listing the valid ones.
    """
    spec = DATASETS.lookup(name)
    for key in options:
        if key not in spec.options:
            raise ValueError(
                f"dataset {name!r} has no option {key!r}{did_you_mean(key, spec.options)}; "
                f"its options are: {', '.join(sorted(spec.options)) or 'none'}"
            )
    ds = spec.loader(name, **{**spec.options, **options})
    return dataclasses.replace(ds, capabilities=spec.capabilities)


def _points(name: str, modes: toy2d.ModeSet, n: int, seed: int) -> Dataset:
    pts, which = modes.sample(n, np.random.default_rng([seed, 2]))
    return Dataset(name, "points", pts, labels=which, num_classes=modes.num_modes, modes=modes)


@register_dataset(
    "ring8",
    "8 Gaussians on a circle of radius 2, sigma 0.02",
    n=50_000,
    seed=0,
    radius=2.0,
    sigma=0.02,
    num_modes=8,
)
def _ring8(name: str, *, n: int, seed: int, radius: float, sigma: float, num_modes: int) -> Dataset:
    return _points(name, toy2d.ring(num_modes, radius, sigma), n, seed)


@register_dataset(
    "grid25",
    "5x5 grid of Gaussians at {-4,-2,0,2,4}^2, sigma 0.05",
    n=50_000,
    seed=0,
    spacing=2.0,
    sigma=0.05,
)
def _grid25(name: str, *, n: int, seed: int, spacing: float, sigma: float) -> Dataset:
    return _points(name, toy2d.grid(5, spacing, sigma), n, seed)


@register_dataset(
    "spiral",
    "20 Gaussians along a 1.5-turn spiral, sigma 0.05",
    n=50_000,
    seed=0,
    num_modes=20,
    sigma=0.05,
)
def _spiral(name: str, *, n: int, seed: int, num_modes: int, sigma: float) -> Dataset:
    return _points(name, toy2d.spiral(num_modes, sigma=sigma), n, seed)


@register_dataset(
    "glyphs",
    "bundled procedural digits 0-9, 28x28 (10 known classes)",
    capabilities=DatasetCapabilities(classifier="glyph"),
    n=10_000,
    seed=0,
    image_size=28,
)
def _glyphs(name: str, *, n: int, seed: int, image_size: int) -> Dataset:
    x, y = make_glyphs(n, seed=seed)
    return Dataset(
        name, "images", resize(x[:, None], image_size), labels=np.asarray(y), num_classes=10
    )


@register_dataset(
    "stacked_glyphs",
    "three glyphs as RGB channels: 1,000 known modes (stacked-MNIST analogue)",
    capabilities=DatasetCapabilities(classifier="glyph", stacked_channels=True),
    n=10_000,
    seed=0,
    image_size=28,
)
def _stacked(name: str, *, n: int, seed: int, image_size: int) -> Dataset:
    x, y = make_stacked_glyphs(n, seed=seed)
    return Dataset(name, "images", resize(x, image_size), labels=y, num_classes=1000)


def make_stacked_glyphs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``[n, 3, 28, 28]`` whose channels are three glyphs, and labels 0..999.

    The label is ``100·a + 10·b + c`` for digits ``a, b, c`` in channels 0, 1, 2. The
    channels are drawn from one pool of ``n`` glyphs by three seeded permutations.
    """
    pool, digits = make_glyphs(n, seed=seed)
    rng = np.random.default_rng([seed, 3])
    picks = [rng.permutation(n) for _ in range(3)]
    images = np.stack([pool[p] for p in picks], axis=1)
    labels = 100 * digits[picks[0]] + 10 * digits[picks[1]] + digits[picks[2]]
    return images, labels.astype(np.int64)


@register_dataset(
    "mnist", "MNIST from local IDX files (gz or not)", root="", split="train", image_size=28
)
@register_dataset(
    "fashion_mnist",
    "Fashion-MNIST from local IDX files (gz or not)",
    root="",
    split="train",
    image_size=28,
)
def _idx(name: str, *, root: str, split: str, image_size: int) -> Dataset:
    _need_path(name, "root", root, "the folder holding train-images-idx3-ubyte[.gz] etc.")
    x, y = files.load_idx_dataset(root, split)
    return Dataset(
        name, "images", resize(x, image_size), labels=y, num_classes=10, info={"root": str(root)}
    )


@register_dataset(
    "cifar10", "CIFAR-10 binary version from local files", root="", split="train", image_size=32
)
def _cifar(name: str, *, root: str, split: str, image_size: int) -> Dataset:
    _need_path(name, "root", root, "the folder holding data_batch_1.bin .. test_batch.bin")
    x, y = files.load_cifar10_binary(root, split)
    return Dataset(
        name, "images", resize(x, image_size), labels=y, num_classes=10, info={"root": str(root)}
    )


@register_dataset(
    "image_folder",
    "every image under a folder (subfolders = classes)",
    root="",
    image_size=32,
    channels=3,
)
def _folder(name: str, *, root: str, image_size: int, channels: int) -> Dataset:
    _need_path(name, "root", root, "a folder of images")
    x, y, classes = files.load_image_folder(root, image_size, channels)
    return Dataset(
        name,
        "images",
        x,
        labels=y,
        num_classes=len(classes),
        info={"root": str(root), "classes": classes},
    )


@register_dataset(
    "npz",
    "an array in a .npz file: uint8 images [N,H,W(,C)] / [N,C,H,W] or float points [N,D]",
    path="",
    key=None,
    labels_key=None,
    image_size=None,
)
def _npz(
    name: str, *, path: str, key: str | None, labels_key: str | None, image_size: int | None
) -> Dataset:
    _need_path(name, "path", path, "a .npz file")
    data, labels = files.load_npz(path, key, labels_key)
    k = int(labels.max()) + 1 if labels is not None and len(labels) else 0
    if data.ndim == 2:
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float32)
        return Dataset(name, "points", data.astype(np.float32), labels=labels, num_classes=k)
    if data.dtype != np.uint8:
        raise ValueError(
            f"images in {path} are {data.dtype}; store them as uint8 0..255 "
            "(points may be float, shaped [N, D])"
        )
    if data.ndim == 3:
        data = data[:, None]
    elif data.ndim == 4 and data.shape[-1] in (1, 3) and data.shape[1] not in (1, 3):
        data = data.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    if data.ndim != 4 or data.shape[1] not in (1, 3) or data.shape[2] != data.shape[3]:
        raise ValueError(
            f"images in {path} have shape {data.shape}; expected square images "
            "[N, H, W], [N, H, W, C] or [N, C, H, W] with C = 1 or 3"
        )
    return Dataset(
        name,
        "images",
        resize(np.ascontiguousarray(data), image_size or data.shape[-1]),
        labels=labels,
        num_classes=k,
    )


def _need_path(name: str, option: str, value: str, what: str) -> None:
    if not value:
        raise ValueError(
            f"dataset {name!r} reads local files: set its {option!r} option to "
            f'{what} (config: [data.options] {option} = "...")'
        )


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` resized to ``size x size`` (bicubic via PIL); a no-op at the same size."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = np.empty(images.shape[:2] + (size, size), np.uint8)
    for i in range(images.shape[0]):
        for c in range(images.shape[1]):
            img = Image.fromarray(images[i, c]).resize((size, size), Image.Resampling.BICUBIC)
            out[i, c] = np.asarray(img)
    return out

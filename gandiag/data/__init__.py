"""Datasets that need no download, with known modes where possible, in a registry.

>>> from gandiag.data import load_dataset, list_datasets
>>> ds = load_dataset("ring8", n=1000)
>>> ds.modes.score(ds.array).modes_covered
8

2-D mixtures (:mod:`gandiag.data.toy2d`): ``ring8``, ``grid25``, ``spiral``. Images:
``glyphs`` (10 classes), ``stacked_glyphs`` (1,000 modes), videos: ``moving_glyphs``
(``[N, T, 1, 32, 32]`` clips, 10 classes), and local files
(``mnist``, ``fashion_mnist``, ``cifar10``, ``image_folder``, ``npz``; see
:mod:`gandiag.data.files`). No torch is imported.
"""

from gandiag.data.datasets import (
    DATASETS,
    Dataset,
    DatasetSpec,
    list_datasets,
    load_dataset,
    make_stacked_glyphs,
    register_dataset,
)
from gandiag.data.glyphs import make_glyphs
from gandiag.data.moving_glyphs import make_moving_glyphs
from gandiag.data.toy2d import ModeScore, ModeSet, grid, ring, score_modes, spiral
from gandiag.data.translation import TranslationDataset

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetSpec",
    "ModeScore",
    "ModeSet",
    "TranslationDataset",
    "grid",
    "list_datasets",
    "load_dataset",
    "make_glyphs",
    "make_moving_glyphs",
    "make_stacked_glyphs",
    "register_dataset",
    "ring",
    "score_modes",
    "spiral",
]

"""The reference trainer: ``train(config, out_dir)`` and ``gandiag train CONFIG --out DIR``.

>>> from gandiag.train import train
>>> run_dir = train({"model": {"name": "dcgan"}, "data": {"name": "glyphs"}, "steps": 300},
...                 "runs/dcgan")  # doctest: +SKIP

The config's sections and defaults are the dataclasses in :mod:`gandiag.train.config`.
"""

from gandiag.train.config import (
    CheckpointConfig,
    DataConfig,
    EvalConfig,
    GANConfig,
    ModelConfig,
    MonitorConfig,
    OptimConfig,
    TrainConfig,
    VAEConfig,
    load_config,
)
from gandiag.train.trainer import pick_device, train

__all__ = [
    "CheckpointConfig",
    "DataConfig",
    "EvalConfig",
    "GANConfig",
    "ModelConfig",
    "MonitorConfig",
    "OptimConfig",
    "TrainConfig",
    "VAEConfig",
    "load_config",
    "pick_device",
    "train",
]

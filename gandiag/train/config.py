"""Training configuration: nested dataclasses with a default for every option, read from TOML.

A config file mirrors the dataclasses section by section::

    seed = 0
    steps = 3000
    [model]
    name = "wgan_gp"
    [data]
    name = "ring8"
    batch_size = 256
    [gan]
    d_steps = 5

Options left at ``None`` take the model's own defaults (its paper's objective,
critic steps, optimiser and learning rates; see ``gandiag list-models``). An unknown
key is an error naming it and the nearest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib


@dataclass
class ModelConfig:
    name: str = "dcgan"
    #: keyword arguments of build_model (latent_dim, width, ...); shapes come from the data
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    name: str = "glyphs"
    #: keyword arguments of gandiag.data.load_dataset (n, seed, root, image_size, ...)
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    #: real items held out of training to measure discriminator overfitting (d/r_v), GANs
    #: only and at most a tenth of the dataset; the discriminator's outputs on one batch of
    #: them are passed to the monitor as d_val (0 turns the held-out batch off)
    val_size: int = 256


@dataclass
class OptimConfig:
    #: "adam", "rmsprop" or "sgd"; None: the model's default
    optimizer: str | None = None
    lr_g: float | None = None  # GAN generator (TTUR: set lr_d and lr_g apart)
    lr_d: float | None = None  # GAN discriminator
    lr_d_t: float | None = None  # DVD-GAN's temporal discriminator (None: lr_d)
    lr: float | None = None  # autoencoders
    betas: list[float] | None = None
    weight_decay: float = 0.0


@dataclass
class GANConfig:
    #: "minimax", "nonsaturating", "lsgan", "wasserstein", "hinge"; None: the model's
    loss: str | None = None
    d_steps: int | None = None  # discriminator updates per generator update
    clip: float | None = None  # WGAN weight clipping bound
    gp: float | None = None  # WGAN-GP penalty weight (lambda)
    r1: float | None = None  # R1 penalty weight (gamma; the regulariser is gamma/2 * E|grad|^2)
    label_smoothing: float = 0.0  # one-sided: real label = 1 - label_smoothing
    instance_noise: float = 0.0  # std of noise added to D's inputs at step 0
    instance_noise_anneal: int = 0  # steps over which that std decays linearly to 0 (0: constant)
    ema: float = 0.0  # decay of an exponential moving average of G (0: off; e.g. 0.999)
    unrolled_steps: int | None = None  # unrolled GAN look-ahead steps
    aux_weight: float | None = None  # ACGAN class loss weight
    info_weight: float | None = None  # InfoGAN mutual-information weight
    #: adaptive discriminator augmentation (Karras et al. 2020), images only: p is driven
    #: so that r_t = E[sign(D(real))] approaches ada_target, adjusted every ada_interval steps
    ada: bool = False
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 100.0  # thousands of images for p to go from 0 to 1
    #: settings of a model family's own loop (progan, stylegan, lapgan): schedule,
    #: regularisers, augmentation; each family validates its keys
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class VAEConfig:
    beta: float | None = None  # KL weight; None: the model's (1, or 4 for beta_vae)
    kl_anneal_steps: int = 0  # KL weight rises linearly from 0 over this many steps
    kl_anneal_start: int = 0  # ... counted from this step (a forked branch: its fork)
    free_bits: float = 0.0  # per-dimension KL floor in nats (Kingma et al. 2016)


@dataclass
class TranslationConfig:
    """Image-to-image models (cyclegan, pix2pix, srgan); None: the model's default."""

    lambda_cycle: float | None = None  # CycleGAN cycle-consistency weight (10)
    lambda_identity: float | None = None  # CycleGAN identity weight, times lambda_cycle (0.5)
    pool_size: int | None = None  # CycleGAN image pool (50; 0: off)
    lambda_l1: float | None = None  # pix2pix L1 weight (100)
    lambda_adv: float | None = None  # adversarial weight (pix2pix 1, SRGAN 1e-3)
    lambda_content: float | None = None  # SRGAN glyph-classifier feature loss weight
    pretrain_steps: int | None = None  # SRGAN MSE-only generator steps before the GAN phase
    probe_every: int = 50  # steps between translation probes (0: off)
    probe_size: int = 32  # held-out inputs in the probe batch


@dataclass
class EvalConfig:
    every: int = 500  # steps between evaluations (0: only at the end)
    num_samples: int = 2000
    #: gandiag.evaluate metrics on image data ("fid", "kid", "is", "pr", "dc"); [] for none
    metrics: list[str] = field(default_factory=lambda: ["fid", "kid", "pr", "dc"])
    num_real: int = 2000  # real images the metrics compare against
    interpolation: bool = True  # log a latent-interpolation grid at each evaluation


@dataclass
class CheckpointConfig:
    every: int = 1000  # steps between checkpoints (the last step is always saved)
    #: checkpoints kept in <run>/ring/, each tagged with the run's health (0: no ring; a
    #: rollback policy turns it on with 4)
    ring: int = 0
    ring_every: int = 0  # steps between ring checkpoints (0: half the evaluation interval)


@dataclass
class PolicyConfig:
    #: action on a warning / critical alert: "none", "checkpoint", "rollback" or "stop"
    on_warning: str = "none"
    on_critical: str = "none"
    max_rollbacks: int = 2
    #: after a rollback every learning rate is multiplied by this (replaying the same
    #: settings from the same state would replay the same failure)
    rollback_lr_scale: float = 0.5


@dataclass
class MonitorConfig:
    #: gandiag.monitor.Cadence fields (layers, histograms, samples, grid, flush, ...)
    cadence: dict[str, Any] = field(default_factory=dict)
    detectors: str = "default"  # "default" or "none"
    #: detector overrides, as for gandiag.detectors.default_detectors: a table of parameters
    #: per detector (``mode_collapse = { patience_steps = 300 }``), or false to leave it out
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    name: str | None = None
    seed: int = 0
    steps: int = 2000
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), or a torch device string
    amp: bool = True  # mixed precision (bfloat16 autocast) on CUDA; ignored elsewhere
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    gan: GANConfig = field(default_factory=GANConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(source: str | Path | dict[str, Any] | TrainConfig) -> TrainConfig:
    """A :class:`TrainConfig` from a TOML file path, a (nested) dict, or a TrainConfig.

    Unknown keys and values of the wrong type are errors naming the key and the fix.
    """
    if isinstance(source, TrainConfig):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from exc
        try:
            return _build(TrainConfig, data, "")
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    if not isinstance(source, dict):
        raise TypeError(f"config must be a path, a dict or a TrainConfig, got {type(source)}")
    return _build(TrainConfig, source, "")


def stored_config(run_dir: str | Path) -> TrainConfig:
    """The config a ``gandiag train`` run was trained from, read back from its store (the
    trainer's additions, its resolved defaults and model options, left out)."""
    from gandiag.store import RunReader

    with RunReader(run_dir) as reader:
        stored = dict(reader.info().config)
    if "model" not in stored:
        raise ValueError(
            f"{run_dir} stores no training config: it was not written by `gandiag train`"
        )
    for added in ("resolved", "model_options"):
        stored.pop(added, None)
    return load_config(stored)


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(  # noqa: TRY004 - bad input, reported as one line by the CLI
            f"config key {prefix!r} must be a table of options, got {data!r}"
        )
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            hint = (
                f"; did you mean {(prefix + '.' if prefix else '') + close[0]!r}?" if close else ""
            )
            raise ValueError(
                f"unknown config key {dotted!r}{hint} (valid keys"
                f"{' in [' + prefix + ']' if prefix else ''}: {', '.join(names)})"
            )
        kwargs[key] = _convert(hints[key], value, dotted)
    return cls(**kwargs)


def _convert(hint: Any, value: Any, key: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    args = typing.get_args(hint)
    optional = type(None) in args
    if value is None and optional:
        return None
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    origin = typing.get_origin(base) or base
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        list: isinstance(value, (list, tuple)),
        dict: isinstance(value, dict),
    }.get(origin, True)
    if not ok:
        raise ValueError(
            f"config key {key!r} must be {getattr(origin, '__name__', origin)}, got {value!r}"
        )
    if origin is float:
        return float(value)
    if origin is list:
        return list(value)
    return value

"""Remedies as changes to a training config, per failure, in the order practitioners try them.

Each remedy is a set of overrides of the reference trainer's config (``gan.*``, ``optim.*``,
``vae.*``) plus a test of whether the run's model supports it. The first applicable remedy
of each list is the one practitioners name first for that failure (the order of the
remedies every alert carries, see :mod:`gandiag.detectors.remedies`):

- vanishing generator gradients: the non-saturating loss (Goodfellow et al. 2014, sec. 3);
- mode collapse: unrolled discriminator steps (Metz et al. 2017);
- non-convergence: an R1 penalty (Mescheder et al. 2018);
- exploding gradients: WGAN-GP's gradient penalty (Gulrajani et al. 2017);
- discriminator overfitting: instance noise (Sønderby et al. 2017) where augmentation is
  not available to the reference trainer;
- posterior collapse: KL annealing (Bowman et al. 2016), then free bits (Kingma et al. 2016).

Nothing here imports torch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Config = dict[str, Any]


@dataclass(frozen=True)
class Remedy:
    """A named change to a config; ``applies`` says whether this run's model supports it."""

    name: str
    description: str
    overrides: Callable[[Config], Mapping[str, Any]]
    applies: Callable[[Config], bool] = field(default=lambda cfg: True)

    def apply(self, config: Config) -> Config:
        """A copy of ``config`` with this remedy's dotted-key overrides set."""
        out = copy.deepcopy(config)
        for dotted, value in self.overrides(config).items():
            section, _, key = dotted.rpartition(".")
            node = out
            for part in section.split(".") if section else []:
                node = node.setdefault(part, {})
            node[key] = value
        return out


def _resolved(cfg: Config, key: str, default: Any = None) -> Any:
    """The value the run trained with: the stored resolved settings, else the config."""
    return cfg.get("resolved", {}).get(key, default)


def _is_gan(cfg: Config) -> bool:
    return "loss" in cfg.get("resolved", {})


def _is_vae(cfg: Config) -> bool:
    return "beta" in cfg.get("resolved", {})


def _saturating(cfg: Config) -> bool:
    return _is_gan(cfg) and _resolved(cfg, "loss") == "minimax"


def _plain_gan(cfg: Config) -> bool:
    """Unconditional, no latent codes: the trainer's unrolled steps do not cover auxiliary
    heads (ACGAN, InfoGAN), and conditional models are left out to stay on the safe side."""
    opts = cfg.get("model_options", {})
    return _is_gan(cfg) and not opts.get("info_categories") and not opts.get("num_classes")


def _lr(cfg: Config, key: str) -> float:
    value = _resolved(cfg, key)
    return float(value) if value is not None else 2e-4


def _bce_family(cfg: Config) -> bool:
    return _is_gan(cfg) and _resolved(cfg, "loss") in ("minimax", "nonsaturating", "lsgan")


NON_SATURATING = Remedy(
    "non_saturating_loss",
    "generator loss -log D(G(z)) instead of log(1 - D(G(z)))",
    lambda cfg: {"gan.loss": "nonsaturating"},
    _saturating,
)
TTUR = Remedy(
    "ttur",
    "two time-scale rates: lr_D 4x lr_G (Heusel et al. 2017), from the run's lr_G",
    lambda cfg: {"optim.lr_g": _lr(cfg, "lr_g"), "optim.lr_d": 4 * _lr(cfg, "lr_g")},
    lambda cfg: _is_gan(cfg) and abs(_lr(cfg, "lr_d") - 4 * _lr(cfg, "lr_g")) > 1e-12,
)
LOWER_LR = Remedy(
    "lower_lr",
    "both learning rates divided by 4",
    lambda cfg: (
        {"optim.lr_g": _lr(cfg, "lr_g") / 4, "optim.lr_d": _lr(cfg, "lr_d") / 4}
        if _is_gan(cfg)
        else {"optim.lr": _lr(cfg, "lr_model") / 4}
    ),
)
R1 = Remedy(
    "r1_penalty",
    "R1 penalty on real data, gamma = 10 (Mescheder et al. 2018)",
    lambda cfg: {"gan.r1": 10.0},
    lambda cfg: _is_gan(cfg) and not _resolved(cfg, "r1") and not _resolved(cfg, "gp"),
)
GRADIENT_PENALTY = Remedy(
    "wgan_gp",
    "Wasserstein loss with gradient penalty lambda = 10 and 5 critic steps",
    lambda cfg: {"gan.loss": "wasserstein", "gan.gp": 10.0, "gan.d_steps": 5, "gan.clip": 0.0},
    lambda cfg: _is_gan(cfg) and not _resolved(cfg, "gp"),
)
INSTANCE_NOISE = Remedy(
    "instance_noise",
    "instance noise std 0.1 on D's inputs, annealed to 0 over the branch",
    lambda cfg: {"gan.instance_noise": 0.1, "gan.instance_noise_anneal": 0},
    lambda cfg: _is_gan(cfg) and not _resolved(cfg, "instance_noise"),
)
LABEL_SMOOTHING = Remedy(
    "label_smoothing",
    "one-sided label smoothing: real label 0.9 (Salimans et al. 2016)",
    lambda cfg: {"gan.label_smoothing": 0.1},
    lambda cfg: _bce_family(cfg) and float(_resolved(cfg, "real_label", 1.0)) == 1.0,
)
HINGE = Remedy(
    "hinge_loss",
    "hinge loss for D and G (Lim & Ye 2017; Miyato et al. 2018)",
    lambda cfg: {"gan.loss": "hinge"},
    lambda cfg: _is_gan(cfg) and _resolved(cfg, "loss") != "hinge",
)
UNROLLED = Remedy(
    "unrolled",
    "5 unrolled discriminator steps in the generator's update (Metz et al. 2017)",
    lambda cfg: {"gan.unrolled_steps": 5},
    lambda cfg: _plain_gan(cfg) and not _resolved(cfg, "unrolled_steps"),
)
FEWER_D_STEPS = Remedy(
    "fewer_d_steps",
    "one discriminator step per generator step",
    lambda cfg: {"gan.d_steps": 1},
    lambda cfg: _is_gan(cfg) and int(_resolved(cfg, "d_steps", 1)) > 1,
)
MORE_D_STEPS = Remedy(
    "more_d_steps",
    "five discriminator steps per generator step",
    lambda cfg: {"gan.d_steps": 5},
    lambda cfg: _is_gan(cfg) and int(_resolved(cfg, "d_steps", 1)) < 5,
)
KL_ANNEAL = Remedy(
    "kl_annealing",
    "KL weight rising linearly from 0 over the branch's first half",
    lambda cfg: {"vae.kl_anneal_steps": -1},  # -1: filled in with half the budget
    lambda cfg: _is_vae(cfg) and not _resolved(cfg, "kl_anneal_steps"),
)
FREE_BITS = Remedy(
    "free_bits",
    "free bits: a KL floor of 0.25 nats per latent dimension",
    lambda cfg: {"vae.free_bits": 0.25},
    lambda cfg: _is_vae(cfg) and not _resolved(cfg, "free_bits"),
)
LOWER_BETA = Remedy(
    "lower_beta",
    "KL weight beta halved",
    lambda cfg: {"vae.beta": float(_resolved(cfg, "beta", 1.0)) / 2},
    _is_vae,
)

#: per detector, the remedies in the order practitioners try them (first = named first)
CATALOG: dict[str, tuple[Remedy, ...]] = {
    "vanishing_gradients": (NON_SATURATING, INSTANCE_NOISE, FEWER_D_STEPS, HINGE, TTUR),
    "mode_collapse": (UNROLLED, R1, TTUR, FEWER_D_STEPS, HINGE),
    "non_convergence": (R1, TTUR, LOWER_LR, HINGE, UNROLLED),
    "exploding_gradients": (GRADIENT_PENALTY, LOWER_LR, HINGE),
    "nonfinite": (LOWER_LR, GRADIENT_PENALTY, R1),
    "d_overfitting": (INSTANCE_NOISE, R1, LABEL_SMOOTHING),
    "posterior_collapse": (KL_ANNEAL, FREE_BITS, LOWER_BETA),
    "stalled_training": (LOWER_LR, MORE_D_STEPS),
}


def remedies_for(detector: str, config: Config) -> list[Remedy]:
    """The catalogued remedies for ``detector`` that this run's model supports, in order."""
    known = CATALOG.get(detector)
    if known is None:
        valid = ", ".join(sorted(CATALOG))
        raise ValueError(
            f"doctor has no remedies for detector {detector!r}; it knows {valid}. Pass "
            "--alert with one of those, or supply remedies through gandiag.doctor.run_branches"
        )
    return [r for r in known if r.applies(config)]

"""Remedies as changes to a training config, per failure, in the order practitioners try them.

Each remedy is a set of overrides of the reference trainer's config plus a test of whether
the run's training loop supports it. Both read what the run itself recorded: the settings
its stepper resolved (``resolved``), its model options, and the training defaults of its
model in the registry; never the model's name. Settings of a model family with its own
stepper (progan, stylegan, lapgan) go through ``gan.options``, which the family validates
(:func:`gandiag.train.family.settings_from`); the textbook GAN's through ``gan.*``; the
image-to-image models' through ``translation.*``; the video GAN's through ``gan.*`` and
``optim.lr_d_t``. A remedy that changes the networks themselves (a model option: spectral
norm, a linear output, a temporal discriminator) cannot start from the run's checkpoint,
whose weights belong to other networks: its branch trains from the initialisation
(``fresh_start``) to the same final step as the others.

The first applicable remedy of each list is the one practitioners name first for that
failure (the order of the remedies every alert carries, see
:mod:`gandiag.detectors.remedies`):

- vanishing generator gradients: the non-saturating loss (Goodfellow et al. 2014, sec. 3);
- mode collapse: unrolled discriminator steps (Metz et al. 2017);
- non-convergence: an R1 penalty (Mescheder et al. 2018);
- exploding gradients: WGAN-GP's gradient penalty (Gulrajani et al. 2017);
- discriminator overfitting: adaptive discriminator augmentation (Karras et al. 2020);
- posterior collapse: KL annealing (Bowman et al. 2016), then free bits (Kingma et al. 2016);
- the family failures: the fix their detectors name first (a linear toRGB for ProGAN's
  fade-in collapse, a linear alpha ramp for a stuck fade, the identity weight for a
  CycleGAN that copies its input, generator pre-training for SRGAN, a temporal
  discriminator for frozen video, ...).

Every remedy text a detector can put on an alert is either answered by a catalogued remedy
(``Remedy.answers``) or listed in :data:`ADVICE_ONLY` with the reason doctor cannot try it;
tests/doctor checks this for every registered detector, so a new detector cannot silently
fall out of doctor.

Nothing here imports torch (the registry lookup is lazy).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gandiag.detectors import condition as CI
from gandiag.detectors import phases as PH
from gandiag.detectors import remedies as R
from gandiag.detectors import stylegan as SG
from gandiag.detectors import translation as TR
from gandiag.detectors import video as VD
from gandiag.detectors.levels import REMEDIES as LEVEL_REMEDIES

Config = dict[str, Any]


@dataclass(frozen=True)
class Remedy:
    """A named change to a config; ``applies`` says whether this run's loop supports it."""

    name: str
    description: str
    overrides: Callable[[Config], Mapping[str, Any]]
    applies: Callable[[Config], bool] = field(default=lambda cfg: True)
    #: the remedy texts of alerts (gandiag.detectors) this change carries out
    answers: tuple[str, ...] = ()
    #: the change alters the networks: the branch trains from the initialisation
    fresh_start: bool = False

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


# -- what the run trained with ----------------------------------------------------------------
def _resolved(cfg: Config, key: str, default: Any = None) -> Any:
    """The value the run trained with: the stored resolved settings, else ``default``."""
    return cfg.get("resolved", {}).get(key, default)


def _reads(cfg: Config, key: str) -> bool:
    """The run's stepper resolved setting ``key`` (so a branch can change it)."""
    return key in cfg.get("resolved", {})


def _option(cfg: Config, key: str, default: Any = None) -> Any:
    return cfg.get("model_options", {}).get(key, default)


def _training(cfg: Config) -> dict[str, Any]:
    """The model's training defaults in the registry ({} when the config names no model)."""
    name = cfg.get("model", {}).get("name")
    if not name:
        return {}
    from gandiag.reference_models import get_spec

    try:
        return dict(get_spec(name).training)
    except (KeyError, ValueError):
        return {}


def _capabilities(cfg: Config) -> Any:
    """The model's declared capabilities (None when the config names no known model)."""
    name = cfg.get("model", {}).get("name")
    if not name:
        return None
    from gandiag.reference_models import get_spec

    try:
        return get_spec(name).capabilities
    except (KeyError, ValueError):
        return None


def _family(cfg: Config) -> bool:
    """The model trains with a family stepper: its settings live in ``gan.options``."""
    return "stepper" in _training(cfg)


def _gan_key(cfg: Config, key: str) -> str:
    """Where a GAN setting is configured: ``gan.options.KEY`` for a family, else ``gan.KEY``."""
    return f"gan.options.{key}" if _family(cfg) else f"gan.{key}"


def _textbook(cfg: Config, key: str) -> bool:
    """A ``gan.*`` setting the run's (non-family) stepper reads."""
    return _reads(cfg, key) and not _family(cfg)


def _family_reads(cfg: Config, key: str) -> bool:
    """A ``gan.options`` setting the run's family stepper reads."""
    return _reads(cfg, key) and _family(cfg)


def _translation_uses(cfg: Config, key: str) -> bool:
    """A ``translation.*`` weight this model's loop uses (its training defaults name it)."""
    return _reads(cfg, key) and key in _training(cfg)


def _is_gan(cfg: Config) -> bool:
    return _reads(cfg, "loss")


def _is_vae(cfg: Config) -> bool:
    return _reads(cfg, "beta")


def _loss_configurable(cfg: Config) -> bool:
    """``gan.loss`` reaches the loop (family steppers fix their own objective)."""
    return _is_gan(cfg) and not _family(cfg)


def _images(cfg: Config) -> bool:
    return bool(_option(cfg, "image_size")) and not _option(cfg, "frames")


def _lr(cfg: Config, key: str) -> float:
    value = _resolved(cfg, key)
    return float(value) if value is not None else 2e-4


def _bce_family(cfg: Config) -> bool:
    return _textbook(cfg, "real_label") and _resolved(cfg, "loss") in (
        "minimax",
        "nonsaturating",
        "lsgan",
    )


# -- the textbook GAN and VAE ---------------------------------------------------------------
NON_SATURATING = Remedy(
    "non_saturating_loss",
    "generator loss -log D(G(z)) instead of log(1 - D(G(z)))",
    lambda cfg: {"gan.loss": "nonsaturating"},
    lambda cfg: _loss_configurable(cfg) and _resolved(cfg, "loss") == "minimax",
    answers=(R.NON_SATURATING,),
)
TTUR = Remedy(
    "ttur",
    "two time-scale rates: lr_D 4x lr_G (Heusel et al. 2017), from the run's lr_G",
    lambda cfg: {"optim.lr_g": _lr(cfg, "lr_g"), "optim.lr_d": 4 * _lr(cfg, "lr_g")},
    lambda cfg: _is_gan(cfg) and abs(_lr(cfg, "lr_d") - 4 * _lr(cfg, "lr_g")) > 1e-12,
    answers=(R.TTUR_LOWER_LR,),
)
LOWER_LR = Remedy(
    "lower_lr",
    "both learning rates divided by 4",
    lambda cfg: (
        {"optim.lr_g": _lr(cfg, "lr_g") / 4, "optim.lr_d": _lr(cfg, "lr_d") / 4}
        if _is_gan(cfg)
        else {"optim.lr": _lr(cfg, "lr_model") / 4}
    ),
    answers=(
        R.TTUR_LOWER_LR,
        R.LOWER_LR,
        PH.LOWER_LR_SWITCH,
        SG.DEMOD,
        VD.LOWER_LR,
        TR.LOWER_ADV,
    ),
)
RAISE_D_LR = Remedy(
    "raise_d_lr",
    "the discriminators' learning rate doubled",
    lambda cfg: {"optim.lr_d": 2 * _lr(cfg, "lr_d")},
    _is_gan,
    answers=(TR.ADV_WEIGHT,),
)
R1 = Remedy(
    "r1_penalty",
    "R1 penalty on real data, gamma = 10 (Mescheder et al. 2018)",
    lambda cfg: {"gan.r1": 10.0},
    lambda cfg: _textbook(cfg, "r1") and not _resolved(cfg, "r1") and not _resolved(cfg, "gp"),
    answers=(R.R1,),
)
GRADIENT_PENALTY = Remedy(
    "wgan_gp",
    "Wasserstein loss with gradient penalty lambda = 10 and 5 critic steps",
    lambda cfg: {"gan.loss": "wasserstein", "gan.gp": 10.0, "gan.d_steps": 5, "gan.clip": 0.0},
    lambda cfg: _textbook(cfg, "gp") and not _resolved(cfg, "gp"),
    answers=(R.WGAN_GP,),
)
INSTANCE_NOISE = Remedy(
    "instance_noise",
    "instance noise std 0.1 on D's inputs, annealed to 0 over the branch",
    lambda cfg: {"gan.instance_noise": 0.1, "gan.instance_noise_anneal": 0},
    lambda cfg: _textbook(cfg, "instance_noise") and not _resolved(cfg, "instance_noise"),
    answers=(R.INSTANCE_NOISE,),
)
LABEL_SMOOTHING = Remedy(
    "label_smoothing",
    "one-sided label smoothing: real label 0.9 (Salimans et al. 2016)",
    lambda cfg: {"gan.label_smoothing": 0.1},
    lambda cfg: _bce_family(cfg) and float(_resolved(cfg, "real_label", 1.0)) == 1.0,
    answers=(R.INSTANCE_NOISE,),
)
HINGE = Remedy(
    "hinge_loss",
    "hinge loss for D and G (Lim & Ye 2017; Miyato et al. 2018)",
    lambda cfg: {"gan.loss": "hinge"},
    lambda cfg: _loss_configurable(cfg) and _resolved(cfg, "loss") != "hinge",
    answers=(R.SPECTRAL_HINGE,),
)
SPECTRAL_NORM = Remedy(
    "spectral_norm_hinge",
    "spectral normalisation in D with the hinge loss (Miyato et al. 2018); new networks",
    lambda cfg: {"model.options.spectral_norm": True, "gan.loss": "hinge"},
    lambda cfg: _textbook(cfg, "r1") and _option(cfg, "spectral_norm") is False,
    answers=(R.SPECTRAL_HINGE,),
    fresh_start=True,
)
UNROLLED = Remedy(
    "unrolled",
    "5 unrolled discriminator steps in the generator's update (Metz et al. 2017)",
    lambda cfg: {"gan.unrolled_steps": 5},
    # the trainer's look-ahead does not cover auxiliary heads (ACGAN, InfoGAN) and the
    # unrolled tests cover unconditional models only: asked of the model's capabilities
    lambda cfg: (
        _textbook(cfg, "unrolled_steps")
        and not _resolved(cfg, "unrolled_steps")
        and (caps := _capabilities(cfg)) is not None
        and not caps.conditional
        and not caps.has_aux_head
    ),
    answers=(R.UNROLLED,),
)
FEWER_D_STEPS = Remedy(
    "fewer_d_steps",
    "one discriminator step per generator step",
    lambda cfg: {_gan_key(cfg, "d_steps"): 1},
    lambda cfg: _reads(cfg, "d_steps") and int(_resolved(cfg, "d_steps", 1)) > 1,
    answers=(R.FEWER_D_STEPS,),
)
MORE_D_STEPS = Remedy(
    "more_d_steps",
    "five discriminator steps per generator step",
    lambda cfg: {_gan_key(cfg, "d_steps"): 5},
    lambda cfg: _reads(cfg, "d_steps") and int(_resolved(cfg, "d_steps", 1)) < 5,
    answers=(VD.LOWER_LR,),
)
ADA = Remedy(
    "ada",
    "adaptive discriminator augmentation toward r_t = 0.6 (Karras et al. 2020)",
    lambda cfg: {_gan_key(cfg, "ada"): True},
    lambda cfg: _reads(cfg, "ada") and not _resolved(cfg, "ada") and _images(cfg),
    answers=(R.AUGMENT,),
)
LOWER_ADA_TARGET = Remedy(
    "lower_ada_target",
    "ADA's target r_t lowered by 0.1 (less augmentation for the same overfitting)",
    lambda cfg: {_gan_key(cfg, "ada_target"): round(float(_resolved(cfg, "ada_target")) - 0.1, 6)},
    lambda cfg: bool(_resolved(cfg, "ada")) and float(_resolved(cfg, "ada_target", 0.0)) > 0.35,
    answers=(SG.ADA_DATA,),
)
KL_ANNEAL = Remedy(
    "kl_annealing",
    "KL weight rising linearly from 0 over the branch's first half",
    lambda cfg: {"vae.kl_anneal_steps": -1},  # -1: filled in with half the budget
    lambda cfg: _is_vae(cfg) and not _resolved(cfg, "kl_anneal_steps"),
    answers=(R.KL_ANNEAL,),
)
FREE_BITS = Remedy(
    "free_bits",
    "free bits: a KL floor of 0.25 nats per latent dimension",
    lambda cfg: {"vae.free_bits": 0.25},
    lambda cfg: _is_vae(cfg) and not _resolved(cfg, "free_bits"),
    answers=(R.FREE_BITS,),
)
LOWER_BETA = Remedy(
    "lower_beta",
    "KL weight beta halved",
    lambda cfg: {"vae.beta": float(_resolved(cfg, "beta", 1.0)) / 2},
    _is_vae,
    answers=(R.FEWER_LATENTS,),
)

# -- progressive growing (ProGAN) -----------------------------------------------------------
LINEAR_OUTPUT = Remedy(
    "linear_output",
    "a linear toRGB output instead of tanh (Karras et al. 2018); new networks",
    lambda cfg: {"model.options.output": "linear"},
    lambda cfg: _option(cfg, "output") == "tanh",
    answers=(PH.NO_TANH,),
    fresh_start=True,
)
LONGER_FADE = Remedy(
    "longer_fade",
    "fade-in twice as long; the schedule changes, so the branch trains from the start",
    lambda cfg: {"gan.options.fade_steps": 2 * int(_resolved(cfg, "fade_steps"))},
    lambda cfg: _family_reads(cfg, "fade_steps") and int(_resolved(cfg, "fade_steps")) > 0,
    answers=(PH.LONGER_FADE,),
    fresh_start=True,
)
LINEAR_FADE = Remedy(
    "linear_fade",
    "alpha rising linearly from 0 to 1 over each fade-in",
    lambda cfg: {"gan.options.alpha_schedule": "linear"},
    lambda cfg: (
        _family_reads(cfg, "alpha_schedule") and _resolved(cfg, "alpha_schedule") != "linear"
    ),
    answers=(PH.CHECK_ALPHA,),
)
RESET_OPTIMIZER = Remedy(
    "reset_optimizer",
    "optimiser state reset at each new resolution",
    lambda cfg: {"gan.options.reset_optimizer": True},
    lambda cfg: _family_reads(cfg, "reset_optimizer") and not _resolved(cfg, "reset_optimizer"),
    answers=(PH.LOWER_LR_SWITCH,),
)

# -- StyleGAN-lite ---------------------------------------------------------------------------


def _auto_gamma(cfg: Config) -> float:
    """StyleGAN2-ADA's 'auto' R1 weight: 0.0002 * resolution^2 / batch (Karras et al. 2020)."""
    res = int(_option(cfg, "image_size") or 32)
    batch = int(cfg.get("data", {}).get("batch_size") or 32)
    return 0.0002 * res * res / batch


STYLE_R1 = Remedy(
    "r1_gamma",
    "StyleGAN's lazy R1 penalty at the 'auto' weight 0.0002 * res^2 / batch",
    lambda cfg: {"gan.options.r1_gamma": _auto_gamma(cfg)},
    lambda cfg: _family_reads(cfg, "r1_gamma") and not float(_resolved(cfg, "r1_gamma")),
    answers=(R.R1,),
)
MAPPING_NO_DECAY = Remedy(
    "mapping_no_decay",
    "no weight decay on the mapping network",
    lambda cfg: {"gan.options.map_weight_decay": 0.0},
    lambda cfg: (
        _family_reads(cfg, "map_weight_decay") and float(_resolved(cfg, "map_weight_decay")) > 0
    ),
    answers=(SG.MAPPING_LR,),
)
MAPPING_LR_MUL = Remedy(
    "mapping_lr_mul",
    "the mapping network's learning-rate multiplier 0.01 (Karras et al. 2019); new networks",
    lambda cfg: {"model.options.map_lr_mul": 0.01},
    lambda cfg: _option(cfg, "map_lr_mul") not in (None, 0.01),
    answers=(SG.MAPPING_LR,),
    fresh_start=True,
)
STYLE_MIXING = Remedy(
    "style_mixing",
    "style mixing with probability 0.9",
    lambda cfg: {"gan.options.mixing_prob": 0.9},
    lambda cfg: _family_reads(cfg, "mixing_prob") and float(_resolved(cfg, "mixing_prob")) < 0.9,
    answers=(SG.MIXING,),
)
DEMODULATION = Remedy(
    "demodulation",
    "weight demodulation instead of AdaIN (Karras et al. 2020); new networks",
    lambda cfg: {"model.options.demodulate": True},
    lambda cfg: _option(cfg, "demodulate") is False,
    answers=(SG.DEMOD,),
    fresh_start=True,
)
LOWER_REGULARISERS = Remedy(
    "lower_regularisers",
    "path-length weight and R1 gamma halved",
    lambda cfg: {
        "gan.options.pl_weight": float(_resolved(cfg, "pl_weight")) / 2,
        "gan.options.r1_gamma": float(_resolved(cfg, "r1_gamma")) / 2,
    },
    lambda cfg: _family_reads(cfg, "pl_weight") and _family_reads(cfg, "r1_gamma"),
    answers=(SG.REG_EPS,),
)
FULL_PL_BATCH = Remedy(
    "full_pl_batch",
    "the path-length regulariser on the full batch (pl_batch_shrink 1)",
    lambda cfg: {"gan.options.pl_batch_shrink": 1},
    lambda cfg: (
        _family_reads(cfg, "pl_batch_shrink") and int(_resolved(cfg, "pl_batch_shrink")) > 1
    ),
    answers=(SG.REG_BATCH,),
)

# -- LAPGAN ----------------------------------------------------------------------------------
FULL_RESIDUALS = Remedy(
    "full_residuals",
    "each level's generated residual added at full scale to the upsampled coarse image",
    lambda cfg: {"gan.options.residual_scale": 1.0},
    lambda cfg: (
        _family_reads(cfg, "residual_scale") and float(_resolved(cfg, "residual_scale")) != 1.0
    ),
    answers=(LEVEL_REMEDIES[0],),
)

# -- StackGAN ---------------------------------------------------------------------------------
CA_ON = Remedy(
    "conditioning_augmentation",
    "conditioning augmentation on, KL weight 2 (Zhang et al. 2017); same parameters, so the "
    "branch forks",
    lambda cfg: {"model.options.ca": True, "gan.options.kl_weight": 2.0},
    lambda cfg: _option(cfg, "ca") is False and _family_reads(cfg, "kl_weight"),
    answers=(R.CA_ON,),
)
CA_KL_LOWER = Remedy(
    "lower_ca_kl",
    "the conditioning augmentation's KL weight divided by 4",
    lambda cfg: {"gan.options.kl_weight": float(_resolved(cfg, "kl_weight")) / 4},
    lambda cfg: (
        _option(cfg, "ca") is not False
        and _family_reads(cfg, "kl_weight")
        and float(_resolved(cfg, "kl_weight")) > 0
    ),
    answers=(R.CA_KL_LOWER,),
)
STAGE2_DETAIL = Remedy(
    "stage2_detail",
    "stage II adds its full residual over the upsampled stage-I image (detail_scale 1)",
    lambda cfg: {"model.options.detail_scale": 1.0},
    lambda cfg: _option(cfg, "detail_scale") not in (None, 1.0),
    answers=(LEVEL_REMEDIES[2],),
)
DENSE_EMBEDDING = Remedy(
    "dense_embedding",
    "a dense fixed code per class as the conditioning embedding in place of the one-hot "
    "(embedding dense); new CA and D context layers",
    lambda cfg: {"model.options.embedding": "dense"},
    lambda cfg: _option(cfg, "embedding") == "onehot",
    answers=(CI.G_BLIND[0],),
    fresh_start=True,
)

# -- the video GAN (DVD-GAN) -----------------------------------------------------------------
TEMPORAL_D = Remedy(
    "temporal_d",
    "a temporal discriminator on whole clips (Clark et al. 2019); new networks",
    lambda cfg: {"model.options.temporal": True},
    lambda cfg: _option(cfg, "temporal") is False,
    answers=(VD.TEMPORAL_D,),
    fresh_start=True,
)
TEMPORAL_D_LR = Remedy(
    "temporal_d_lr",
    "the temporal discriminator trained at the discriminators' learning rate",
    lambda cfg: {"optim.lr_d_t": _lr(cfg, "lr_d")},
    lambda cfg: (
        _reads(cfg, "lr_d_t")
        and _option(cfg, "temporal") is not False
        and _resolved(cfg, "lr_d_t") is not None
        and float(_resolved(cfg, "lr_d_t")) != _lr(cfg, "lr_d")
    ),
    answers=(VD.TEMPORAL_D_LR, VD.BALANCE_D, R.BALANCE_DISCRIMINATORS),
)
RECURRENT_G = Remedy(
    "recurrent_g",
    "the generator draws its frames through its Conv-GRUs from one latent per clip "
    "(framewise off, Clark et al. 2019); new networks",
    lambda cfg: {"model.options.framewise": False},
    lambda cfg: _option(cfg, "framewise") is True,
    answers=(VD.RECURRENT_G,),
    fresh_start=True,
)
WHOLE_CLIP_STATE = Remedy(
    "whole_clip_state",
    "the generator's Conv-GRUs carry their state over the whole clip (state_reset 0); same "
    "parameters, so the branch forks",
    lambda cfg: {"model.options.state_reset": 0},
    lambda cfg: bool(_option(cfg, "state_reset")),
    answers=(VD.WHOLE_CLIP_STATE,),
)
LATENT_BN = Remedy(
    "latent_bn",
    "the generator's conditional batch norms read [z; e(y)] (Clark et al. 2019), not the "
    "class alone; new networks",
    lambda cfg: {"model.options.latent_bn": True},
    lambda cfg: _option(cfg, "latent_bn") is False,
    answers=(VD.CLASS_REACHES_G,),
    fresh_start=True,
)
MORE_FRAMES = Remedy(
    "more_frames",
    "D_S samples twice as many frames per clip (at most all of them); new networks",
    lambda cfg: {
        "model.options.k_frames": min(
            int(_option(cfg, "frames")), 2 * int(_option(cfg, "k_frames"))
        )
    },
    lambda cfg: (
        _option(cfg, "k_frames") is not None
        and int(_option(cfg, "k_frames")) < int(_option(cfg, "frames") or 0)
    ),
    answers=(VD.MORE_FRAMES,),
    fresh_start=True,
)

# -- image-to-image (CycleGAN, pix2pix, SRGAN) -----------------------------------------------
LOWER_IDENTITY = Remedy(
    "lower_identity",
    "the identity weight divided by 5 (0.5 -> 0.1)",
    lambda cfg: {"translation.lambda_identity": float(_resolved(cfg, "lambda_identity")) / 5},
    lambda cfg: (
        _translation_uses(cfg, "lambda_identity") and float(_resolved(cfg, "lambda_identity")) > 0
    ),
    answers=(TR.IDENTITY_WEIGHT,),
)
ADD_IDENTITY = Remedy(
    "identity_loss",
    "the identity loss at lambda_identity 0.5 (Zhu et al. 2017)",
    lambda cfg: {"translation.lambda_identity": 0.5},
    lambda cfg: (
        _translation_uses(cfg, "lambda_identity") and float(_resolved(cfg, "lambda_identity")) == 0
    ),
    answers=(TR.ADD_IDENTITY,),
)
SMALLER_INIT = Remedy(
    "smaller_init",
    "re-initialised with init gain 0.02 and the next seed; new networks",
    lambda cfg: {"model.options.init_gain": 0.02, "seed": int(cfg.get("seed", 0)) + 1},
    lambda cfg: _option(cfg, "init_gain") not in (None, 0.02),
    answers=(TR.INIT_GAIN,),
    fresh_start=True,
)
LOWER_CYCLE = Remedy(
    "lower_cycle",
    "the cycle weight halved",
    lambda cfg: {"translation.lambda_cycle": float(_resolved(cfg, "lambda_cycle")) / 2},
    lambda cfg: (
        _translation_uses(cfg, "lambda_cycle") and float(_resolved(cfg, "lambda_cycle")) > 0
    ),
    answers=(TR.LOWER_CYCLE,),
)
RAISE_CYCLE = Remedy(
    "raise_cycle",
    "the cycle weight doubled",
    lambda cfg: {"translation.lambda_cycle": 2 * float(_resolved(cfg, "lambda_cycle"))},
    lambda cfg: _translation_uses(cfg, "lambda_cycle"),
    answers=(TR.RAISE_RECON,),
)
RAISE_L1 = Remedy(
    "raise_l1",
    "the L1 reconstruction weight raised (to the model's default 100 when it was lower)",
    lambda cfg: {
        "translation.lambda_l1": max(
            float(_training(cfg).get("lambda_l1", 100.0)),
            2 * float(_resolved(cfg, "lambda_l1")),
        )
    },
    lambda cfg: _translation_uses(cfg, "lambda_l1"),
    answers=(TR.RAISE_RECON,),
)
STRONGER_D = Remedy(
    "deeper_d",
    "one more discriminator layer (a larger receptive field); new networks",
    lambda cfg: {"model.options.d_layers": int(_option(cfg, "d_layers")) + 1},
    lambda cfg: _option(cfg, "d_layers") is not None,
    answers=(TR.STRONGER_D,),
    fresh_start=True,
)
PRETRAIN = Remedy(
    "pretrain",
    "generator pre-trained on pixel MSE from the fork over half the budget, then the "
    "adversarial phase (SRResNet)",
    lambda cfg: {"translation.pretrain_steps": -1},  # -1: filled in from the fork and budget
    lambda cfg: (
        _translation_uses(cfg, "pretrain_steps") and not int(_resolved(cfg, "pretrain_steps"))
    ),
    answers=(TR.PRETRAIN,),
)
LOWER_ADV = Remedy(
    "lower_adv",
    "the adversarial weight divided by 10",
    lambda cfg: {"translation.lambda_adv": float(_resolved(cfg, "lambda_adv")) / 10},
    lambda cfg: _translation_uses(cfg, "lambda_adv") and float(_resolved(cfg, "lambda_adv")) > 0,
    answers=(TR.LOWER_ADV,),
)

#: per detector, the remedies in the order practitioners try them (first = named first)
CATALOG: dict[str, tuple[Remedy, ...]] = {
    "vanishing_gradients": (
        NON_SATURATING,
        INSTANCE_NOISE,
        FEWER_D_STEPS,
        HINGE,
        TTUR,
        GRADIENT_PENALTY,
        LABEL_SMOOTHING,
        SPECTRAL_NORM,
    ),
    "mode_collapse": (UNROLLED, R1, TTUR, FEWER_D_STEPS, HINGE, STYLE_R1, SPECTRAL_NORM),
    "sample_coverage": (UNROLLED, R1, TTUR, FEWER_D_STEPS, HINGE, STYLE_R1, SPECTRAL_NORM),
    "non_convergence": (
        R1,
        TTUR,
        LOWER_LR,
        HINGE,
        UNROLLED,
        STYLE_R1,
        NON_SATURATING,
        SPECTRAL_NORM,
    ),
    "oscillation": (R1, TTUR, LOWER_LR, HINGE, UNROLLED, STYLE_R1, NON_SATURATING, SPECTRAL_NORM),
    "exploding_gradients": (GRADIENT_PENALTY, LOWER_LR, HINGE, SPECTRAL_NORM),
    "nonfinite": (LOWER_LR, GRADIENT_PENALTY, R1),
    "d_overfitting": (ADA, R1, STYLE_R1, INSTANCE_NOISE, LABEL_SMOOTHING),
    "posterior_collapse": (KL_ANNEAL, FREE_BITS, LOWER_BETA),
    "stalled_training": (LOWER_LR, MORE_D_STEPS),
    "discriminator_imbalance": (
        TEMPORAL_D_LR,
        NON_SATURATING,
        INSTANCE_NOISE,
        LABEL_SMOOTHING,
        FEWER_D_STEPS,
    ),
    # progressive growing
    "transition_instability": (LINEAR_OUTPUT, LONGER_FADE, RESET_OPTIMIZER, LOWER_LR),
    "fade_in": (LINEAR_FADE, LONGER_FADE),
    # StyleGAN-lite
    "w_collapse": (MAPPING_NO_DECAY, MAPPING_LR_MUL),
    "noise_dominated": (MAPPING_NO_DECAY, MAPPING_LR_MUL),
    "mixing_no_effect": (STYLE_MIXING, MAPPING_NO_DECAY, MAPPING_LR_MUL),
    "channel_spike": (DEMODULATION, LOWER_LR),
    "augment_runaway": (LOWER_ADA_TARGET,),
    "regularizer_blowup": (LOWER_REGULARISERS, FULL_PL_BATCH),
    # LAPGAN
    "level_copy": (FULL_RESIDUALS, STAGE2_DETAIL),
    # StackGAN
    "ca_collapse": (CA_ON, CA_KL_LOWER),
    "condition_ignored": (DENSE_EMBEDDING,),
    "class_collapse": (CA_ON,),
    # video
    "frozen_video": (TEMPORAL_D, TEMPORAL_D_LR),
    "looping_video": (WHOLE_CLIP_STATE, MORE_FRAMES, TEMPORAL_D),
    "temporal_flicker": (RECURRENT_G, TEMPORAL_D, LOWER_LR, MORE_FRAMES),
    "d_imbalance": (TEMPORAL_D_LR, LOWER_LR, MORE_D_STEPS),
    "class_concentration": (TEMPORAL_D, LATENT_BN, TTUR, LOWER_LR),
    # image-to-image
    "identity_mapping": (LOWER_IDENTITY, RAISE_D_LR),
    "colour_inversion": (ADD_IDENTITY, SMALLER_INIT, LOWER_LR),
    "steganography": (LOWER_CYCLE, STRONGER_D, INSTANCE_NOISE, LABEL_SMOOTHING),
    "translation_collapse": (RAISE_L1, RAISE_CYCLE, TTUR, LOWER_LR, INSTANCE_NOISE),
    "content_lost": (RAISE_L1, RAISE_CYCLE, ADD_IDENTITY, LOWER_LR),
    "sr_no_gain": (PRETRAIN, LOWER_ADV, LOWER_LR),
    "ignored_noise": (),
}

_CONTROL = "doctor's control branch continues the run from its last healthy checkpoint unchanged"
_NO_OPTION = "the reference trainer has no setting for it"
#: remedy texts doctor cannot try as a settings change, with the reason
ADVICE_ONLY: dict[str, str] = {
    R.RESTART: _CONTROL,
    CI.D_BLIND[0]: f"a change of the discriminator's loss or architecture; {_NO_OPTION}",
    CI.ANY_BLIND[0]: "a check of the training code, not a setting",
    CI.CLASS_COLLAPSE_REMEDIES[1]: f"a check of the code or a new loss term; {_NO_OPTION}",
    SG.RESTART: _CONTROL,
    R.GRAD_CLIP: f"a check of the code; {_NO_OPTION} (gradient-norm clipping)",
    R.CHECK_INPUTS: "a check of the data and the loss code, not a setting",
    R.CHECK_OPTIMIZER: "a check of the training code, not a setting",
    R.WEAKER_DECODER: f"an architecture change; {_NO_OPTION}",
    TR.UPSAMPLING: f"an architecture change; {_NO_OPTION}",
    TR.PERTURB_CYCLE: f"{_NO_OPTION} (noise before the inverse generator)",
    TR.LATENT_NOISE: f"a different model (BicycleGAN); {_NO_OPTION}",
    SG.NOISE: f"{_NO_OPTION} (per-layer noise strengths)",
    SG.ADA_PIPE: f"{_NO_OPTION} (the augmentation pipeline, a cap on p)",
    VD.GRU_NOISE: f"an architecture change; {_NO_OPTION}",
    VD.SHUFFLE_NEGATIVES: f"{_NO_OPTION} (shuffled-clip negatives)",
    VD.NO_BN_IN_D: "the reference discriminators already use spectral norm, not batch norm",
    LEVEL_REMEDIES[1]: f"{_NO_OPTION} (per-level learning rates)",
    R.CA_SLICES: "a check of the conditioning code, not a setting",
}


def remedies_for(detector: str, config: Config) -> list[Remedy]:
    """The catalogued remedies for ``detector`` that this run's loop supports, in order."""
    known = CATALOG.get(detector)
    if known is None:
        valid = ", ".join(sorted(CATALOG))
        raise ValueError(
            f"doctor has no remedies for detector {detector!r}; it knows {valid}. Pass "
            "--alert with one of those, or supply remedies through gandiag.doctor.run_branches"
        )
    return [r for r in known if r.applies(config)]

"""Registry entries of the growing and style-based families (progressive growing, StyleGAN-lite,
LAPGAN, StackGAN-lite). Each names its own training loop (``training["stepper"]``,
see :mod:`gandiag.train.family`); its loop settings are overridable in ``[gan.options]``.
"""

from __future__ import annotations

from typing import Any

from gandiag.capabilities import ModelCapabilities
from gandiag.reference_models.lapgan import LAPGANDiscriminator, LAPGANGenerator
from gandiag.reference_models.progan import ProGANDiscriminator, ProGANGenerator
from gandiag.reference_models.registry import ModelBundle, ModelSpec, register_model
from gandiag.reference_models.stackgan import STAGES, StackGANDiscriminator, StackGANGenerator
from gandiag.reference_models.stylegan import StyleGANDiscriminator, StyleGANGenerator
from gandiag.roles import Role

_SHAPE = {"image_size": 32, "channels": 1}


def _progan(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    g = ProGANGenerator(
        int(opts["latent_dim"]),
        int(opts["image_size"]),
        int(opts["channels"]),
        int(opts["width"]),
        pixel_norm=bool(opts["pixel_norm"]),
        output=str(opts["output"]),
    )
    d = ProGANDiscriminator(int(opts["image_size"]), int(opts["channels"]), int(opts["width"]))
    return ModelBundle(name, "gan", int(opts["latent_dim"]), opts, training, g, d)


def _stylegan(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    g = StyleGANGenerator(
        int(opts["latent_dim"]),
        int(opts["image_size"]),
        int(opts["channels"]),
        int(opts["width"]),
        w_dim=int(opts["w_dim"]),
        map_layers=int(opts["map_layers"]),
        map_lr_mul=float(opts["map_lr_mul"]),
        demodulate=bool(opts["demodulate"]),
        resample=str(opts["resample"]),
        rgb_bias=str(opts["rgb_bias"]),
        architecture=str(opts["g_architecture"]),
    )
    d = StyleGANDiscriminator(
        int(opts["image_size"]),
        int(opts["channels"]),
        int(opts["width"]),
        architecture=str(opts["d_architecture"]),
        resample=str(opts["resample"]),
        mbstd_group=int(opts["mbstd_group"]),
    )
    return ModelBundle(name, "gan", int(opts["latent_dim"]), opts, training, g, d)


def _lapgan(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    size, ch, width, levels = (int(opts[k]) for k in ("image_size", "channels", "width", "levels"))
    g = LAPGANGenerator(int(opts["latent_dim"]), size, ch, width, levels)
    d = LAPGANDiscriminator(size, ch, width, levels)
    return ModelBundle(name, "gan", int(opts["latent_dim"]), opts, training, g, d)


register_model(
    ModelSpec(
        "lapgan",
        "gan",
        "LAPGAN: Laplacian pyramid of GANs (8/16/32), conditional G and D per level on the "
        "coarse image, levels trained on the real pyramid and sampled coarse to fine",
        "Denton et al. 2015",
        _lapgan,
        {**_SHAPE, "latent_dim": 64, "width": 32, "levels": 3},
        {
            "stepper": "lapgan",
            "detectors": ("level_copy",),
            "loss": "nonsaturating",
            "optimizer": "adam",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "betas": (0.5, 0.999),
        },
    )
)


def _stackgan(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    size, ch, width, c_dim = (int(opts[k]) for k in ("image_size", "channels", "width", "c_dim"))
    if size != 32:
        raise ValueError(
            f"stackgan builds 16 px stage-I and 32 px stage-II images; image_size must be 32, "
            f"got {size} (set data.options.image_size = 32)"
        )
    classes = int(opts["num_classes"])
    g = StackGANGenerator(
        int(opts["latent_dim"]),
        classes,
        c_dim,
        width,
        ch,
        augment=bool(opts["ca"]),
        detail_scale=float(opts["detail_scale"]),
        t_dim=int(opts["t_dim"]),
        embedding=str(opts["embedding"]),
    )
    d = StackGANDiscriminator(
        size, classes, c_dim, width, ch, t_dim=int(opts["t_dim"]), embedding=str(opts["embedding"])
    )
    return ModelBundle(
        name, "gan", int(opts["latent_dim"]), opts, training, g, d, num_classes=classes
    )


register_model(
    ModelSpec(
        "stackgan",
        "gan",
        "StackGAN-lite: a fixed dense class code as the text embedding, conditioning augmentation "
        "(KL x2), "
        "16 px stage I then 32 px stage II on stage I and the condition, matching-aware D "
        "(wrong pairs)",
        "Zhang et al. 2017",
        _stackgan,
        {
            **_SHAPE,
            "latent_dim": 32,
            "num_classes": 10,
            "c_dim": 128,
            "width": 32,
            "ca": True,
            "detail_scale": 1.0,
            "t_dim": 1024,
            "embedding": "dense",
        },
        {
            "stepper": "stackgan",
            "detectors": ("ca_collapse", "level_copy"),
            "loss": "nonsaturating",
            "optimizer": "adam",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "betas": (0.5, 0.999),
        },
        ModelCapabilities(
            conditional=True,
            conditional_discriminator=True,
            networks_per_role={Role.DISCRIMINATOR: 2},
            phases=STAGES,
        ),
    )
)
register_model(
    ModelSpec(
        "progan",
        "gan",
        "progressive growing 4->8->16->32 with fade-in, pixel norm, minibatch stddev, "
        "equalised lr, WGAN-GP + drift, EMA G",
        "Karras et al. 2018",
        _progan,
        {**_SHAPE, "latent_dim": 64, "width": 32, "pixel_norm": True, "output": "linear"},
        {
            "stepper": "progan",
            "detectors": ("transition_instability", "fade_in"),
            "loss": "wasserstein",
            "optimizer": "adam",
            "lr_g": 1e-3,
            "lr_d": 1e-3,
            "betas": (0.0, 0.99),
        },
        ModelCapabilities(phases=("res4", "res8", "res16", "res32")),
    )
)
register_model(
    ModelSpec(
        "stylegan",
        "gan",
        "StyleGAN-lite: mapping net (lr x0.01), modulated conv + demodulation, noise inputs, "
        "style mixing, lazy R1 + path-length reg, truncation, optional ADA",
        "Karras et al. 2019, 2020",
        _stylegan,
        {
            **_SHAPE,
            "latent_dim": 64,
            "w_dim": 64,
            "width": 32,
            "map_layers": 2,
            "map_lr_mul": 0.01,
            "demodulate": True,
            "resample": "nearest",
            "d_architecture": "orig",
            "mbstd_group": 4,
            "rgb_bias": "shared",
            "g_architecture": "skip",
        },
        {
            "stepper": "stylegan",
            "detectors": (
                "w_collapse",
                "noise_dominated",
                "mixing_no_effect",
                "channel_spike",
                "regularizer_blowup",
                "augment_runaway",
            ),
            "loss": "nonsaturating",
            "optimizer": "adam",
            "lr_g": 2.5e-3,
            "lr_d": 2.5e-3,
            "betas": (0.0, 0.99),
        },
    )
)

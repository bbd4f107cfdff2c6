"""Image-to-image models in the registry: CycleGAN, pix2pix and SRGAN.

A :class:`TranslationBundle` holds several generators and discriminators by name and
says what its training loop needs (``task``: unpaired domains, aligned pairs or
low/high-resolution pairs). Names follow the references: CycleGAN's ``G_AB`` (A -> B),
``G_BA``, ``D_A``, ``D_B``; pix2pix and SRGAN have one ``G`` and one ``D``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from gandiag.capabilities import ModelCapabilities
from gandiag.reference_models.cyclegan import ResnetGenerator
from gandiag.reference_models.patchgan import PatchGAN, init_weights
from gandiag.reference_models.pix2pix import UnetGenerator
from gandiag.reference_models.registry import ModelBundle, ModelSpec, register_model
from gandiag.reference_models.srgan import SRDiscriminator, SRResNet

#: which translation task each family trains on (see gandiag.data.translation.TASKS)
TASK_OF = {"cyclegan": "unpaired", "pix2pix": "paired", "srgan": "super_resolution"}


@dataclass
class TranslationBundle(ModelBundle):
    """Generators and discriminators by name; ``generator``/``discriminator`` are the main pair."""

    task: str = "paired"
    generators: dict[str, nn.Module] = field(default_factory=dict)
    discriminators: dict[str, nn.Module] = field(default_factory=dict)
    #: each generator's inverse by name, for a cycle-consistent pair (CycleGAN: G_AB and
    #: G_BA); empty for a one-way translator. The probes, the evaluation and the grids ask
    #: this, not the model's name, for the cycle signals and the reconstruction row.
    inverses: dict[str, str] = field(default_factory=dict)

    def networks(self) -> dict[str, nn.Module]:
        return {**self.generators, **self.discriminators}

    def inverse(self, name: str) -> nn.Module | None:
        """The generator that maps ``name``'s outputs back to its inputs, if any."""
        other = self.inverses.get(name)
        return None if other is None else self.generators[other]

    @property
    def conditional(self) -> bool:  # conditioned on images, not on class labels
        return False


def _bundle(
    name: str,
    opts: dict[str, Any],
    training: dict[str, Any],
    gens: dict[str, nn.Module],
    discs: dict[str, nn.Module],
    inverses: dict[str, str] | None = None,
) -> TranslationBundle:
    gain = float(opts.get("init_gain", 0.02))
    for net in (*gens.values(), *discs.values()):
        if name != "srgan":  # SRGAN keeps PyTorch's default init, as its references do
            init_weights(net, gain)
    first_g, first_d = next(iter(gens.values())), next(iter(discs.values()))
    return TranslationBundle(
        name=name,
        kind="translation",
        latent_dim=0,
        options=opts,
        training=training,
        generator=first_g,
        discriminator=first_d,
        task=TASK_OF[name],
        generators=gens,
        discriminators=discs,
        inverses=dict(inverses or {}),
    )


def _cyclegan(name: str, opts: dict[str, Any], training: dict[str, Any]) -> TranslationBundle:
    c = int(opts["channels"])

    def gen() -> nn.Module:
        return ResnetGenerator(c, c, width=opts["width"], n_blocks=opts["n_blocks"])

    def disc() -> nn.Module:
        return PatchGAN(c, width=opts["d_width"], n_layers=opts["d_layers"], norm="instance")

    return _bundle(
        name,
        opts,
        training,
        {"G_AB": gen(), "G_BA": gen()},
        {"D_B": disc(), "D_A": disc()},
        inverses={"G_AB": "G_BA", "G_BA": "G_AB"},
    )


def _pix2pix(name: str, opts: dict[str, Any], training: dict[str, Any]) -> TranslationBundle:
    c = int(opts["channels"])
    g = UnetGenerator(c, c, width=opts["width"], depth=opts["depth"], dropout=opts["dropout"])
    d = PatchGAN(2 * c, width=opts["d_width"], n_layers=opts["d_layers"], norm="batch")
    return _bundle(name, opts, training, {"G": g}, {"D": d})


def _srgan(name: str, opts: dict[str, Any], training: dict[str, Any]) -> TranslationBundle:
    c = int(opts["channels"])
    g = SRResNet(c, scale=int(opts["scale"]), width=opts["width"], n_blocks=opts["n_blocks"])
    d = SRDiscriminator(c, width=opts["d_width"], image_size=int(opts["image_size"]))
    return _bundle(name, opts, training, {"G": g}, {"D": d})


_SHAPE = {"channels": 1, "image_size": 28}
register_model(
    ModelSpec(
        "cyclegan",
        "translation",
        "CycleGAN: 2 ResNet G, 2 PatchGANs (16 px field), LSGAN, cycle 10, identity 0.5, pool 50",
        "Zhu et al. 2017",
        _cyclegan,
        {**_SHAPE, "width": 8, "n_blocks": 3, "d_width": 16, "d_layers": 1, "init_gain": 0.02},
        {
            "loss": "lsgan",
            "optimizer": "adam",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "betas": (0.5, 0.999),
            "lambda_cycle": 10.0,
            "lambda_identity": 0.5,  # times lambda_cycle, as the reference's option
            "pool_size": 50,
        },
        capabilities=ModelCapabilities(
            paired_input=True, networks_per_role={"generator": 2, "discriminator": 2}
        ),
    )
)
register_model(
    ModelSpec(
        "pix2pix",
        "translation",
        "pix2pix: U-Net G with dropout as its only noise, PatchGAN on (input, output), L1 100",
        "Isola et al. 2017",
        _pix2pix,
        {
            **_SHAPE,
            "width": 8,
            "depth": 5,
            "dropout": 0.5,
            "d_width": 16,
            "d_layers": 1,
            "init_gain": 0.02,
        },
        {
            "loss": "nonsaturating",  # the reference's gan_mode='vanilla'
            "optimizer": "adam",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "betas": (0.5, 0.999),
            "lambda_l1": 100.0,
        },
        capabilities=ModelCapabilities(paired_input=True, paired_discriminator=True),
    )
)
register_model(
    ModelSpec(
        "srgan",
        "translation",
        "SRGAN: SRResNet G with PixelShuffle; MSE pre-training, then content + 1e-3 adversarial",
        "Ledig et al. 2017",
        _srgan,
        {**_SHAPE, "scale": 2, "width": 16, "n_blocks": 3, "d_width": 16},
        {
            "loss": "nonsaturating",
            "optimizer": "adam",
            "lr_g": 1e-4,
            "lr_d": 1e-4,
            "betas": (0.9, 0.999),
            "pretrain_steps": 200,
            "lambda_adv": 1e-3,
            "lambda_content": 0.01,
        },
        capabilities=ModelCapabilities(paired_input=True),
    )
)

"""The registered reference models, with the settings their papers used.

Every GAN accepts ``arch="mlp"`` (2-D points, or flattened images) or ``arch="conv"``
(the DCGAN backbone). The data shape comes from ``data_dim`` (vectors) or
``channels`` and ``image_size`` (images); the trainer fills these from the dataset.
"""

from __future__ import annotations

from typing import Any

from gandiag.capabilities import ModelCapabilities
from gandiag.reference_models.autoencoders import VAE, Autoencoder, make_decoder, make_encoder
from gandiag.reference_models.dcgan import DCGANDiscriminator, DCGANGenerator
from gandiag.reference_models.mlp import MLPDiscriminator, MLPGenerator
from gandiag.reference_models.registry import ModelBundle, ModelSpec, get_spec, register_model

ARCHS = ("mlp", "conv")

_SHAPE = {"data_dim": None, "image_size": 28, "channels": 1}
_MLP_GAN = {
    "arch": "mlp",
    "latent_dim": 16,
    "hidden": 128,
    "depth": 2,
    "width": 64,
    "d_norm": "batch",
    "spectral_norm": False,
    **_SHAPE,
    "data_dim": 2,
    "image_size": None,
}
_CONV_GAN = {**_MLP_GAN, "arch": "conv", "latent_dim": 100, "data_dim": None, "image_size": 28}
_ADAM = {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}
_GAN_TRAIN = {**_ADAM, "loss": "nonsaturating", "d_steps": 1}


def data_shape(opts: dict[str, Any]) -> tuple[int, ...]:
    """``(data_dim,)`` for vector data, else ``(channels, image_size, image_size)``."""
    if opts.get("data_dim"):
        if opts["arch"] == "conv":
            raise ValueError(
                "the conv architecture needs images (image_size, channels) but data_dim is set; "
                "use arch='mlp' for vector data such as the 2-D datasets"
            )
        return (int(opts["data_dim"]),)
    if not opts.get("image_size"):
        raise ValueError("set either data_dim (vector data) or image_size and channels (images)")
    return (int(opts["channels"]), int(opts["image_size"]), int(opts["image_size"]))


def _check_arch(opts: dict[str, Any]) -> str:
    if opts["arch"] not in ARCHS:
        raise ValueError(f"unknown arch {opts['arch']!r}; choose one of {', '.join(ARCHS)}")
    return opts["arch"]


def _gan_factory(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    arch, shape = _check_arch(opts), data_shape(opts)
    classes = int(opts.get("num_classes", 0))
    n_cat, n_cont = int(opts.get("info_categories", 0)), int(opts.get("info_continuous", 0))
    latent = int(opts["latent_dim"]) + n_cat + n_cont
    # A conditional D takes the labels (cgan); an auxiliary classifier predicts them (acgan);
    # latent codes are recovered by D's Q head (infogan).
    caps = get_spec(name).capabilities
    cond_d = classes if caps.conditional_discriminator else 0
    aux = classes if caps.aux_classifier else n_cat + n_cont
    if arch == "mlp":
        g = MLPGenerator(
            latent,
            shape,
            hidden=opts["hidden"],
            depth=opts["depth"],
            num_classes=classes,
            output="linear" if len(shape) == 1 else "tanh",
        )
        d = MLPDiscriminator(
            shape,
            hidden=opts["hidden"],
            depth=opts["depth"],
            num_classes=cond_d,
            aux_dim=aux,
            spectral_norm=opts["spectral_norm"],
        )
    else:
        g = DCGANGenerator(
            latent,
            image_size=shape[-1],
            channels=shape[0],
            width=opts["width"],
            num_classes=classes,
        )
        d = DCGANDiscriminator(
            image_size=shape[-1],
            channels=shape[0],
            width=opts["width"],
            num_classes=cond_d,
            aux_dim=aux,
            norm=opts["d_norm"],
            spectral_norm=opts["spectral_norm"],
        )
    return ModelBundle(
        name=name,
        kind="gan",
        latent_dim=latent,
        options=opts,
        training=training,
        generator=g,
        discriminator=d,
        num_classes=classes,
        info_codes=(n_cat, n_cont),
    )


def _autoencoder_factory(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    arch, shape = _check_arch(opts), data_shape(opts)
    latent = int(opts["latent_dim"])
    variational = "decoder_sigma" in opts
    sizes = {"hidden": opts["hidden"], "depth": opts["depth"], "width": opts["width"]}
    encoder = make_encoder(arch, shape, 2 * latent if variational else latent, **sizes)
    decoder = make_decoder(
        arch, shape, latent, output="linear" if len(shape) == 1 else "tanh", **sizes
    )
    if variational:
        model = VAE(
            encoder, decoder, latent, decoder_sigma=opts["decoder_sigma"], beta=opts["beta"]
        )
    else:
        model = Autoencoder(encoder, decoder, latent, noise_std=opts["noise_std"])
    return ModelBundle(
        name=name,
        kind="vae" if variational else "ae",
        latent_dim=latent,
        options=opts,
        training=training,
        model=model,
    )


def _gan(
    name: str,
    summary: str,
    reference: str,
    options: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    base: dict[str, Any] = _CONV_GAN,
    capabilities: ModelCapabilities | None = None,
) -> None:
    register_model(
        ModelSpec(
            name,
            "gan",
            summary,
            reference,
            _gan_factory,
            {**base, **(options or {})},
            {**_GAN_TRAIN, **(training or {})},
            capabilities or ModelCapabilities(),
        )
    )


_gan(
    "mlp_gan",
    "MLP GAN for 2-D data; minimax (saturating) or non-saturating G loss",
    "Goodfellow et al. 2014",
    base=_MLP_GAN,
)
_gan(
    "dcgan",
    "DCGAN: strided (transposed) convolutions, batch norm, non-saturating loss",
    "Radford et al. 2016",
)
_gan(
    "lsgan",
    "least-squares GAN on the DCGAN backbone",
    "Mao et al. 2017",
    training={"loss": "lsgan"},
)
_gan(
    "wgan",
    "Wasserstein GAN with weight clipping, 5 critic steps, RMSProp",
    "Arjovsky et al. 2017",
    training={
        "loss": "wasserstein",
        "clip": 0.01,
        "d_steps": 5,
        "optimizer": "rmsprop",
        "lr_g": 5e-5,
        "lr_d": 5e-5,
    },
)
_gan(
    "wgan_gp",
    "Wasserstein GAN with gradient penalty (lambda 10), layer-norm critic",
    "Gulrajani et al. 2017",
    options={"d_norm": "layer"},
    training={
        "loss": "wasserstein",
        "gp": 10.0,
        "d_steps": 5,
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas": (0.0, 0.9),
    },
)
_gan(
    "hinge_sn",
    "hinge loss with spectral normalisation in the discriminator",
    "Miyato et al. 2018",
    options={"d_norm": "none", "spectral_norm": True},
    training={"loss": "hinge"},
)


def _conditional_gan(
    name: str,
    summary: str,
    reference: str,
    training: dict[str, Any] | None = None,
    **capabilities: bool,
) -> None:
    """A class-conditional GAN; ``num_classes`` defaults to the dataset's (10 for glyphs)."""
    caps = ModelCapabilities(conditional=True, **capabilities)
    _gan(name, summary, reference, {"num_classes": 10}, training, capabilities=caps)


_conditional_gan(
    "cgan",
    "conditional GAN: one-hot labels concatenated to G's z and D's input",
    "Mirza & Osindero 2014",
    conditional_discriminator=True,
)
_conditional_gan(
    "acgan",
    "auxiliary-classifier GAN: conditional G, D also predicts the class",
    "Odena et al. 2017",
    {"aux_weight": 1.0},
    aux_classifier=True,
)
_gan(
    "infogan",
    "InfoGAN: D's Q head recovers a categorical and continuous codes",
    "Chen et al. 2016",
    options={"latent_dim": 62, "info_categories": 10, "info_continuous": 2},
    training={"info_weight": 1.0},
    capabilities=ModelCapabilities(latent_codes=True),
)
_gan(
    "unrolled_gan",
    "unrolled GAN: G's loss sees D after k look-ahead steps",
    "Metz et al. 2017",
    base=_MLP_GAN,
    # Metz et al. 2017, appendix A (8-Gaussian ring): 10 unrolling steps, Adam 1e-4 with
    # beta1 0.5 for both nets. Their z is 256-d and their D has one hidden layer; this MLP
    # keeps the family's z=16 and 2x128 D (see docs/models.md for what that reaches).
    training={"unrolled_steps": 10, "lr_g": 1e-4, "lr_d": 1e-4},
)

_AE = {"arch": "mlp", "latent_dim": 16, "hidden": 512, "depth": 2, "width": 32, **_SHAPE}
_AE_TRAIN = {"optimizer": "adam", "lr": 1e-3, "betas": (0.9, 0.999)}


def _autoencoder(name: str, summary: str, reference: str, options: dict[str, Any]) -> None:
    kind = "vae" if "decoder_sigma" in options else "ae"
    register_model(
        ModelSpec(
            name,
            kind,
            summary,
            reference,
            _autoencoder_factory,
            {**_AE, **options},
            dict(_AE_TRAIN),
        )
    )


_VAE = {"decoder_sigma": 0.1, "beta": 1.0}
_autoencoder(
    "ae", "autoencoder (deterministic latent)", "Hinton & Salakhutdinov 2006", {"noise_std": 0.0}
)
_autoencoder(
    "dae",
    "denoising autoencoder (Gaussian input corruption)",
    "Vincent et al. 2008",
    {"noise_std": 0.3},
)
_autoencoder(
    "vae", "VAE with MLP encoder/decoder and Gaussian likelihood", "Kingma & Welling 2014", _VAE
)
_autoencoder(
    "conv_vae",
    "VAE with convolutional encoder and DCGAN-style decoder",
    "Kingma & Welling 2014",
    {**_VAE, "arch": "conv", "latent_dim": 32},
)
_autoencoder(
    "beta_vae", "beta-VAE (KL weighted by beta = 4)", "Higgins et al. 2017", {**_VAE, "beta": 4.0}
)

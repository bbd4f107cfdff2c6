"""The model registry: each reference model is a :class:`ModelSpec` registered by name.

A spec holds the architecture options (overridable as keyword arguments of
:func:`build_model`) and the training defaults its paper used (objective, critic steps,
optimiser, learning rates), which the trainer applies unless the config overrides them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gandiag.capabilities import ModelCapabilities
from gandiag.registry import Registry, did_you_mean, instance_of

KINDS = ("gan", "vae", "ae", "translation")


@dataclass
class ModelBundle:
    """The networks of one reference model and what a training loop needs to drive them.

    GANs fill ``generator`` and ``discriminator``; VAEs and autoencoders fill ``model``.
    ``num_classes > 0`` marks a class-conditional generator (cgan, acgan), which takes
    ``(z, y)``. InfoGAN's latent is ``[noise, one-hot code, continuous codes]``;
    :meth:`sample_latent` draws it with the right distribution for every model.
    """

    name: str
    kind: str
    latent_dim: int
    options: dict[str, Any]
    training: dict[str, Any]
    generator: nn.Module | None = None
    discriminator: nn.Module | None = None
    model: nn.Module | None = None
    num_classes: int = 0
    info_codes: tuple[int, int] = (0, 0)  # InfoGAN: (categories of the code, continuous codes)
    capabilities: ModelCapabilities = field(default_factory=ModelCapabilities)

    @property
    def conditional(self) -> bool:
        return self.kind == "gan" and self.num_classes > 0

    def require(self, network: str) -> nn.Module:
        """The bundle's ``generator``, ``discriminator`` or ``model``, which a training loop
        needs (a clear error, not an AttributeError on None, where the bundle lacks it)."""
        net = getattr(self, network)
        if net is None:
            raise ValueError(
                f"model {self.name!r} (kind {self.kind!r}) has no {network}; "
                "GANs fill generator and discriminator, VAEs and autoencoders fill model"
            )
        return net

    def networks(self) -> dict[str, nn.Module]:
        """The trainable networks by name (``G``/``D`` or ``model``), e.g. for checkpoints."""
        if self.kind == "gan":
            return {"G": self.generator, "D": self.discriminator}
        return {"model": self.model}

    def to(self, device: torch.device | str) -> ModelBundle:
        for net in self.networks().values():
            net.to(device)
        return self

    def sample_latent(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``(z [n, latent_dim], labels [n] or None)`` from the model's prior.

        Labels are uniform over the classes for conditional models; InfoGAN's code part of
        ``z`` is a uniform one-hot category followed by Uniform(-1, 1) continuous codes.
        """
        z = torch.randn(n, self.latent_dim, device=device, generator=generator)
        y = None
        if self.conditional:
            y = torch.randint(0, self.num_classes, (n,), device=device, generator=generator)
        n_cat, n_cont = self.info_codes
        if n_cat or n_cont:
            noise_dim = self.latent_dim - n_cat - n_cont
            cat = torch.randint(0, n_cat, (n,), device=device, generator=generator)
            z[:, noise_dim : noise_dim + n_cat] = nn.functional.one_hot(cat, n_cat).to(z.dtype)
            cont = torch.rand(n, n_cont, device=device, generator=generator) * 2 - 1
            z[:, noise_dim + n_cat :] = cont
        return z, y

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Samples for latents ``z``: the generator's for GANs, the decoder's for VAEs/AEs."""
        if self.kind == "gan":
            return self.generator(z, y) if self.conditional else self.generator(z)
        return self.model.decode(z)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    summary: str
    reference: str
    factory: Callable[[str, dict[str, Any], dict[str, Any]], ModelBundle]
    options: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    #: what the networks take and predict; the trainer asks these, never the name
    capabilities: ModelCapabilities = field(default_factory=ModelCapabilities)


#: The model registry: name -> ModelSpec (see gandiag.registry for its rules).
MODELS: Registry[ModelSpec] = Registry("model", check=instance_of(ModelSpec))


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS`; a second spec with the same name is an error."""
    if spec.kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, got {spec.kind!r}")
    return MODELS.register(spec.name, spec)


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The spec registered as ``name``; an unknown name lists the valid ones."""
    return MODELS.lookup(name)


def build_model(name: str, *, seed: int | None = None, **options: Any) -> ModelBundle:
    """Build the reference model ``name`` with ``options`` overriding its spec's defaults.

    ``seed`` fixes the initial weights without touching the caller's global RNG state.

    >>> bundle = build_model("dcgan", image_size=32, channels=1, latent_dim=64)  # doctest: +SKIP
    >>> bundle.generator(torch.randn(4, 64)).shape  # doctest: +SKIP
    torch.Size([4, 1, 32, 32])
    """
    spec = get_spec(name)
    for key in options:
        if key not in spec.options:
            raise ValueError(
                f"model {name!r} has no option {key!r}{did_you_mean(key, spec.options)}; "
                f"its options are: {', '.join(sorted(spec.options))}"
            )
    resolved = {**spec.options, **options}
    if seed is None:
        bundle = spec.factory(name, resolved, dict(spec.training))
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            bundle = spec.factory(name, resolved, dict(spec.training))
    bundle.capabilities = spec.capabilities
    return bundle

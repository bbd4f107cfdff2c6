"""What a model or a dataset can do, declared with its spec so code asks instead of naming it.

The trainer, the steppers and the evaluation ask ``spec.capabilities.conditional`` or
``dataset.capabilities.classifier``; no code branches on a model or dataset name, so a
new family registers its capabilities and the shared code serves it. No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gandiag.roles import Role, parse_role


@dataclass(frozen=True)
class ModelCapabilities:
    """What a model's networks take and predict; declared on its :class:`ModelSpec`.

    ``networks_per_role`` counts the networks of each role when there are several
    (CycleGAN: two generators and two discriminators); ``phases`` names the training
    phases or levels a model steps through (progressive growing).
    """

    conditional: bool = False  #: G takes class labels: G(z, y)
    conditional_discriminator: bool = False  #: D takes the labels too: D(x, y) (cGAN)
    aux_classifier: bool = False  #: D has a head predicting the class (ACGAN)
    latent_codes: bool = False  #: part of z is codes D's Q head recovers (InfoGAN)
    paired_input: bool = False  #: G maps an input sample, not noise (pix2pix, CycleGAN)
    #: D scores (input, output) pairs, D(x, G(x)), not samples alone (pix2pix)
    paired_discriminator: bool = False
    networks_per_role: Mapping[Role, int] = field(default_factory=dict)
    phases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.conditional_discriminator and not self.conditional:
            raise ValueError("conditional_discriminator needs conditional=True (G takes labels)")
        if self.paired_discriminator and not self.paired_input:
            raise ValueError("paired_discriminator needs paired_input=True (G maps an input)")
        if self.aux_classifier and not self.conditional:
            raise ValueError("aux_classifier needs conditional=True (the class D predicts)")
        counts = {parse_role(r): int(n) for r, n in self.networks_per_role.items()}
        if any(n < 1 for n in counts.values()):
            raise ValueError(f"networks_per_role counts must be at least 1, got {counts}")
        object.__setattr__(self, "networks_per_role", MappingProxyType(counts))

    @property
    def has_aux_head(self) -> bool:
        """D has an auxiliary head (a class or a latent-code prediction)."""
        return self.aux_classifier or self.latent_codes


@dataclass(frozen=True)
class DatasetCapabilities:
    """What a dataset offers evaluation; declared when it is registered.

    ``classifier`` names a bundled classifier that knows the dataset's classes (the glyph
    classifier, ``"glyph"``), so evaluation can histogram the classes of samples;
    ``stacked_channels`` marks images whose channels are independent labelled items
    (stacked MNIST), whose modes are the combinations of the channels' classes.
    """

    classifier: str | None = None
    stacked_channels: bool = False
    paired: bool = False  #: items are (input, target) pairs (pix2pix-style data)

"""What each watched network is for: its role, recorded with the run and asked for by detectors.

A network's name is the user's (``"G"``, ``"netG"``, ``"G_AB"``, ``"D_scale1"``); its role
says what it does. The Monitor records ``{name: role}`` in the run metadata
(``networks``), and detectors find, say, the generators with :func:`networks_with_role`
instead of guessing from a name prefix, so a detector works whatever the networks are
called. No torch here: detectors and replay read roles from stored metadata.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping


class Role(str, enum.Enum):
    """The part a network plays in training."""

    GENERATOR = "generator"  #: maps latents (and conditions) to samples
    DISCRIMINATOR = "discriminator"  #: scores samples as real or fake (a critic too)
    ENCODER = "encoder"  #: maps samples to latents (BiGAN/ALI encoder, a VAE's encoder)
    DECODER = "decoder"  #: maps latents to samples, trained by reconstruction
    AUTOENCODER = "autoencoder"  #: encoder and decoder in one module (a VAE, an AE)
    MAPPING = "mapping"  #: maps z to an intermediate latent (StyleGAN's mapping network)
    LEVEL = "level"  #: one stage/level of a multi-scale model (LAPGAN, StackGAN, ProGAN)

    def __str__(self) -> str:
        return self.value


#: The roles of networks named by the Monitor's defaults (``generator=G`` is stored as
#: ``"G"``); used for runs written before roles were recorded and for records fed to
#: detectors without a run context.
DEFAULT_ROLES: dict[str, Role] = {
    "G": Role.GENERATOR,
    "D": Role.DISCRIMINATOR,
    "VAE": Role.AUTOENCODER,
}


def parse_role(value: Role | str) -> Role:
    """``value`` as a :class:`Role`; an unknown one lists the valid roles."""
    if isinstance(value, Role):
        return value
    try:
        return Role(str(value).lower())
    except ValueError:
        valid = [r.value for r in Role]
        close = difflib.get_close_matches(str(value).lower(), valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown network role {value!r}{hint}; valid roles: {', '.join(valid)}"
        ) from None


def parse_roles(roles: Mapping[str, Role | str] | None) -> dict[str, Role]:
    """``{name: Role}`` from a mapping of names to roles or role names (None: the defaults)."""
    if roles is None:
        return dict(DEFAULT_ROLES)
    return {str(name): parse_role(role) for name, role in roles.items()}


def networks_with_role(roles: Mapping[str, Role], role: Role | str) -> list[str]:
    """Names of the networks that play ``role``, sorted.

    >>> networks_with_role({"netG": Role.GENERATOR, "netD": Role.DISCRIMINATOR}, "generator")
    ['netG']
    """
    want = parse_role(role)
    return sorted(name for name, r in roles.items() if r is want)


def roles_to_json(roles: Mapping[str, Role]) -> dict[str, str]:
    return {name: role.value for name, role in roles.items()}


def expand_pattern(pattern: str, roles: Mapping[str, Role]) -> list[str]:
    """A signal pattern with ``<role>`` placeholders, one per network playing that role.

    >>> expand_pattern("grad/<generator>/norm", {"G_AB": Role.GENERATOR, "G_BA": Role.GENERATOR})
    ['grad/G_AB/norm', 'grad/G_BA/norm']
    """
    start = pattern.find("<")
    if start < 0:
        return [pattern]
    end = pattern.index(">", start)
    role = pattern[start + 1 : end]
    return [
        expanded
        for name in networks_with_role(roles, role)
        for expanded in expand_pattern(pattern[:start] + name + pattern[end + 1 :], roles)
    ]


def expand_patterns(patterns: Iterable[str], roles: Mapping[str, Role]) -> tuple[str, ...]:
    return tuple(p for pattern in patterns for p in expand_pattern(pattern, roles))

"""What each watched network is for: its role, recorded with the run and asked for by detectors.

A network's name is the user's (``"G"``, ``"netG"``, ``"G_AB"``, ``"D_scale1"``); its role
says what it does. The Monitor records ``{name: role}`` in the run metadata
(``networks``), and detectors find, say, the generators with :func:`networks_with_role`
instead of guessing from a name prefix, so a detector works whatever the networks are
called. No torch here: detectors and replay read roles from stored metadata.

A network that is one stage or level of a multi-stage model (a LAPGAN level's
generator, a StackGAN stage's discriminator, a progressive-growing resolution's block)
keeps its role and adds the stage it belongs to (:class:`NetworkRole`): ``G_level1`` is
a generator of stage ``level1``, not a role of its own. The Monitor records the stages
as ``{name: stage}`` (``network_stages``) beside the roles, so a detector asks for "the
generators" and gets every stage's, or for "the generators of stage res16".
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Role(str, enum.Enum):
    """The part a network plays in training."""

    GENERATOR = "generator"  #: maps latents (and conditions) to samples
    DISCRIMINATOR = "discriminator"  #: scores samples as real or fake (a critic too)
    ENCODER = "encoder"  #: maps samples to latents (BiGAN/ALI encoder, a VAE's encoder)
    DECODER = "decoder"  #: maps latents to samples, trained by reconstruction
    AUTOENCODER = "autoencoder"  #: encoder and decoder in one module (a VAE, an AE)
    MAPPING = "mapping"  #: maps z to an intermediate latent (StyleGAN's mapping network)

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


@dataclass(frozen=True)
class NetworkRole:
    """A role and, for one stage or level of a multi-stage model, the stage it belongs to.

    The stage is the name the training loop gives the phase that trains it
    (``mon.set_phase("res16")``) or, for levels trained together (LAPGAN), the level's
    name; ``None`` for a network of the whole model.

    >>> NetworkRole.of(("generator", "level1"))
    NetworkRole(role=<Role.GENERATOR: 'generator'>, stage='level1')
    """

    role: Role
    stage: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", parse_role(self.role))
        if self.stage is not None and (not isinstance(self.stage, str) or not self.stage):
            raise ValueError(f"a network's stage must be a non-empty string, got {self.stage!r}")

    @classmethod
    def of(cls, value: NetworkRole | Role | str | tuple[Role | str, str | None]) -> NetworkRole:
        """``value`` (a role, a role name, or ``(role, stage)``) as a :class:`NetworkRole`."""
        if isinstance(value, NetworkRole):
            return value
        if isinstance(value, tuple):
            if len(value) != 2:
                raise ValueError(f"a staged role is (role, stage), got {value!r}")
            return cls(parse_role(value[0]), value[1])
        return cls(parse_role(value))


def parse_stages(stages: Mapping[str, str] | None) -> dict[str, str]:
    """``{name: stage}`` as stored in the run metadata (``network_stages``; None: no stages)."""
    out = {}
    for name, stage in (stages or {}).items():
        if not isinstance(stage, str) or not stage:
            raise ValueError(f"network {name!r}: a stage must be a non-empty string, got {stage!r}")
        out[str(name)] = stage
    return out


def networks_in_stage(
    roles: Mapping[str, Role], stages: Mapping[str, str], role: Role | str, stage: str
) -> list[str]:
    """Names of the networks that play ``role`` in stage ``stage``, sorted.

    >>> roles = {"G_res4": Role.GENERATOR, "G_res8": Role.GENERATOR, "D": Role.DISCRIMINATOR}
    >>> networks_in_stage(roles, {"G_res4": "res4", "G_res8": "res8"}, "generator", "res8")
    ['G_res8']
    """
    return [name for name in networks_with_role(roles, role) if stages.get(name) == stage]


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

"""Checks of the Monitor's arguments, so misuse fails at construction or at the first step.

Every message names the argument and says how to fix the call.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gandiag.roles import NetworkRole, Role, networks_with_role, parse_stages

LOSS_KINDS = ("bce", "wasserstein", "hinge", "lsgan")


def named_modules(arg: str, value: Any, default: str) -> dict[str, nn.Module]:
    """``value`` (a module or a ``{name: module}`` dict, an ``nn.ModuleDict`` included) as a
    dict; names checked."""
    if value is None:
        return {}
    if isinstance(value, nn.ModuleDict):  # several networks of one role (CycleGAN's two G)
        value = dict(value.items())
    if isinstance(value, nn.Module):
        return {default: value}
    if isinstance(value, Mapping):
        out: dict[str, nn.Module] = {}
        for name, mod in value.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(
                    f"{arg}: network names must be non-empty strings without '/', got {name!r}"
                )
            if not isinstance(mod, nn.Module):
                raise TypeError(f"{arg}[{name!r}] must be an nn.Module, got {type(mod).__name__}")
            out[name] = mod
        if not out:
            raise ValueError(f"{arg} is an empty dict; pass at least one nn.Module")
        return out
    raise TypeError(
        f"{arg} must be an nn.Module or a dict {{name: nn.Module}}, got {type(value).__name__}"
    )


def check_networks(
    generator: Any,
    discriminator: Any,
    model: Any,
    networks: Any = None,
    roles: Any = None,
    stages: Any = None,
) -> tuple[str, dict[str, nn.Module], dict[str, nn.Module], dict[str, Role], dict[str, str]]:
    """Returns ``(kind, generators, all_nets, roles, stages)``; kind is "gan" or "vae".

    ``generator=``/``discriminator=``/``model=`` give their networks the roles generator,
    discriminator and autoencoder; ``networks=`` gives any others as ``{name: (module,
    role)}`` or ``{name: (module, role, stage)}``, or ``{name: module}`` with
    ``roles={name: role}``. ``stages={name: stage}`` marks networks passed any way as
    one stage of a multi-stage model (see :class:`gandiag.roles.NetworkRole`).
    """
    nets: dict[str, nn.Module] = {}
    net_roles: dict[str, Role] = {}
    net_stages: dict[str, str] = {}
    given = (
        ("generator", generator, "G", Role.GENERATOR),
        ("discriminator", discriminator, "D", Role.DISCRIMINATOR),
        ("model", model, "VAE", Role.AUTOENCODER),
    )
    for arg, value, default, role in given:
        for name, mod in named_modules(arg, value, default).items():
            _add_network(nets, net_roles, name, mod, role, arg)
    role_map = dict(roles or {})
    if networks is not None:
        if not isinstance(networks, Mapping):
            raise TypeError(
                "networks must be a dict {name: (nn.Module, role)}, e.g. "
                "networks={'netG': (G, 'generator'), 'netD': (D, 'discriminator')}"
            )
        for name, value in networks.items():
            net_role: Any
            if isinstance(value, tuple) and len(value) == 3:  # (module, role, stage)
                mod, net_role = value[0], (value[1], value[2])
            elif isinstance(value, tuple) and len(value) == 2:
                mod, net_role = value
            elif isinstance(value, tuple):
                raise ValueError(
                    f"networks[{name!r}] must be (module, role) or (module, role, stage), "
                    f"got a tuple of {len(value)}"
                )
            else:
                mod, net_role = value, role_map.pop(name, None)
            if net_role is None:
                raise ValueError(
                    f"networks[{name!r}] has no role; pass networks={{{name!r}: (module, "
                    f"'generator')}} or roles={{{name!r}: 'generator'}} (roles: "
                    f"{', '.join(r.value for r in Role)})"
                )
            checked = named_modules("networks", {name: mod}, name)
            staged = NetworkRole.of(net_role)
            _add_network(nets, net_roles, name, checked[name], staged.role, "networks")
            if staged.stage is not None:
                net_stages[name] = staged.stage
    if role_map:
        raise ValueError(
            f"roles= names {sorted(role_map)}, which are not in networks=; give roles only for "
            "networks passed in networks="
        )
    given_stages = parse_stages(stages)
    unknown = sorted(set(given_stages) - set(nets))
    if unknown:
        raise ValueError(
            f"stages= names {unknown}, which are not watched networks; the networks are "
            f"{sorted(nets)}"
        )
    for name, stage in given_stages.items():
        if net_stages.get(name, stage) != stage:
            raise ValueError(
                f"network {name!r} has stage {net_stages[name]!r} in networks= and "
                f"{stage!r} in stages=; give it one stage"
            )
        net_stages[name] = stage
    autoencoders = networks_with_role(net_roles, Role.AUTOENCODER)
    gens = networks_with_role(net_roles, Role.GENERATOR)
    discs = networks_with_role(net_roles, Role.DISCRIMINATOR)
    if autoencoders and (gens or discs):
        raise ValueError(
            "pass either model= (a VAE) or generator=/discriminator= (a GAN), not both"
        )
    if not autoencoders and not (gens and discs):
        raise ValueError(
            "gandiag.Monitor needs generator= and discriminator= (a GAN) or model= (a VAE); "
            "e.g. Monitor('runs/x', generator=G, discriminator=D), or networks= with at least "
            "one 'generator' and one 'discriminator'"
        )
    for name, mod in nets.items():
        if not any(p.requires_grad for p in mod.parameters()):
            raise ValueError(
                f"network {name!r} has no trainable parameters; pass the module being trained"
            )
    if autoencoders:
        return "vae", {n: nets[n] for n in autoencoders}, nets, net_roles, net_stages
    return "gan", {n: nets[n] for n in gens}, nets, net_roles, net_stages


def _add_network(
    nets: dict[str, nn.Module],
    roles: dict[str, Role],
    name: str,
    mod: nn.Module,
    role: Role,
    arg: str,
) -> None:
    if name in nets:
        raise ValueError(
            f"{arg}: two networks share the name {name!r} (as {roles[name].value} and "
            f"{role.value}); give each network a distinct name in the dicts"
        )
    nets[name], roles[name] = mod, role


def check_model_kind(kind: Any, signals_kind: str) -> str:
    """The model kind a run records (``"gan"``, ``"vae"``, ``"ae"``, a family's name)."""
    if kind is None:
        return signals_kind
    if not isinstance(kind, str) or not kind or not kind.replace("_", "").isalnum():
        raise ValueError(f"kind must be a short name such as 'gan', 'vae' or 'ae', got {kind!r}")
    return kind


def check_loss_kind(loss: str) -> str:
    if loss not in LOSS_KINDS:
        raise ValueError(
            f"loss={loss!r} is not a known way to read discriminator outputs; use one of "
            f"{', '.join(LOSS_KINDS)} ('bce' for logits of a sigmoid cross-entropy GAN, the "
            "others for raw critic values)"
        )
    return loss


def check_losses(losses: Any) -> dict[str, Any]:
    if not isinstance(losses, Mapping) or not losses:
        raise ValueError(
            "mon.step(...): `losses` must be a non-empty dict of loss terms, e.g. "
            "losses={'G': loss_g, 'D': loss_d}"
        )
    for name, value in losses.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(
                f"mon.step(...): loss names must be non-empty strings without '/', got {name!r}"
            )
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"mon.step(...): losses[{name!r}] has shape {tuple(value.shape)}; pass the "
                    "scalar loss term (e.g. loss.mean())"
                )
        elif not isinstance(value, numbers.Real):
            raise TypeError(
                f"mon.step(...): losses[{name!r}] must be a tensor or a number, got "
                f"{type(value).__name__}"
            )
    return dict(losses)


def require(arg: str, value: Any, what: str) -> None:
    if value is None:
        raise ValueError(f"mon.step(...): missing `{arg}` ({what}); pass {arg}=...")


def check_tensor(arg: str, value: Any, *, min_dim: int = 1, batch: bool = False) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"mon.step(...): `{arg}` must be a torch.Tensor, got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(
            f"mon.step(...): `{arg}` has dtype {value.dtype}; pass the floating-point tensor "
            "(raw model outputs / images)"
        )
    if value.dim() < min_dim or value.numel() == 0:
        raise ValueError(
            f"mon.step(...): `{arg}` has shape {tuple(value.shape)}; expected at least "
            f"{min_dim} dimension(s) and one element"
        )
    if batch and value.shape[0] < 2:
        raise ValueError(
            f"mon.step(...): `{arg}` has batch size {value.shape[0]}; batch statistics need "
            "at least 2 samples"
        )


def check_same_shape(
    arg: str, value: torch.Tensor, ref_arg: str, ref: torch.Tensor, *, from_dim: int
) -> None:
    if tuple(value.shape[from_dim:]) != tuple(ref.shape[from_dim:]):
        part = "shape" if from_dim == 0 else "per-sample shape"
        raise ValueError(
            f"mon.step(...): `{arg}` has {part} {tuple(value.shape[from_dim:])} but `{ref_arg}` has "
            f"{tuple(ref.shape[from_dim:])}; pass matching tensors"
        )


_GAN_REQUIRED = {
    "d_real": "raw discriminator outputs on the real batch",
    "d_fake": "raw discriminator outputs on the fake batch",
}
_GAN_SAMPLES = {
    "real": "the real batch, for the sample statistics",
    "fake": "the generated batch, for the sample statistics",
}
_VAE_REQUIRED = {
    "mu": "the posterior means, [B, latent_dim]",
    "logvar": "the posterior log-variances, [B, latent_dim]",
    "inputs": "the batch the VAE encoded",
    "recon": "the reconstructions, same shape as inputs",
}


def require_signals(kind: str, samples_on: bool, given: Mapping[str, Any]) -> None:
    """Every step: the signals this kind of model needs are present (cheap ``is None`` checks)."""
    needed = (
        _VAE_REQUIRED
        if kind == "vae"
        else {**_GAN_REQUIRED, **(_GAN_SAMPLES if samples_on else {})}
    )
    for arg, what in needed.items():
        require(arg, given.get(arg), what)


def check_first_step(kind: str, given: Mapping[str, Any]) -> None:
    """First step only: types, dtypes and shapes of every signal passed."""
    g = given
    if kind == "gan":
        check_tensor("d_real", g["d_real"])
        check_tensor("d_fake", g["d_fake"])
        if g.get("d_val") is not None:
            check_tensor("d_val", g["d_val"])
        if g.get("real") is not None or g.get("fake") is not None:
            require("real", g.get("real"), "the real batch of this step")
            require("fake", g.get("fake"), "the generated batch of this step")
            check_tensor("real", g["real"], batch=True)
            check_tensor("fake", g["fake"], batch=True)
            check_same_shape("fake", g["fake"], "real", g["real"], from_dim=1)
            check_video("real", g["real"])
        return
    mu = g["mu"]
    check_tensor("mu", mu, min_dim=2, batch=True)
    check_tensor("logvar", g["logvar"], min_dim=2)
    if mu.dim() != 2:
        raise ValueError(
            f"mon.step(...): `mu` has shape {tuple(mu.shape)}; pass the posterior means "
            "flattened to [B, latent_dim]"
        )
    check_same_shape("logvar", g["logvar"], "mu", mu, from_dim=0)
    check_tensor("inputs", g["inputs"])
    check_tensor("recon", g["recon"])
    check_same_shape("recon", g["recon"], "inputs", g["inputs"], from_dim=0)


def check_video(arg: str, value: torch.Tensor) -> None:
    """A 5-D batch is read as clips ``[B, T, C, H, W]``: at least 2 frames, 1 or 3 channels."""
    if value.dim() != 5:
        return
    _, t, c = value.shape[:3]
    if t < 2 or c not in (1, 3):
        raise ValueError(
            f"mon.step(...): `{arg}` has shape {tuple(value.shape)}; a 5-D batch is read as "
            "video clips [B, T, C, H, W] with T >= 2 frames and C = 1 or 3 channels "
            "(permute a [B, C, T, H, W] batch with x.transpose(1, 2))"
        )


def as_outputs(x: Any) -> torch.Tensor | None:
    """D outputs as one tensor: several discriminators' outputs are flattened and joined."""
    if x is None or isinstance(x, torch.Tensor):
        return x
    items = list(x.values()) if isinstance(x, Mapping) else list(x)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise TypeError(
            "mon.step(...): discriminator outputs must be a tensor, or a list/dict of tensors "
            "for several discriminators"
        )
    return torch.cat([t.reshape(-1) for t in items])


def per_discriminator(d_real: Any, d_fake: Any) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{name: (real outputs, fake outputs)}`` when several discriminators' outputs are given
    as dicts (their keys) or lists (``D0``, ``D1``, ...) of the same length; else ``{}``."""
    if d_real is None or d_fake is None or isinstance(d_real, torch.Tensor):
        return {}
    if isinstance(d_real, Mapping) and isinstance(d_fake, Mapping):
        if set(d_real) != set(d_fake):
            raise ValueError(
                f"mon.step(...): d_real has discriminators {sorted(d_real)} but d_fake has "
                f"{sorted(d_fake)}; pass both for the same discriminators"
            )
        names = [str(k) for k in d_real]
        pairs = [(d_real[k], d_fake[k]) for k in d_real]
    elif isinstance(d_real, (list, tuple)) and isinstance(d_fake, (list, tuple)):
        if len(d_real) != len(d_fake):
            raise ValueError(
                f"mon.step(...): {len(d_real)} d_real outputs but {len(d_fake)} d_fake outputs; "
                "pass one of each per discriminator"
            )
        names = [f"D{i}" for i in range(len(d_real))]
        pairs = list(zip(d_real, d_fake))
    else:
        return {}
    if len(pairs) < 2:
        return {}
    for n in names:
        if not n or "/" in n:
            raise ValueError(f"mon.step(...): discriminator name {n!r} must be non-empty, no '/'")
    return {n: (r, f) for n, (r, f) in zip(names, pairs)}


def first_tensor(x: Any) -> torch.Tensor:
    """``mu`` from what an encoder returned: a tensor or a tuple starting with it."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        return x[0]
    raise TypeError("encode(x) must return mu or a tuple (mu, logvar, ...); pass encode=...")

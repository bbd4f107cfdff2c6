"""Steppers of the model families that need their own loop (phases, several networks).

A model spec names its stepper in its training defaults (``training["stepper"]``); the
trainer builds it here from the ``[gan.options]`` table of the config, which each
family validates against its settings dataclass (an unknown key names the valid ones).
Every stepper returns, besides the usual losses and tensors, an optional ``phase``
(``(name, alpha)``, recorded with :meth:`gandiag.Monitor.set_phase`) and ``scalars``
(family signals such as ``style/w_std``, recorded with ``log_scalars``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import torch

from gandiag.monitor.cadence import PacedFamily

#: stepper name -> "module:Class"; imported on use so the trainer stays light
STEPPERS: dict[str, str] = {
    "progan": "gandiag.train.progan_step:ProGANStepper",
    "stylegan": "gandiag.train.stylegan_step:StyleGANStepper",
    "lapgan": "gandiag.train.lapgan_step:LAPGANStepper",
    "stackgan": "gandiag.train.stackgan_step:StackGANStepper",
}

T = TypeVar("T")


def stepper_class(name: str) -> type:
    if name not in STEPPERS:
        raise ValueError(f"unknown stepper {name!r}; valid steppers: {', '.join(sorted(STEPPERS))}")
    module, cls = STEPPERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def settings_from(cls: type[T], defaults: Mapping[str, Any], options: Mapping[str, Any]) -> T:
    """``cls(**{**defaults, **options})`` with an error naming unknown keys and the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in options:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown [gan.options] key {key!r}{hint}; valid keys for this model: "
                f"{', '.join(names)}"
            )
    merged = {k: v for k, v in {**defaults, **options}.items() if k in names}
    return cls(**merged)


class FamilyStepper:
    """What every family stepper starts from: the bundle's G and D, its settings resolved
    from the model's training defaults and the config's ``[gan.options]``
    (:func:`settings_from` with the class's ``Settings``), and the trainer's callables.

    The trainer builds each with ``cls(bundle, options, make_optimizer, next_batch,
    generator, autocast)``; subclasses add their optimisers and schedule after
    ``super().__init__``.
    """

    Settings: ClassVar[type]

    #: the monitor's pacing of the stepper's own probes (``probe_every`` in its settings),
    #: set by the trainer; None: every ``probe_every`` steps exactly (a stepper run alone)
    probe_pacing: PacedFamily | None = None

    def __init__(
        self,
        bundle: Any,
        options: Mapping[str, Any],
        make_optimizer: Callable[[Any, str], torch.optim.Optimizer],
        next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor | None]],
        generator: torch.Generator,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> None:
        self.b = bundle
        self.s: Any = settings_from(self.Settings, bundle.training, options)
        self.G, self.D = bundle.generator, bundle.discriminator
        self.make_optimizer = make_optimizer
        self.next_batch, self.gen, self.autocast = next_batch, generator, autocast

    @property
    def probe_every(self) -> int:
        """Steps between the stepper's own probes (its settings' ``probe_every``; 0: none)."""
        return int(getattr(self.s, "probe_every", 0) or 0)

    def probe_due(self, step: int) -> bool:
        """Whether the stepper's probes run at ``step``: every ``probe_every`` steps, or as
        the monitor paces them (on an accelerator, within their share of the time)."""
        if self.probe_pacing is not None:
            return self.probe_pacing.due(step)
        return self.probe_every > 0 and step % self.probe_every == 0

    def probe_charge(self) -> contextlib.AbstractContextManager[None]:
        """Time a probe's work against its share (only when the monitor paces it)."""
        pace = self.probe_pacing
        return pace.charge() if pace is not None else contextlib.nullcontext()


def watched_networks(generator: torch.nn.Module, discriminator: torch.nn.Module) -> dict[str, Any]:
    """The Monitor's ``generator=``, ``discriminator=`` and ``stages=`` for a model.

    A network with ``stages()`` (``{stage: module}``: a LAPGAN level, a StackGAN stage, a
    progressive-growing resolution) is watched one network per stage, named
    ``<G|D>_<stage>``, keeping its role and recording its stage; one with ``parts()``
    (DVD-GAN's spatial and temporal discriminators) one network per part; any other whole.
    The Monitor then samples through ``generate=`` (the whole generator), which a caller
    passes when the generator is split.
    """
    stages: dict[str, str] = {}

    def split(net: torch.nn.Module, prefix: str) -> Any:
        by_stage = getattr(net, "stages", None)
        if callable(by_stage):
            out = {}
            for stage, module in by_stage().items():
                out[f"{prefix}_{stage}"], stages[f"{prefix}_{stage}"] = module, stage
            return out
        parts = getattr(net, "parts", None)
        return parts() if callable(parts) else net

    return {
        "generator": split(generator, "G"),
        "discriminator": split(discriminator, "D"),
        "stages": stages,
    }


def adversarial_state(stepper: Any) -> dict[str, Any]:
    """The state every two-player stepper has: G, D, their optimisers and the EMA of G."""
    sd = {
        "G": stepper.G.state_dict(),
        "D": stepper.D.state_dict(),
        "opt_g": stepper.opt_g.state_dict(),
        "opt_d": stepper.opt_d.state_dict(),
    }
    ema = getattr(stepper, "ema", None)
    if ema is not None:
        sd["ema"] = ema.state_dict()
    return sd


def load_adversarial_state(stepper: Any, sd: Mapping[str, Any]) -> None:
    """Restore what :func:`adversarial_state` saved."""
    stepper.G.load_state_dict(sd["G"])
    stepper.D.load_state_dict(sd["D"])
    stepper.opt_g.load_state_dict(sd["opt_g"])
    stepper.opt_d.load_state_dict(sd["opt_d"])
    ema = getattr(stepper, "ema", None)
    if ema is not None and "ema" in sd:
        ema.load_state_dict(sd["ema"])


def lazy_regularised(opt: torch.optim.Optimizer, interval: int) -> torch.optim.Optimizer:
    """Scale lr and betas by ``c = k / (k + 1)`` for lazy regularisation (Karras et al. 2020)."""
    if interval <= 0:
        return opt
    c = interval / (interval + 1)
    for group in opt.param_groups:
        group["lr"] *= c
        if "betas" in group:
            b1, b2 = group["betas"]
            group["betas"] = (b1**c, b2**c)
    return opt

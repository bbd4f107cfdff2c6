"""Probe forwards of the generator (or VAE decoder/encoder) on fixed batches.

The latents come from the monitor's own seeded ``torch.Generator``, drawn once, so
the sensitivity is measured on the same points all run long and sample grids are
comparable over time; the caller's random streams are never touched.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gandiag.monitor import probes, validate
from gandiag.monitor.cadence import Cadence

#: perturbation scale of the latent / decoder sensitivity probes (delta = EPS * N(0, I))
SENSITIVITY_EPS = 0.01


class LatentProbe:
    """Fixed probe and grid latents, and the forwards that use them."""

    def __init__(
        self,
        kind: str,
        gens: dict[str, nn.Module],
        generate: Callable[[torch.Tensor], torch.Tensor] | None,
        encode: Callable[[torch.Tensor], Any] | None,
        latent_dim: int | None,
        cadence: Cadence,
        device: torch.device,
        seed: int,
    ) -> None:
        self.modules = list(gens.values())
        self.cadence, self.device, self.seed = cadence, device, int(seed)
        self.generate, self.encode = _resolve(kind, gens, generate, encode, latent_dim)
        self.z: torch.Tensor | None = None
        self.delta: torch.Tensor | None = None
        self.grid_z: torch.Tensor | None = None
        self.probe_inputs: torch.Tensor | None = None
        if latent_dim is not None:
            self.ensure_latents(latent_dim)

    def ensure_latents(self, dim: int) -> None:
        """Draw the probe and grid latents once (a VAE's latent size is known at its first step)."""
        if self.z is not None:
            return
        cad = self.cadence
        rng = torch.Generator(device="cpu").manual_seed(self.seed)
        self.z = torch.randn(cad.probe_size, dim, generator=rng).to(self.device)
        delta = SENSITIVITY_EPS * torch.randn(cad.probe_size, dim, generator=rng)
        self.delta = delta.to(self.device)
        self.grid_z = torch.randn(cad.grid_size * 8, dim, generator=rng).to(self.device)

    def sensitivity(self, name: str) -> probes.Stat | None:
        if self.generate is None or self.z is None or self.delta is None:
            return None
        with probes.probing(self.modules, self.device):
            return probes.sensitivity(self.generate, self.z, self.delta, name)

    def posterior_means(self, inputs: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Posterior means on the fixed probe batch (the first inputs seen), else the batch's."""
        if self.encode is None:
            return mu
        if self.probe_inputs is None:
            self.probe_inputs = inputs.detach()[: self.cadence.probe_size].clone()
        if self.probe_inputs.shape[0] < 2:
            return mu
        with probes.probing(self.modules, self.device):
            return validate.first_tensor(self.encode(self.probe_inputs))

    def prior_samples(self) -> torch.Tensor | None:
        """The generator's (decoder's) samples from the fixed probe latents, on the device."""
        if self.generate is None or self.z is None:
            return None
        with probes.probing(self.modules, self.device):
            return self.generate(self.z).detach()

    def samples(self) -> torch.Tensor | None:
        """Generated samples from the fixed grid latents, on the CPU (more for 2-D data)."""
        if self.generate is None or self.grid_z is None:
            return None
        with probes.probing(self.modules, self.device):
            images = self.generate(self.grid_z[: self.cadence.grid_size])
            if images.dim() == 2 and images.shape[1] == 2:  # 2-D data: a denser scatter
                images = self.generate(self.grid_z)
        return images.detach().float().cpu()


Forward = Callable[[torch.Tensor], Any]


def _resolve(
    kind: str,
    gens: dict[str, nn.Module],
    generate: Forward | None,
    encode: Forward | None,
    latent_dim: int | None,
) -> tuple[Forward | None, Forward | None]:
    if kind == "vae":
        model = next(iter(gens.values()))
        decode = generate if generate is not None else getattr(model, "decode", None)
        enc = encode if encode is not None else getattr(model, "encode", None)
        if decode is None:
            warnings.warn(
                "the VAE has no .decode(z); pass generate=<z -> images> to get decoder "
                "sensitivity and sample grids",
                stacklevel=4,
            )
        return decode, enc
    if latent_dim is None:
        return None, None
    if generate is not None:
        return generate, None
    if len(gens) != 1:
        raise ValueError(
            "latent_dim with several generators needs generate=<callable z -> images> "
            "saying which generator the latent probes drive"
        )
    return next(iter(gens.values())), None

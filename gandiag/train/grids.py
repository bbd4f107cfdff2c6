"""The trainer's sample grids: one fixed latent batch, drawn at step 0, every evaluation and the end.

The trainer draws every ``samples`` grid of a run itself (the Monitor's own grid is switched
off) so that all of them share one latent batch and show the network that evaluation scores
(the EMA of G when enabled), conditional models cycle through the classes, and InfoGAN's
codes are drawn from their own priors. Reports and the dashboard show the latest
``samples`` grid, so logging one at the last step makes them show the final model.

Grids written (names in the run store):

- ``samples``: GAN samples, or VAE decodings of prior draws ``z ~ N(0, I)``; on 2-D data a
  scatter of 8x as many points over real points (grey; the points are stored too, and
  the dashboard and the report draw them with axes); for video GANs a frame strip
  (one row per clip, one column per frame; conditional rows cycle through the classes).
- ``reconstructions``: autoencoders only; rows of fixed real inputs alternate with rows of
  their reconstructions (posterior means for VAEs); on 2-D data a scatter of the
  reconstructions over the inputs.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol, cast

import numpy as np
import torch

from gandiag.images import grid_png, scatter_png
from gandiag.reference_models import ModelBundle
from gandiag.reference_models.interpolation import interpolation_grid

#: columns of an image grid (a reconstruction grid alternates input and output rows)
COLUMNS = 8
#: points in a 2-D scatter per image of an image grid (as the Monitor's grid)
POINTS_PER_IMAGE = 8
#: clips (rows) in a video frame strip
STRIP_ROWS = 10


class Autoencoder(Protocol):
    """What the grids call on a VAE or autoencoder (nn.Module attributes type as tensors)."""

    def encode(self, x: torch.Tensor) -> Any: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...


class SampleGrids:
    """Fixed latents (and fixed real inputs) and the grids they give at any step.

    Everything is drawn once from ``seed`` on the CPU, so a resumed run draws the same
    batch without storing it and drawing it never touches a training RNG.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        real: torch.Tensor,
        size: int,
        seed: int,
        device: torch.device,
    ) -> None:
        if size < 1:
            raise ValueError(f"grid size must be at least 1, got {size}")
        self.points = real.dim() == 2
        n = size * POINTS_PER_IMAGE if self.points else size
        gen = torch.Generator(device="cpu").manual_seed(int(seed) * 1_000_003 + 11)
        z, y = bundle.sample_latent(n, gen, "cpu")
        if bundle.conditional:  # rows read as classes: 0, 1, ..., k-1, 0, 1, ...
            y = torch.arange(n) % bundle.num_classes
        self.bundle, self.device = bundle, device
        self.z, self.y = z.to(device), None if y is None else y.to(device)
        self.real = real[: n if self.points else size].float().to(device)

    @torch.no_grad()
    def log(self, mon: Any, step: int, net: torch.nn.Module) -> None:
        """Log this step's grids through ``mon.log_images``; a failure warns, never raises."""
        was_training = net.training
        net.eval()
        try:
            if self.points:  # the points themselves: viewers draw them with axes
                for name, (pts, ref) in self._point_sets(net).items():
                    mon.log_images(step, pts, name=name, reference=ref)
            else:
                for name, png in self.render(net).items():
                    mon.log_images(step, png, name=name)
        except Exception as exc:  # noqa: BLE001 - a grid must never kill a training run
            warnings.warn(
                f"sample grid at step {step} failed: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
        finally:
            net.train(was_training)

    @torch.no_grad()
    def render(self, net: torch.nn.Module) -> dict[str, bytes]:
        """``{grid name: PNG bytes}`` of ``net`` (the generator, or the autoencoder)."""
        if self.points:
            return {
                name: scatter_png(pts.reshape(len(pts), -1), reference=ref)
                for name, (pts, ref) in self._point_sets(net).items()
            }
        kind = self.bundle.kind
        out: dict[str, bytes] = {}
        if kind == "gan":
            out["samples"] = self._png(
                net(self.z, self.y) if self.bundle.conditional else net(self.z)
            )
        elif kind == "vae":
            out["samples"] = self._png(cast(Autoencoder, net).decode(self.z))
        if kind in ("vae", "ae"):
            ae = cast(Autoencoder, net)
            code = ae.encode(self.real)
            code = code[0] if isinstance(code, tuple) else code  # a VAE's posterior mean
            out["reconstructions"] = self._recon_png(self.real, ae.decode(code))
        return out

    @torch.no_grad()
    def _point_sets(self, net: torch.nn.Module) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{grid name: (points [N, 2], real points drawn with them)}`` on 2-D data."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        real = self.real.cpu().numpy()
        if self.bundle.kind == "gan":
            x = net(self.z, self.y) if self.bundle.conditional else net(self.z)
            out["samples"] = (x.float().cpu().numpy(), real)
        elif self.bundle.kind == "vae":
            out["samples"] = (cast(Autoencoder, net).decode(self.z).float().cpu().numpy(), real)
        if self.bundle.kind in ("vae", "ae"):
            ae = cast(Autoencoder, net)
            code = ae.encode(self.real)
            code = code[0] if isinstance(code, tuple) else code  # a VAE's posterior mean
            out["reconstructions"] = (ae.decode(code).float().cpu().numpy(), real)
        return out

    def _png(self, x: torch.Tensor) -> bytes:
        arr = x.detach().float().cpu().numpy()
        if arr.ndim == 5:  # clips: a frame strip, one row per clip, one column per frame
            rows = arr[:STRIP_ROWS]
            return grid_png(rows.reshape(-1, *rows.shape[2:]), nrow=rows.shape[1], min_size=256)
        return grid_png(arr, nrow=COLUMNS, min_size=256)

    def _recon_png(self, real: torch.Tensor, recon: torch.Tensor) -> bytes:
        real_np, recon_np = real.cpu().numpy(), recon.detach().float().cpu().numpy()
        rows = []
        for start in range(0, len(real_np), COLUMNS):
            block = slice(start, start + COLUMNS)
            if len(real_np[block]) < COLUMNS:
                break  # keep the rows aligned: drop a partial last row
            rows += [real_np[block], recon_np[block]]
        tiles = np.concatenate(rows) if rows else np.concatenate([real_np, recon_np])
        return grid_png(tiles, nrow=COLUMNS, min_size=256)


def interpolation(
    bundle: ModelBundle, net: torch.nn.Module, reals: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """Rows of 8 images walking between two latents (GANs: prior draws, slerp; autoencoders:
    the codes of two real inputs, lerp), for the ``interpolation`` grid."""
    rows, steps = len(reals) // 2, 8
    if bundle.kind == "gan":
        z0, y = bundle.sample_latent(rows, gen, reals.device)
        z1, _ = bundle.sample_latent(rows, gen, reals.device)
        if bundle.conditional and y is not None:
            labels = y.repeat_interleave(steps)
            return interpolation_grid(lambda z: net(z, labels), z0, z1, steps).float().cpu()
        return interpolation_grid(net, z0, z1, steps).float().cpu()
    ae = cast(Autoencoder, net)
    code = ae.encode(reals)
    code = code[0] if isinstance(code, tuple) else code
    walk = interpolation_grid(ae.decode, code[:rows], code[rows:], steps, spherical=False)
    return walk.float().cpu()

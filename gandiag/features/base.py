"""The feature-extractor contract and its registry.

An extractor turns images ``[N, C, H, W]`` (uint8 0..255, or float in the extractor's
declared ``input_range``) into features ``[N, D]``, batch by batch and without gradients,
and says how it did it (:meth:`FeatureExtractor.protocol`) so every metric result records
its extractor, weights checksum, resizing and quantisation. Under ``torch.distributed``
each rank extracts its shard and the features are gathered back in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gandiag.features import distributed
from gandiag.registry import Registry, UnknownNameError, is_callable


class FeatureExtractor:
    """Base class. Subclasses set the attributes and implement :meth:`_features`
    (and :meth:`_logits` when they have a classifier head)."""

    name: str = "extractor"
    weights_sha256: str | None = None
    input_range: tuple[float, float] | None = (-1.0, 1.0)  # None: any finite floats
    channels: tuple[int, ...] | None = None  # accepted channel counts; None: any
    size: tuple[int, int] | None = None  # required (H, W); None: any
    has_logits: bool = False
    batch_size: int = 256

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    # -- the contract ---------------------------------------------------------------
    def preprocessing(self) -> str:
        """How images are turned into network input, for the metric protocol."""
        return ""

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------------
    def __call__(self, images: Any) -> torch.Tensor:
        """Features ``[N, D]`` (float32, on the CPU) of ``images``."""
        return self._run(images, self._features)

    def logits(self, images: Any) -> torch.Tensor:
        """Class logits ``[N, K]`` (float32, CPU), for the Inception Score."""
        if not self.has_logits:
            raise ValueError(
                f"the {self.name!r} extractor has no classifier head, so no Inception Score; "
                "use 'glyph' or 'inception', or drop 'is' from the metrics"
            )
        return self._run(images, self._logits)

    def protocol(self) -> dict[str, Any]:
        return {
            "feature_extractor": self.name,
            "weights_sha256": self.weights_sha256,
            "preprocessing": self.preprocessing(),
        }

    def _run(self, images: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        images = self.check_images(images)
        return distributed.map_sharded(
            images, lambda chunk: self._batched(chunk, fn), device=self.device
        )

    def _batched(
        self, images: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        outs = []
        with torch.no_grad():
            for start in range(0, images.shape[0], self.batch_size):
                x = self.to_input(images[start : start + self.batch_size].to(self.device))
                outs.append(fn(x).reshape(x.shape[0], -1).float().cpu())
        if not outs:
            raise ValueError("no images to extract features from; pass at least 2")
        return torch.cat(outs)

    def check_images(self, images: Any) -> torch.Tensor:
        """Validate shape, channels, dtype and value range; return a CPU tensor."""
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(np.array(images, copy=not images.flags.writeable, order="C"))
        if not isinstance(images, torch.Tensor):
            raise ValueError(  # noqa: TRY004 - bad input is a ValueError throughout gandiag
                f"images must be a torch tensor or numpy array [N, C, H, W], got {type(images).__name__}; "
                "load files with gandiag.evaluate.load_images"
            )
        if images.ndim == 3 and self.channels is not None and 1 in self.channels:
            images = images.unsqueeze(1)  # [N, H, W] grayscale
        if images.ndim != 4 and (self.size is not None or self.channels is not None):
            raise ValueError(f"images must have shape [N, C, H, W], got {tuple(images.shape)}")
        if self.channels is not None and images.shape[1] not in self.channels:
            raise ValueError(
                f"the {self.name!r} extractor takes {' or '.join(map(str, self.channels))}-channel "
                f"images but got {images.shape[1]} channels (shape {tuple(images.shape)}); "
                "convert the images (e.g. RGB -> grayscale) or choose another extractor"
            )
        if self.size is not None and tuple(images.shape[2:]) != self.size:
            raise ValueError(
                f"the {self.name!r} extractor takes {self.size[0]}x{self.size[1]} images, got "
                f"{images.shape[2]}x{images.shape[3]}; resize them first"
            )
        if images.dtype == torch.uint8:
            return images
        if not images.is_floating_point():
            raise ValueError(f"images must be uint8 (0..255) or float, got {images.dtype}")
        if not bool(torch.isfinite(images).all()):
            raise ValueError("images contain NaN or Inf; the generator diverged: check its outputs")
        if self.input_range is not None:
            lo, hi = self.input_range
            mn, mx = float(images.min()), float(images.max())
            tol = 1e-3 * (hi - lo)
            if mn < lo - tol or mx > hi + tol:
                raise ValueError(
                    f"float images must lie in [{lo:g}, {hi:g}] for the {self.name!r} extractor, "
                    f"got values in [{mn:.4g}, {mx:.4g}]; rescale them (e.g. x * 2 - 1 for [0, 1] "
                    "images), pass uint8 0..255, or set input_range"
                )
        return images

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 -> float in ``input_range``; floats pass through (clamped to the range)."""
        if self.input_range is None:
            return x.float()
        lo, hi = self.input_range
        if x.dtype == torch.uint8:
            return x.float() * ((hi - lo) / 255.0) + lo
        return x.float().clamp(lo, hi)


ExtractorFactory = Callable[..., FeatureExtractor]
#: The feature-extractor registry: name -> factory ``(device=None, **opts) -> FeatureExtractor``.
EXTRACTORS: Registry[ExtractorFactory] = Registry("feature extractor", check=is_callable)


def register_extractor(name: str) -> Callable[[ExtractorFactory], ExtractorFactory]:
    """Add a factory ``(device=None, **opts) -> FeatureExtractor`` to the registry."""
    return EXTRACTORS.decorator(name)


def get_extractor(
    name_or_module: str | torch.nn.Module | FeatureExtractor,
    device: str | torch.device | None = None,
    **opts: Any,
) -> FeatureExtractor:
    """An extractor by registry name, or wrapping a user's ``nn.Module`` (see
    :class:`~gandiag.features.simple.ModuleExtractor` for its options)."""
    if isinstance(name_or_module, FeatureExtractor):
        return name_or_module
    if isinstance(name_or_module, torch.nn.Module):
        from gandiag.features.simple import ModuleExtractor

        return ModuleExtractor(name_or_module, device=device, **opts)
    if name_or_module not in EXTRACTORS:
        try:
            EXTRACTORS.lookup(name_or_module)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{exc} (or pass a torch.nn.Module)") from None
    return EXTRACTORS[name_or_module](device=device, **opts)

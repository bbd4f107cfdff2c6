"""The identity extractor (low-dimensional data) and the wrapper for a user's nn.Module."""

from __future__ import annotations

import hashlib

import torch

from gandiag.features.base import FeatureExtractor, register_extractor


class IdentityExtractor(FeatureExtractor):
    """Flattens each sample: for 2-D point clouds and other data that are already features."""

    name = "identity"
    input_range = None

    def preprocessing(self) -> str:
        return "flatten, no scaling"

    def check_images(self, images):  # type: ignore[no-untyped-def]
        images = super().check_images(images)
        if images.ndim < 2:
            raise ValueError(f"samples must have shape [N, ...], got {tuple(images.shape)}")
        return images

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


@register_extractor("identity")
def _identity(device: str | torch.device | None = None) -> IdentityExtractor:
    return IdentityExtractor(device)


def module_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over a module's state_dict (names, dtypes, shapes and bytes), so a protocol
    records exactly which weights produced the features."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class ModuleExtractor(FeatureExtractor):
    """Any ``nn.Module`` mapping a float batch ``[B, C, H, W]`` in ``input_range`` to
    ``[B, ...]`` features (flattened). ``logits_fn`` optionally gives class logits for IS."""

    def __init__(
        self,
        module: torch.nn.Module,
        device: str | torch.device | None = None,
        *,
        input_range: tuple[float, float] | None = (-1.0, 1.0),
        name: str | None = None,
        logits_fn: torch.nn.Module | None = None,
        batch_size: int = 256,
    ) -> None:
        super().__init__(device)
        self.module = module.to(self.device).eval()
        self.input_range = input_range
        self.name = name or f"module:{type(module).__name__}"
        self.weights_sha256 = module_sha256(module)
        self.logits_module = logits_fn.to(self.device).eval() if logits_fn is not None else None
        self.has_logits = logits_fn is not None
        self.batch_size = batch_size

    def preprocessing(self) -> str:
        rng = (
            "as given" if self.input_range is None else f"uint8 scaled to {list(self.input_range)}"
        )
        return f"{rng}, no resize"

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_module(x)  # type: ignore[misc]  # has_logits guards this

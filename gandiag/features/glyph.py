"""The bundled glyph classifier: a small CNN trained on :func:`gandiag.data.glyphs.make_glyphs`.

It plays the role Inception-v3 plays for ImageNet-like data, for the 28x28 glyph digits
that the demo, the tests and the reference models use: its penultimate layer (128-d,
global-average-pooled ReLU activations) is the feature space for FID/KID/PR/DC, and its
logits give IS and class histograms of samples. The weights are shipped in
``gandiag/assets/glyph_classifier.pt`` (made by ``scripts/train_glyph_classifier.py``) and
verified against :data:`GLYPH_CLASSIFIER_SHA256` on every load, so a changed file can
never silently change a score.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from gandiag.features.base import FeatureExtractor, register_extractor

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "assets" / "glyph_classifier.pt"
# SHA-256 of the shipped weights; update together with the file (the training script prints it).
GLYPH_CLASSIFIER_SHA256 = "a6b28efd8a8eb9415a57d98688132cd21d5c1672b832ea7e1af61093f49f8ee5"
FEATURE_DIM = 128
NUM_CLASSES = 10


class GlyphClassifier(nn.Module):
    """Four 3x3 conv-BN-ReLU blocks (16-32-64-128 channels, max-pools after the first two),
    global average pool, then a linear layer to the ten classes. Input ``[N, 1, 28, 28]``
    in [-1, 1]. Small on purpose: it runs inside training loops for periodic evaluation."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(1, 16),
            nn.MaxPool2d(2),  # 14x14
            _conv(16, 32),
            nn.MaxPool2d(2),  # 7x7
            _conv(32, 64),
            _conv(64, FEATURE_DIM),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features ``[N, 128]`` (the space FID/KID/PR/DC use on glyphs)."""
        return self.body(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, 10]`` (softmax gives p(y|x) for IS and class histograms)."""
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (weights files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_glyph_classifier(
    device: str | torch.device | None = None, *, path: str | Path | None = None
) -> GlyphClassifier:
    """The bundled glyph classifier in eval mode, with its weights checksum verified.

    ``path`` overrides the bundled file (for retrained weights); its checksum is then
    not checked against the bundled one, but recorded by the extractor's protocol.
    """
    weights = WEIGHTS_PATH if path is None else Path(path)
    if not weights.is_file():
        raise FileNotFoundError(
            f"glyph classifier weights not found at {weights}; reinstall gandiag, or recreate "
            "them with `python scripts/train_glyph_classifier.py`"
        )
    if path is None:
        digest = sha256_file(weights)
        if digest != GLYPH_CLASSIFIER_SHA256:
            raise ValueError(
                f"glyph classifier weights at {weights} have SHA-256 {digest}, expected "
                f"{GLYPH_CLASSIFIER_SHA256}; the file is corrupt or was replaced: reinstall "
                "gandiag (or restore the file from git)"
            )
    model = GlyphClassifier()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval().requires_grad_(False)
    return model.to(device) if device is not None else model


def glyph_classifier_sha256() -> str:
    """Checksum of the bundled weights (as recorded in every metric's protocol)."""
    return GLYPH_CLASSIFIER_SHA256


class GlyphExtractor(FeatureExtractor):
    """Features (128-d) and logits of the bundled glyph classifier on ``[N, 1, 28, 28]``
    glyph-like images (uint8, or float in [-1, 1])."""

    name = "glyph"
    input_range = (-1.0, 1.0)
    channels = (1,)
    size = (28, 28)
    has_logits = True
    batch_size = 1024

    def __init__(self, device: str | torch.device | None = None) -> None:
        super().__init__(device)
        self.model = load_glyph_classifier(self.device)
        self.weights_sha256 = GLYPH_CLASSIFIER_SHA256

    def preprocessing(self) -> str:
        return (
            "28x28 grayscale, no resize; uint8 x -> x/127.5-1; features: global-average-pooled "
            "last conv block (128-d) of the augmentation-trained glyph classifier"
        )

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)


@register_extractor("glyph")
def _glyph(device: str | torch.device | None = None) -> GlyphExtractor:
    return GlyphExtractor(device)

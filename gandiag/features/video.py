"""The bundled video classifier: a small 3-D CNN trained on the moving glyphs.

It is to clips what the glyph classifier is to images: an offline feature space for a
Fréchet distance between sets of clips. FVD (Unterthiner et al. 2018) uses an I3D network
trained on Kinetics; its weights must be downloaded and it breaks on clips as short as 8
frames, so gandiag ships this stand-in instead: "FVD-lite", the Fréchet distance between
Gaussian fits of this network's 128-d penultimate features. It was trained to recognise a
moving-glyph clip's glyph class (10) and its initial direction of motion (8 compass
directions), so its features carry both appearance and motion. Scores are comparable
only between runs with the same weights (the checksum below is recorded in every result)
and the same clip shape; they are not FVD values and not comparable with published ones.

The weights ship in ``gandiag/assets/video_classifier.pt`` (made by
``scripts/train_video_classifier.py``) and are verified against
:data:`VIDEO_CLASSIFIER_SHA256` on every load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gandiag.features.glyph import GLYPH_CLASSIFIER_SHA256, sha256_file
from gandiag.metrics.frechet import feature_stats, frechet_distance
from gandiag.types import MetricProtocol, MetricResult

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "assets" / "video_classifier.pt"
# SHA-256 of the shipped weights; update together with the file (the training script prints it).
VIDEO_CLASSIFIER_SHA256 = "cc9d213844068a29949d8695d8601dfdcd3a6ba778679857cb2f8159ca57a35d"
FEATURE_DIM = 128
NUM_CLASSES = 10
NUM_DIRECTIONS = 8
#: the clip shape the network was trained on: [T, 1, H, W]
FRAMES, SIZE = 8, 32


def _conv3d(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU()
    )


class VideoClassifier(nn.Module):
    """Four 3x3x3 conv-BN-ReLU blocks (16-32-64-128 channels; max-pools of space after the
    first, of time and space after the second and third), global average pool, then two
    linear heads: glyph class (10) and direction (8). Input ``[N, T, 1, 32, 32]`` in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv3d(1, 16),
            nn.MaxPool3d((1, 2, 2)),  # T x 16 x 16
            _conv3d(16, 32),
            nn.MaxPool3d(2),  # T/2 x 8 x 8
            _conv3d(32, 64),
            nn.MaxPool3d(2),  # T/4 x 4 x 4
            _conv3d(64, FEATURE_DIM),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.class_head = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.direction_head = nn.Linear(FEATURE_DIM, NUM_DIRECTIONS)

    @staticmethod
    def prepare(clips: torch.Tensor) -> torch.Tensor:
        """``[N, T, C, H, W]`` clips (uint8, or float in [-1, 1]) as the network's input
        ``[N, 1, T, 32, 32]``: grey, resized (bilinear, antialiased) when not 32x32."""
        if clips.dim() != 5:
            raise ValueError(
                f"the video classifier takes clips [N, T, C, H, W], got shape {tuple(clips.shape)}"
            )
        x = clips.float() / 127.5 - 1.0 if clips.dtype == torch.uint8 else clips.float()
        n, t = x.shape[:2]
        x = x.mean(2, keepdim=True)
        if x.shape[-1] != SIZE or x.shape[-2] != SIZE:
            x = F.interpolate(
                x.flatten(0, 1), size=(SIZE, SIZE), mode="bilinear", antialias=True
            ).view(n, t, 1, SIZE, SIZE)
        return x.transpose(1, 2)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[N, 128]`` of clips ``[N, T, C, H, W]`` (FVD-lite's space)."""
        return self.body(self.prepare(clips))

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(class logits [N, 10], direction logits [N, 8])``."""
        h = self.features(clips)
        return self.class_head(h), self.direction_head(h)


def load_video_classifier(
    device: str | torch.device | None = None, *, path: str | Path | None = None
) -> VideoClassifier:
    """The bundled video classifier in eval mode, with its weights checksum verified.

    ``path`` overrides the bundled file (retrained weights); it is then not checked.
    """
    weights = WEIGHTS_PATH if path is None else Path(path)
    if not weights.is_file():
        raise FileNotFoundError(
            f"video classifier weights not found at {weights}; reinstall gandiag, or recreate "
            "them with `python scripts/train_video_classifier.py`"
        )
    if path is None:
        digest = sha256_file(weights)
        if digest != VIDEO_CLASSIFIER_SHA256:
            raise ValueError(
                f"video classifier weights at {weights} have SHA-256 {digest}, expected "
                f"{VIDEO_CLASSIFIER_SHA256}; the file is corrupt or was replaced: reinstall "
                "gandiag (or restore the file from git)"
            )
    model = VideoClassifier()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval().requires_grad_(False)
    return model.to(device) if device is not None else model


@torch.no_grad()
def video_features(
    clips: torch.Tensor, model: VideoClassifier | None = None, batch_size: int = 256
) -> torch.Tensor:
    """FVD-lite features ``[N, 128]`` (float64, CPU) of clips ``[N, T, C, H, W]``."""
    model = load_video_classifier() if model is None else model
    device = next(model.parameters()).device
    out = [model.features(c.to(device)).double().cpu() for c in clips.split(batch_size)]
    return torch.cat(out)


# -- metrics --------------------------------------------------------------------------------
def _clips(x: Any) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dim() != 5:
        raise ValueError(f"expected clips [N, T, C, H, W], got shape {tuple(x.shape)}")
    return x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.float()


class FVDLite:
    """FVD-lite against a fixed real set: its features and statistics are computed once, so
    scoring a run's samples every evaluation costs only the fakes' forward."""

    def __init__(self, real: Any, model: VideoClassifier | None = None) -> None:
        real = _clips(real)
        self.model = load_video_classifier() if model is None else model
        self.real_stats = feature_stats(video_features(real, self.model).numpy())
        self.num_real, self.frames = len(real), int(real.shape[1])

    def __call__(self, fake: Any) -> MetricResult:
        fake = _clips(fake)
        value = frechet_distance(self.real_stats, video_features(fake, self.model).numpy()).fid
        protocol = MetricProtocol(
            feature_extractor="video_classifier",
            weights_sha256=VIDEO_CLASSIFIER_SHA256,
            preprocessing="grey clips in [-1, 1], bilinear antialiased resize to 32x32",
            num_real=self.num_real,
            num_fake=len(fake),
            options={"frames": self.frames, "stand_in_for": "FVD (Unterthiner et al. 2018)"},
        )
        return MetricResult("fvd_lite", float(value), protocol)


def fvd_lite(real: Any, fake: Any, model: VideoClassifier | None = None) -> MetricResult:
    """FVD-lite: the Fréchet distance between the bundled video classifier's features of
    two sets of clips ``[N, T, C, H, W]`` (uint8, or float in [-1, 1]).

    An offline stand-in for FVD (see the module docstring): lower is closer; 0 for
    identical feature statistics. Scoring many sample sets against one real set:
    :class:`FVDLite`.
    """
    return FVDLite(real, model)(fake)


def frame_fid(real: Any, fake: Any, crop: float | None = None) -> MetricResult:
    """Per-frame glyph FID: every frame of every clip, cropped around its intensity centroid
    (the glyph, re-centred; ``crop`` = its share of the frame side) and resized to 28x28,
    in the bundled glyph classifier's feature space. Blind to motion by construction: a
    clip's frames in any order, or repeated, score as their set does."""
    from gandiag.features.glyph import load_glyph_classifier
    from gandiag.monitor.video import DEFAULT_CROP, glyph_crops

    real, fake = _clips(real), _clips(fake)
    crop = DEFAULT_CROP if crop is None else float(crop)
    clf = load_glyph_classifier()

    @torch.no_grad()
    def feats(x: torch.Tensor) -> np.ndarray:
        out = [clf.features(glyph_crops(c, crop)).double() for c in x.split(64)]
        return torch.cat(out).numpy()

    value = frechet_distance(feats(real), feats(fake)).fid
    protocol = MetricProtocol(
        feature_extractor="glyph",
        weights_sha256=GLYPH_CLASSIFIER_SHA256,
        preprocessing=f"per frame: centroid crop of side {crop:.4g} x frame, bilinear to 28x28",
        num_real=len(real) * real.shape[1],
        num_fake=len(fake) * fake.shape[1],
        options={"unit": "frame"},
    )
    return MetricResult("frame_fid", float(value), protocol)

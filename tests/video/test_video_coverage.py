"""Label-free coverage on clips: a feature network or nothing, never pixels."""

from __future__ import annotations

import logging

import torch
from torch import nn
from video_clips import clips

import gandiag
from gandiag import signals as S
from gandiag.monitor import Cadence
from gandiag.monitor.coverage import NO_EMBEDDING, coverage_scalars, pooled_pixels, resolve_features
from gandiag.store import RunReader


class _G(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 8 * 32 * 32)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.lin(z)).view(-1, 8, 1, 32, 32)


class _ClipAndLabelD(nn.Module):
    """Like DVD-GAN's D_S and D_T: scores a clip only with its labels."""

    def __init__(self) -> None:
        super().__init__()
        self.flat = nn.Flatten()
        self.lin = nn.Linear(8 * 32 * 32, 1)

    def forward(self, video: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.lin(self.flat(video)).view(-1) + 0.0 * y


def _coverage_names(tmp_path, features=None) -> set[str]:
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=_G(),
        discriminator={"D_S": _ClipAndLabelD(), "D_T": _ClipAndLabelD()},
        loss="hinge",
        latent_dim=4,
        detectors=None,
        features=features,
        cadence=Cadence(
            samples=1,
            layers=0,
            grid=0,
            flush=1,
            coverage=2,
            coverage_reservoir=16,
            coverage_probe=12,
            coverage_bins=4,
        ),
    )
    with mon:
        for step in range(5):
            real, _ = clips(8, seed=step)
            scores = torch.zeros(8)
            mon.step(
                step,
                {"G": 1.0, "D": 1.0},
                d_real=scores,
                d_fake=scores,
                real=real,
                fake=real,
            )
    with RunReader(tmp_path / "run") as r:
        return {k for rec in r.read_records() for k in rec.scalars if k.startswith("coverage/")}


def test_clips_without_a_feature_network_get_no_coverage_signals(tmp_path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="gandiag"):
        assert _coverage_names(tmp_path) == set()
    assert "coverage probe off for clips" in caplog.text and "features=" in caplog.text


def test_clips_with_a_feature_network_get_coverage_signals(tmp_path) -> None:
    def motion_and_brightness(x: torch.Tensor) -> torch.Tensor:
        step = (x[:, 1:] - x[:, :-1]).abs().mean((1, 2, 3, 4))
        return torch.stack([step, x.mean((1, 2, 3, 4))], 1)

    names = _coverage_names(tmp_path, features=motion_and_brightness)
    assert {S.COVERAGE_TOP_BIN_EXCESS, S.COVERAGE_RECALL} <= names


def test_only_clips_lose_the_pixel_fallback() -> None:
    assert resolve_features(None, (8, 1, 32, 32), {}) == (None, NO_EMBEDDING)
    fn, name = resolve_features(None, (1, 32, 32), {})
    assert (fn, name) == (pooled_pixels, "pooled_pixels")


def test_pixels_read_blur_as_concentration_on_clips() -> None:
    # why clips have no pixel fallback: moving-glyph clips of every class, blurred and
    # dimmed, pile into one region of the whole-clip pixel space (the evidence
    # sample_coverage reads), while clips that keep their sharpness do not
    real, _ = clips(512, seed=0)  # the Monitor's reservoir, probe and bins
    other, _ = clips(256, seed=1)
    k = torch.exp(-torch.arange(-4, 5.0).pow(2) / 8.0)
    k = (k / k.sum()).view(1, 1, 1, 9)
    b, t, c, h, w = other.shape
    x = torch.nn.functional.pad(other.reshape(-1, 1, h, w) + 1, (4, 4, 0, 0), mode="replicate")
    x = torch.nn.functional.conv2d(x, k)
    x = torch.nn.functional.pad(x, (0, 0, 4, 4), mode="replicate")
    blurred = torch.nn.functional.conv2d(x, k.transpose(2, 3)).reshape(b, t, c, h, w) * 0.6 - 1

    def excess(fake: torch.Tensor) -> float:
        s = coverage_scalars(
            pooled_pixels(real).double().numpy(), pooled_pixels(fake).double().numpy(), 16, 0
        )
        return s[S.COVERAGE_TOP_BIN_EXCESS]

    assert excess(blurred) > 0.3  # sample_coverage's excess_min
    assert excess(other) < 0.1

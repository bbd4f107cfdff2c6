"""The Monitor takes clip batches [B, T, C, H, W] and watches each discriminator."""

import pytest
import torch
from torch import nn
from video_clips import clips, frozen

import gandiag
from gandiag import signals as S
from gandiag.monitor import Cadence
from gandiag.store import RunReader


class _G(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 8 * 32 * 32)

    def forward(self, z):
        return torch.tanh(self.lin(z)).view(-1, 8, 1, 32, 32)


def _d():
    return nn.Sequential(nn.Flatten(), nn.Linear(8 * 32 * 32, 1))


def _monitor(tmp_path):
    return gandiag.Monitor(
        tmp_path / "run",
        generator=_G(),
        discriminator={"D_S": _d(), "D_T": _d()},
        loss="hinge",
        detectors=None,
        cadence=Cadence(samples=1, layers=1, grid=0, flush=1),
        latent_dim=4,
    )


def test_video_and_per_discriminator_signals_are_recorded(tmp_path):
    real, y = clips(12, seed=1)
    fake_src, _ = clips(12, seed=2)
    fake = frozen(fake_src, None)
    d_real = {"D_S": torch.randn(12), "D_T": torch.full((12,), 0.5)}
    d_fake = {"D_S": torch.randn(12) - 1, "D_T": torch.full((12,), 0.5)}
    with _monitor(tmp_path) as mon:
        mon.step(
            0,
            {"G": 1.0, "D_S": 1.0, "D_T": 2.0},
            d_real=d_real,
            d_fake=d_fake,
            real=real,
            fake=fake,
            labels=y,
        )
    with RunReader(tmp_path / "run") as r:
        (rec,) = list(r.read_records())
    sc = rec.scalars
    assert sc[S.VIDEO_MOTION_RATIO] == 0.0  # frozen fakes
    assert sc[S.VIDEO_MOTION_REAL] > 0
    assert sc[S.d_net("D_T", "real", "raw_std")] == 0.0
    assert sc[S.d_net("D_T", "fake", "raw_mean")] == pytest.approx(0.5)
    assert sc[S.d_net("D_S", "real", "raw_std")] > 0
    assert S.VIDEO_FLIP_REAL in sc and S.VIDEO_MOTION_DIVERSITY in sc


def test_clips_in_the_wrong_layout_are_refused(tmp_path):
    bad = torch.zeros(4, 1, 8, 32, 32)  # [B, C, T, H, W]: T = 1 frame, C = 8 channels
    with _monitor(tmp_path) as mon, pytest.raises(ValueError, match="transpose"):
        mon.step(0, {"G": 1.0}, d_real=torch.zeros(4), d_fake=torch.zeros(4), real=bad, fake=bad)

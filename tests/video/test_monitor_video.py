"""The Monitor takes clip batches [B, T, C, H, W] and watches each discriminator."""

import pytest
import torch
from torch import nn
from video_clips import clips, frozen

import gandiag
from gandiag import signals as S
from gandiag.monitor import Cadence
from gandiag.monitor.video import clip_class_counts
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


def _one_step(tmp_path, losses, d_real, d_fake, real, fake, labels) -> dict[str, float]:
    """The scalars the Monitor records for one step of these clips."""
    with _monitor(tmp_path) as mon:
        mon.step(0, losses, d_real=d_real, d_fake=d_fake, real=real, fake=fake, labels=labels)
    with RunReader(tmp_path / "run") as r:
        (rec,) = list(r.read_records())
    return rec.scalars


def test_video_and_per_discriminator_signals_are_recorded(tmp_path):
    real, y = clips(12, seed=1)
    fake_src, _ = clips(12, seed=2)
    fake = frozen(fake_src, None)
    d_real = {"D_S": torch.randn(12), "D_T": torch.full((12,), 0.5)}
    d_fake = {"D_S": torch.randn(12) - 1, "D_T": torch.full((12,), 0.5)}
    sc = _one_step(tmp_path, {"G": 1.0, "D_S": 1.0, "D_T": 2.0}, d_real, d_fake, real, fake, y)
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


def test_clip_class_counts_follow_legible_frames():
    preds = torch.tensor([[2, 2, 2, 2, 5, 5, 5, 5], [1, 1, 1, 7, 7, 7, 7, 7], [4] * 8])
    legible = torch.tensor(
        [
            [1, 1, 1, 1, 0, 0, 0, 0],  # half legible, all 2: counts as 2
            [1, 1, 1, 1, 1, 0, 0, 0],  # 3 legible 1s against 2 legible 7s: counts as 1
            [1, 1, 1, 0, 0, 0, 0, 0],  # fewer than half legible: no class
        ],
        dtype=torch.bool,
    )
    counts = clip_class_counts(preds, legible, 10)
    assert counts.tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0]


def test_class_counts_are_recorded_per_class(tmp_path):
    real, y = clips(12, seed=1)
    fake, _ = clips(12, seed=2)
    d_out = {"D_S": torch.randn(12), "D_T": torch.randn(12)}
    sc = _one_step(tmp_path, {"G": 1.0, "D_S": 1.0, "D_T": 1.0}, d_out, d_out, real, fake, y)
    real_counts = [sc[S.video_class_real(k)] for k in range(10)]
    fake_counts = [sc[S.video_class_fake(k)] for k in range(10)]
    # real glyph clips are read: nearly all counted, each in its own class
    assert 10 <= sum(real_counts) <= 12 and 10 <= sum(fake_counts) <= 12
    assert sum(min(real_counts[k], int((y == k).sum())) for k in range(10)) >= 10

"""Tiny models and loops shared by the monitor tests (CPU, milliseconds per step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

import gandiag
from gandiag.detectors.base import Detector
from gandiag.types import Alert, Severity, StepRecord


class ConvG(nn.Module):
    def __init__(self, latent_dim: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(latent_dim, 8 * 4 * 4)
        self.net = nn.Sequential(
            nn.BatchNorm2d(8), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Tanh()
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 8, 4, 4))


class ConvD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.2),
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


class TinyVAE(nn.Module):
    def __init__(self, dim: int = 16, latent: int = 4) -> None:
        super().__init__()
        self.enc = nn.Linear(dim, 2 * latent)
        self.dec = nn.Linear(latent, dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode(z), mu, logvar


def data(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g) * 2 - 1


def gan_loop(
    steps: int,
    mon: gandiag.Monitor | None = None,
    *,
    seed: int = 0,
    batch: int = 16,
    lr: float = 2e-3,
    start: int = 0,
    models: tuple[nn.Module, nn.Module] | None = None,
    nan_at: int | None = None,
) -> tuple[nn.Module, nn.Module, list[Alert]]:
    """A standard non-saturating DCGAN loop; the monitor (if any) is called per step."""
    if models is None:
        if mon is not None:
            raise ValueError("pass the monitored models")
        torch.manual_seed(seed)
        models = (ConvG(), ConvD())
    G, D = models
    torch.manual_seed(seed + 1000)  # the loop's own randomness (latents, dropout)
    optG = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real_all = data(256, seed + 1)
    alerts: list[Alert] = []
    for step in range(start, start + steps):
        real = real_all[(step * batch) % 256 : (step * batch) % 256 + batch]
        z = torch.randn(batch, 8)
        fake = G(z)
        optD.zero_grad()
        out_real, out_fake = D(real), D(fake.detach())
        loss_d = bce(out_real, torch.ones_like(out_real)) + bce(
            out_fake, torch.zeros_like(out_fake)
        )
        if nan_at is not None and step == nan_at:
            loss_d = loss_d * float("nan")
        loss_d.backward()
        optD.step()
        optG.zero_grad()
        out_g = D(fake)
        loss_g = bce(out_g, torch.ones_like(out_g))
        loss_g.backward()
        optG.step()
        if mon is not None:
            alerts += mon.step(
                step,
                losses={"G": loss_g, "D": loss_d},
                d_real=out_real,
                d_fake=out_fake,
                real=real,
                fake=fake,
            )
    return G, D, alerts


class ThresholdDetector(Detector):
    """Test detector: alerts when a scalar crosses a threshold; counts records it saw."""

    name = "test_threshold"

    def __init__(self, signal: str = "loss/D", threshold: float = 1.2) -> None:
        self.signal, self.threshold = signal, threshold
        self.seen = 0
        self.above = 0

    def update(self, record: StepRecord) -> list[Alert]:
        self.seen += 1
        v = record.scalars.get(self.signal)
        if v is None:
            return []
        if not (v <= self.threshold):  # NaN counts as above
            self.above += 1
            if self.above % 3 == 1:
                return [
                    Alert(
                        self.name,
                        Severity.WARNING,
                        record.step,
                        record.step,
                        f"{self.signal} above {self.threshold}",
                        {self.signal: v, "count": float(self.above)},
                    )
                ]
        return []

    def state_dict(self) -> dict[str, Any]:
        return {"seen": self.seen, "above": self.above}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seen, self.above = int(state["seen"]), int(state["above"])

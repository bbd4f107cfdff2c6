"""A short monitored GAN run with one alert and one metric, shared by the sink and export tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))
from monitor_toy import ConvD, ConvG, ThresholdDetector, gan_loop

import gandiag
from gandiag.monitor import Cadence
from gandiag.types import MetricProtocol, MetricResult

STEPS = 12


def monitored_run(run_dir: Path, sinks: list[Any]) -> gandiag.Monitor:
    """12 steps, histograms every 4, grids every 6, an alert whenever loss/D > 0 (always)."""
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    mon = gandiag.Monitor(
        run_dir,
        generator=G,
        discriminator=D,
        latent_dim=8,
        detectors=[ThresholdDetector("loss/D", threshold=0.0)],
        cadence=Cadence(layers=2, samples=4, histograms=4, grid=6, flush=3),
        quiet=True,
        sinks=sinks,
    )
    gan_loop(STEPS, mon, models=(G, D))
    protocol = MetricProtocol(feature_extractor="test", num_real=10, num_fake=10)
    mon.log_metrics([MetricResult("fid", 12.5, protocol, uncertainty=0.5, step=STEPS - 1)])
    mon.close()
    return mon

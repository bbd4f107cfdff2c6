"""How often the monitor measures each family of signals.

The defaults keep the monitor's cost near 1% of a small CPU GAN step (see
``bench/monitor_overhead.py``): the signals that are nearly free after a backward
pass (losses, global gradient norms, discriminator-output summaries) are taken every
step; the ones that cost a pass over the weights or a probe forward are taken every
few dozen steps; sample grids every few hundred.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Cadence:
    """Intervals, in training steps, of each family of signals (0 disables a family).

    A family is measured at steps where ``step % interval == 0``.
    """

    #: per-layer gradient norms and non-finite counts, weight norms, update-to-weight
    #: ratio and update cosine (the last two need the two preceding steps too)
    layers: int = 50
    #: histograms of discriminator outputs (``d/real/prob``, ``d/fake/prob``)
    histograms: int = 50
    #: batch sample statistics, latent sensitivity, VAE active units, per-dimension KL,
    #: decoder sensitivity
    samples: int = 50
    #: sample grids from the fixed latent batch
    grid: int = 500
    #: label-free coverage (gandiag/monitor/coverage.py): the real reservoir and the fixed
    #: probe batch of fakes embedded, PRDC and k-means bin occupancy computed
    coverage: int = 250
    #: steps buffered on the device between two flushes (one host sync, one write,
    #: one all-reduce under torch.distributed); alerts arrive at most this late
    flush: int = 50
    #: also flush when the oldest buffered step is this old, so a slow loop still shows
    #: live data (single process only: ranks must flush at the same steps)
    flush_seconds: float = 10.0
    #: size of the fixed probe batch (latent sensitivity, active units)
    probe_size: int = 64
    #: images in a sample grid (points in a 2-D scatter are 8 times as many)
    grid_size: int = 64
    #: bins of each histogram
    hist_bins: int = 20
    #: at most this many samples of a batch enter the pairwise sample statistics
    max_pairwise: int = 256
    #: real samples kept in the coverage reservoir (uniform over every real batch seen)
    coverage_reservoir: int = 512
    #: fakes in the coverage probe batch (fixed latents)
    coverage_probe: int = 256
    #: k-means bins of the real features (NDB); fewer when the reservoir holds < 10 per bin
    coverage_bins: int = 16

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Cadence.{f.name} must be a number, got {value!r}")
            if value < 0:
                raise ValueError(f"Cadence.{f.name} must be >= 0 (0 disables), got {value}")
        for name in (
            "flush",
            "probe_size",
            "grid_size",
            "hist_bins",
            "max_pairwise",
            "coverage_reservoir",
            "coverage_probe",
            "coverage_bins",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"Cadence.{name} must be >= 1, got {getattr(self, name)}")
        if self.probe_size < 2 or self.max_pairwise < 2:
            raise ValueError("Cadence.probe_size and Cadence.max_pairwise must be >= 2")

    def due(self, family: str, step: int) -> bool:
        """Whether ``family`` ("layers", "histograms", "samples", "grid", "coverage") is due."""
        every = int(getattr(self, family))
        return every > 0 and step % every == 0
